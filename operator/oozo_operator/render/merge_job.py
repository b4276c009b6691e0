"""Job NAME-merge-<hash>: the last step of a parallel build staged in S3 (docs/operator.md,
"Parallel builds"). Its shards mount no corpus volume, so none of them can publish; once the
Indexed Job has completed (every shard staged), the operator creates this Job (merging.py),
which mounts the volume and runs the one-pod index pod with `--merge --shards N`: it reads the
same source to name the build, merges the shards staged under that build from the bucket,
builds FAISS and BM25, runs the quality gate, publishes one version and removes the build's
staging. Its termination message is the build result status.index reports, as the index Job's.

Named from the index hash as the index Job is, so a retried reconcile finds it instead of
merging twice; owned by the corpus and removed after ttlSecondsAfterFinished like the index Job."""

from __future__ import annotations

from typing import Any

from oozo_contract.index_settings import IndexSettings
from oozo_contract.settings import env_for
from oozo_operator.render import job, staging
from oozo_operator.render import labels as L
from oozo_operator.render.corpus import Corpus


def name(corpus: Corpus) -> str:
    return name_for(corpus.name, corpus.index_hash)


def name_for(instance: str, index_hash: str) -> str:
    """As long as the index Job's name (NAME-index-<hash>): within the same bounds."""
    return f"{instance}-merge-{index_hash}"


def render(corpus: Corpus, serving_version: str | None = None) -> dict[str, Any]:
    """`serving_version`: the version the Deployment serves when the merge starts, which the
    publish's retention keeps (job.index_env)."""
    extra = {L.INDEX_HASH: corpus.index_hash}
    spec = job.job_spec(corpus, {**L.labels(corpus, L.MERGE), **extra}, serving_version)
    merging = env_for(IndexSettings, shards=job.parallelism(corpus), merge=True)
    job.add_env(spec, merging, staging.env(corpus))
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": L.metadata(corpus, name(corpus), L.MERGE, **extra),
        "spec": spec,
    }

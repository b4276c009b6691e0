"""Job NAME-index-<hash>: builds one index version for one (source, chunking, embedding, index
type). The hash in the name makes the build idempotent: a retried reconcile, or a restarted
operator, finds the Job it created instead of starting a second build.

Sources: configMap (a volume of its files; binaryData keys become files) and pvc (mounted
read-only at the given path) are mounted into the `index` container; s3, http and git are
fetched first by the `fetch` init container into the source cache on the index volume
(render/fetch.py), which the `index` container then indexes."""

from __future__ import annotations

import copy
import math
from typing import Any

from kubernetes.utils.quantity import parse_quantity

from oozo_contract.index_settings import IndexSettings
from oozo_contract.results import QUALITY_GATE_EXIT_CODE
from oozo_contract.settings import env_for
from oozo_operator.api.spec import Index
from oozo_operator.render import embedding, fetch, pod, staging
from oozo_operator.render import labels as L
from oozo_operator.render.corpus import INDEX_DIR, SOURCE_DIR, TERMINATION_LOG, Corpus

CONTAINER = "index"
EVALUATION_DIR = "/etc/oozo/evaluation"  # spec.evaluation's ConfigMap, read-only
DEFAULT_RESOURCES = {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"memory": "4Gi"}}


def source_dir(corpus: Corpus) -> str:
    """The folder the index container indexes: the mounted source, or the fetched one."""
    return fetch.files_dir(corpus) if corpus.spec.source.fetched else SOURCE_DIR


def index_env(corpus: Corpus, serving_version: str | None = None) -> dict[str, str]:
    """`serving_version`: the version the Deployment serves when the Job is created, which the
    build's retention must keep even when it is not the index's `current` (a build whose result
    the operator did not adopt), and spec.index.pinnedVersion, which the server may be rolled
    back to at any time. Neither is part of the index hash: the Job's name, and so whether a
    build runs, never depends on them."""
    spec = corpus.spec
    keep = [v for v in dict.fromkeys((serving_version, spec.index.pinned_version)) if v]
    pinned: dict[str, Any] = {"pinned_versions": keep} if keep else {}
    if spec.source.fetched:
        pinned["fetch_result_file"] = fetch.result_file(corpus)
    if spec.chunking.max_tokens is not None:  # unset: the model's own max sequence length
        pinned["chunk_max_tokens"] = spec.chunking.max_tokens
    pinned.update(_index_params(spec.index))
    if spec.evaluation:
        pinned["evaluation_questions"] = f"{EVALUATION_DIR}/{spec.evaluation.questions.key}"
        pinned["evaluation_min_hit_at5"] = spec.evaluation.min_hit_at5
        pinned["evaluation_max_regression"] = spec.evaluation.max_regression
        if serving_version:  # what the gate compares with: the served version, whatever `current` says
            pinned["evaluation_baseline_version"] = serving_version
    return env_for(
        IndexSettings,
        source=source_dir(corpus),
        index_dir=INDEX_DIR,
        model=spec.embedding.model,
        batch_size=spec.embedding.batch_size,
        chunk_size=spec.chunking.size,
        chunk_overlap=spec.chunking.overlap,
        include=list(spec.source.include),
        index_type=spec.index.type,
        keep_versions=spec.index.keep_versions,
        termination_message_path=TERMINATION_LOG,
        **pinned,
        **embedding.settings_values(spec.embedding),
        **embedding.hub_index_values(spec.embedding, corpus.settings.hub_endpoint),
    )


def _index_params(index: Index) -> dict[str, int]:
    """The index parameters the spec sets; unset ones are left to the build (docs/indexes.md)."""
    names = {
        "index_hnsw_m": index.hnsw and index.hnsw.m,
        "index_hnsw_ef_construction": index.hnsw and index.hnsw.ef_construction,
        "index_hnsw_ef_search": index.hnsw and index.hnsw.ef_search,
        "index_ivf_nlist": index.ivfpq and index.ivfpq.nlist,
        "index_ivf_nprobe": index.ivfpq and index.ivfpq.nprobe,
        "index_pq_m": index.ivfpq and index.ivfpq.m,
        "index_pq_nbits": index.ivfpq and index.ivfpq.nbits,
    }
    return {name: value for name, value in names.items() if value}


def _source_volume(corpus: Corpus) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(volumes, index container mounts) of a mounted source; none for a fetched one, which is
    on the index volume already."""
    source = corpus.spec.source
    mount: dict[str, Any] = {"name": "source", "mountPath": SOURCE_DIR, "readOnly": True}
    if source.config_map:
        return [{"name": "source", "configMap": {"name": source.config_map.name}}], [mount]
    if source.pvc:
        if source.pvc.path.strip("/"):
            mount["subPath"] = source.pvc.path.strip("/")
        claim = {"claimName": source.pvc.claim_name, "readOnly": True}
        return [{"name": "source", "persistentVolumeClaim": claim}], [mount]
    return [], []


def index_resources(corpus: Corpus) -> dict[str, Any]:
    """spec.index.resources (or the defaults) without the embedding's additions: what the
    `fetch` init container gets, which never runs the model."""
    return corpus.spec.index.resources.wire() if corpus.spec.index.resources else DEFAULT_RESOURCES


def model_resources(corpus: Corpus) -> dict[str, Any]:
    """The `index` container's resources: index_resources with spec.embedding.resources merged
    over them per key, so a GPU limit keeps the CPU and memory defaults instead of replacing them."""
    base = index_resources(corpus)
    extra = corpus.spec.embedding.resources.wire() if corpus.spec.embedding.resources else {}
    if not extra:
        return base
    sections = ("requests", "limits")
    merged = {s: {**base.get(s, {}), **extra.get(s, {})} for s in sections}
    return {s: merged[s] for s in sections if merged[s]}


def pod_template(
    corpus: Corpus, job_labels: dict[str, str], serving_version: str | None = None, unless_revision: str = ""
) -> dict[str, Any]:
    """The index pod, shared by the Job and the refresh CronJob; its result (version, counts)
    goes into status.index, and a fetch's (the source revision) into status.sourceRevision."""
    source_volumes, source_mounts = _source_volume(corpus)
    if (
        corpus.spec.evaluation
    ):  # the whole ConfigMap: a missing key is the runtime's clear error, not a mount failure
        name = corpus.spec.evaluation.questions.config_map
        source_volumes = [*source_volumes, {"name": "evaluation", "configMap": {"name": name}}]
        source_mounts = [
            *source_mounts,
            {"name": "evaluation", "mountPath": EVALUATION_DIR, "readOnly": True},
        ]
    model_volumes, model_mounts = embedding.model_volume(corpus.spec.embedding)
    source_volumes, source_mounts = [*source_volumes, *model_volumes], [*source_mounts, *model_mounts]
    inits, identity = [], None
    if corpus.spec.source.fetched:
        fetch_volumes, _ = fetch.volumes(corpus)
        source_volumes = [*source_volumes, *fetch_volumes]
        inits = [fetch.init_container(corpus, index_resources(corpus), unless_revision)]
        identity = corpus.spec.source.s3.service_account_name if corpus.spec.source.s3 else None
    return pod.job_pod(
        corpus,
        job_labels,
        container=CONTAINER,
        args=["index", source_dir(corpus), "--out", INDEX_DIR],
        env={**index_env(corpus, serving_version), **embedding.hub_job_env(corpus.spec.embedding)},
        resources=model_resources(corpus),
        index_read_only=False,
        mounts=source_mounts,
        volumes=source_volumes,
        init_containers=inits,
        service_account_name=identity,
        secret_env=[
            *embedding.api_key_env(corpus.spec.embedding),
            *embedding.model_s3_credentials_env(corpus.spec.embedding),
            *embedding.hub_token_env(corpus.spec.embedding),
        ],
        embeds=True,
    )


def job_spec(
    corpus: Corpus, job_labels: dict[str, str], serving_version: str | None = None, unless_revision: str = ""
) -> dict[str, Any]:
    s = corpus.settings
    gate: dict[str, Any] = {}
    if corpus.spec.evaluation:
        # A failed quality gate is a verdict, not a crash: the same inputs give the same scores, so
        # the Job fails at once instead of building twice more (backoffLimit).
        exit_codes = {"containerName": CONTAINER, "operator": "In", "values": [QUALITY_GATE_EXIT_CODE]}
        gate["podFailurePolicy"] = {"rules": [{"action": "FailJob", "onExitCodes": exit_codes}]}
    return {
        "backoffLimit": s.job_backoff_limit,
        **gate,
        "activeDeadlineSeconds": s.job_deadline_seconds,
        # Long enough for the operator to read the result after a restart; status.index keeps it after.
        "ttlSecondsAfterFinished": s.job_ttl_seconds,
        "template": pod_template(corpus, job_labels, serving_version, unless_revision),
    }


def parallelism(corpus: Corpus) -> int:
    build = corpus.spec.index.build
    return build.parallelism if build else 1


def sharded(
    spec: dict[str, Any],
    shards: int,
    staging_env: list[dict[str, Any]] | None = None,
    merge: bool = True,
) -> dict[str, Any]:
    """The index Job as an Indexed Job of `shards` pods, all at once (docs/operator.md, "Parallel
    builds"). Pod k gets JOB_COMPLETION_INDEX=k from the Job controller and stages shard k;
    with OOZO_MERGE (`merge`) the one that finds every shard staged merges and publishes, so no
    pod waits; without it (S3 staging: the shards mount no corpus volume to publish on) a merge
    Job does once all have staged (render/merge_job.py). Each index may fail `backoffLimit` times on its own
    (backoffLimitPerIndex, Kubernetes 1.29+), and the Job as a whole as many times per shard: an
    API server without per-index limits drops the field and keeps the global one."""
    out = copy.deepcopy(spec)
    retries = out["backoffLimit"]
    out.update(
        {
            "completionMode": "Indexed",
            "completions": shards,
            "parallelism": shards,
            "backoffLimitPerIndex": retries,
            "backoffLimit": retries * shards,
        }
    )
    extra = env_for(IndexSettings, shards=shards, **({"merge": True} if merge else {}))
    threads = str(shard_threads(index_container(out)["resources"]))
    extra |= {"OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}
    add_env(out, extra, staging_env or [])
    return out


def index_container(spec: dict[str, Any]) -> dict[str, Any]:
    """The `index` container of a Job spec rendered by `job_spec`."""
    (container,) = [c for c in spec["template"]["spec"]["containers"] if c["name"] == CONTAINER]
    return container


def add_env(spec: dict[str, Any], values: dict[str, str], entries: list[dict[str, Any]]) -> None:
    """Appends `values` (name: value) and then `entries` (env entries as rendered, e.g. a
    secretKeyRef) to the index container's env, in that order."""
    container = index_container(spec)
    container["env"] = [
        *container["env"],
        *({"name": k, "value": v} for k, v in values.items()),
        *entries,
    ]


def shard_threads(resources: dict[str, Any]) -> int:
    """Threads one shard pod embeds with: its CPU limit, else its CPU request, rounded up (at least
    one). Shard pods often share a node (all of them, on a ReadWriteOnce volume), and torch without
    a count starts a thread per core of the node in each: N shards on one node then run N threads
    per core and lose to the switching (docs/capacity.md). torch and MKL read these at start."""
    for section in ("limits", "requests"):
        cpu = (resources.get(section) or {}).get("cpu")
        if cpu is not None:
            return max(1, math.ceil(parse_quantity(str(cpu))))
    return 1


def render(corpus: Corpus, serving_version: str | None = None) -> dict[str, Any]:
    """The Job is created once under its hashed name (never re-applied), so the serving version
    it pins is the one at its creation: the version a running build must not delete. With
    spec.index.build.parallelism above 1 it is an Indexed Job (`sharded`); the refresh CronJob
    builds in one pod. With S3 staging its shard pods mount no corpus volume (staging.volume_free)
    and the Job is labelled so that the operator merges it with a second Job."""
    extra = {L.INDEX_HASH: corpus.index_hash}
    pod_labels = {**L.labels(corpus, L.INDEX), **extra}
    spec = job_spec(corpus, pod_labels, serving_version)
    shards = parallelism(corpus)
    apart = staging.merges_apart(corpus)
    if shards > 1:
        spec = sharded(spec, shards, staging.env(corpus), merge=not apart)
    if apart:
        spec = staging.volume_free(spec, corpus)
        extra = {**extra, L.STAGING: "s3"}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": L.metadata(corpus, corpus.job_name, L.INDEX, **extra),
        "spec": spec,
    }

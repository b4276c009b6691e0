"""Job NAME-index-<hash>: builds one index version for one (source, chunking, embedding, index
type). The hash in the name makes the build idempotent: a retried reconcile, or a restarted
operator, finds the Job it created instead of starting a second build.

Sources: configMap (a volume of its files; binaryData keys become files) and pvc (mounted
read-only at the given path) are supported. s3, http and git need a fetch step the runtime does
not ship yet; the operator reports them as Stalled/SourceNotSupported instead of rendering a
Job that cannot work (see `unsupported_source`)."""

from __future__ import annotations

from typing import Any

from oozo_contract.settings import IndexSettings, env_for
from oozo_operator.render import embedding, pod
from oozo_operator.render import labels as L
from oozo_operator.render.corpus import INDEX_DIR, SOURCE_DIR, TERMINATION_LOG, Corpus

CONTAINER = "index"
SUPPORTED_SOURCES = ("configMap", "pvc")
DEFAULT_RESOURCES = {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"memory": "4Gi"}}


def unsupported_source(corpus: Corpus) -> str | None:
    """A message when the corpus's source kind cannot be built by this release, else None."""
    kind = corpus.spec.source.kind
    if kind in SUPPORTED_SOURCES:
        return None
    return (
        f"spec.source.{kind} is accepted by the API but not fetched by this release of Oozo; "
        f"use {' or '.join(SUPPORTED_SOURCES)} (or copy the documents to a PVC) for now"
    )


def index_env(corpus: Corpus) -> dict[str, str]:
    spec = corpus.spec
    return env_for(
        IndexSettings,
        source=SOURCE_DIR,
        index_dir=INDEX_DIR,
        model=spec.embedding.model,
        batch_size=spec.embedding.batch_size,
        chunk_size=spec.chunking.size,
        chunk_overlap=spec.chunking.overlap,
        include=list(spec.source.include),
        index_type=spec.index.type,
        keep_versions=spec.index.keep_versions,
        termination_message_path=TERMINATION_LOG,
        **embedding.settings_values(spec.embedding),
    )


def _source_volume(corpus: Corpus) -> tuple[dict[str, Any], dict[str, Any]]:
    source = corpus.spec.source
    mount: dict[str, Any] = {"name": "source", "mountPath": SOURCE_DIR, "readOnly": True}
    if source.config_map:
        return {"name": "source", "configMap": {"name": source.config_map.name}}, mount
    assert source.pvc, "unsupported sources never reach the renderer"
    if source.pvc.path.strip("/"):
        mount["subPath"] = source.pvc.path.strip("/")
    return {
        "name": "source",
        "persistentVolumeClaim": {"claimName": source.pvc.claim_name, "readOnly": True},
    }, mount


def pod_template(corpus: Corpus, job_labels: dict[str, str]) -> dict[str, Any]:
    """The index pod, shared by the Job and the refresh CronJob; its result (version, counts)
    goes into status.index."""
    source_volume, source_mount = _source_volume(corpus)
    return pod.job_pod(
        corpus,
        job_labels,
        container=CONTAINER,
        args=["index", SOURCE_DIR, "--out", INDEX_DIR],
        env=index_env(corpus),
        resources=corpus.spec.index.resources.wire() if corpus.spec.index.resources else DEFAULT_RESOURCES,
        index_read_only=False,
        mounts=[source_mount],
        volumes=[source_volume],
        secret_env=embedding.api_key_env(corpus.spec.embedding),
    )


def job_spec(corpus: Corpus, job_labels: dict[str, str]) -> dict[str, Any]:
    s = corpus.settings
    return {
        "backoffLimit": s.job_backoff_limit,
        "activeDeadlineSeconds": s.job_deadline_seconds,
        # Long enough for the operator to read the result after a restart; status.index keeps it after.
        "ttlSecondsAfterFinished": s.job_ttl_seconds,
        "template": pod_template(corpus, job_labels),
    }


def render(corpus: Corpus) -> dict[str, Any]:
    extra = {L.INDEX_HASH: corpus.index_hash}
    meta = L.metadata(corpus, corpus.job_name, L.INDEX, **extra)
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": meta,
        "spec": job_spec(corpus, {**L.labels(corpus, L.INDEX), **extra}),
    }

"""Job NAME-restore-<hash>: `oozo restore` of a backup into the index PVC, instead of the first
index build. Rendered only while the corpus has published nothing (status.index empty): once
a version is published, later source/chunking/embedding changes build normally. The hash
(of the S3 location and version) names the Job, so a retried reconcile finds it again. Its
termination message ({version, uri, sha256, sizeBytes, ...}) is read like an index result
into status.index, which drives the rollout."""

from __future__ import annotations

from typing import Any

from oozo_contract.backup_settings import RestoreSettings
from oozo_contract.settings import env_for
from oozo_operator.api.fields import SecretKeyRef
from oozo_operator.render import backup, job, pod
from oozo_operator.render import labels as L
from oozo_operator.render.corpus import INDEX_DIR, TERMINATION_LOG, Corpus, short_hash

CONTAINER = "restore"
RESTORE_HASH = "rag.oozo.dev/restore-hash"


def wanted(corpus: Corpus, published: dict[str, Any] | None) -> bool:
    r = corpus.spec.restore
    return r is not None and r.s3 is not None and not published


def restore_hash(corpus: Corpus) -> str:
    r = corpus.spec.restore
    assert r is not None and r.s3 is not None
    return short_hash({"s3": r.s3.wire(), "version": r.version})[:10]


def name(corpus: Corpus) -> str:
    return f"{corpus.name}-restore-{restore_hash(corpus)}"


def restore_uri(corpus: Corpus) -> str:
    r = corpus.spec.restore
    assert r is not None and r.s3 is not None
    return f"{backup.s3_uri(corpus, r.s3)}@{r.version}"


def restore_env(corpus: Corpus) -> dict[str, str]:
    r = corpus.spec.restore
    assert r is not None and r.s3 is not None
    return env_for(
        RestoreSettings,
        index_dir=INDEX_DIR,
        restore_uri=restore_uri(corpus),
        # Another corpus's backups are refused unless spec.restore.fromCorpus names it.
        restore_owner=corpus.uid,
        restore_owner_corpus=backup.owner_corpus(corpus),
        **({"restore_from_owner": r.from_corpus} if r.from_corpus else {}),
        termination_message_path=TERMINATION_LOG,
        **backup.s3_settings(r.s3),
    )


def signing_key_ref(corpus: Corpus) -> SecretKeyRef | None:
    """spec.restore's own key, else the one spec.backup signs with."""
    r, b = corpus.spec.restore, corpus.spec.backup
    assert r is not None
    return r.signing_key_secret_ref or (b.signing_key_secret_ref if b is not None else None)


def job_labels(corpus: Corpus) -> dict[str, str]:
    return {**L.labels(corpus, L.RESTORE), RESTORE_HASH: restore_hash(corpus)}


def render(corpus: Corpus) -> dict[str, Any]:
    r = corpus.spec.restore
    assert r is not None and r.s3 is not None
    labels = job_labels(corpus)
    s = corpus.settings
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": L.metadata(corpus, name(corpus), L.RESTORE, **{RESTORE_HASH: restore_hash(corpus)}),
        "spec": {
            "backoffLimit": s.job_backoff_limit,
            "activeDeadlineSeconds": s.job_deadline_seconds,
            "ttlSecondsAfterFinished": s.job_ttl_seconds,
            "template": pod.job_pod(
                corpus,
                labels,
                container=CONTAINER,
                args=["restore"],  # everything else is OOZO_* env (RestoreSettings)
                env=restore_env(corpus),
                secret_env=[*backup.s3_env(r.s3), *backup.signing_env(signing_key_ref(corpus))],
                # The index Job's: after unpacking, the restore loads the embedding model to
                # export the version's ONNX query graph again (runtime backup/query_graph.py).
                resources=job.index_resources(corpus),
                index_read_only=False,
            ),
        },
    }

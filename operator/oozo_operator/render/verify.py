"""CronJob NAME-verify: restore drills (spec.backup.verify). `oozo verify-backup` restores the newest
backup of spec.backup.s3 into scratch space, checks every checksum, loads it as the server loads
it and answers spec.evaluation's golden questions (else a few sampled chunks' own text).

The pod never mounts the index volume: it restores into an emptyDir bounded by the index's own
size, so a drill can neither touch nor read what serves. Its embedding settings are the server's
(envFrom the server's ConfigMap NAME-config: the model of the published index, the retrieval
mode), so "it loads" means "the server would load it"; the S3 location, owner and signing key
are the backup's. The pod hardening, labels and CronJob shape are the backup's (render/backup.py).
Its result goes into status.lastVerifiedBackup and the BackupVerified condition (drill.py)."""

from __future__ import annotations

from typing import Any

from oozo_contract.backup_settings import VERIFY_SCRATCH_DIR, VerifySettings
from oozo_contract.settings import env_for
from oozo_operator.render import backup, deployment, embedding, job, pod
from oozo_operator.render import labels as L
from oozo_operator.render.corpus import TERMINATION_LOG, Corpus

CONTAINER = "verify"


def wanted(corpus: Corpus) -> bool:
    b = corpus.spec.backup
    return backup.wanted(corpus) and b is not None and b.verify is not None


def name(corpus: Corpus) -> str:
    return f"{corpus.name}-verify"


def verify_env(corpus: Corpus) -> dict[str, str]:
    b, spec = corpus.spec.backup, corpus.spec
    assert b is not None and b.s3 is not None
    questions: dict[str, Any] = {}
    if spec.evaluation:
        questions["evaluation_questions"] = f"{job.EVALUATION_DIR}/{spec.evaluation.questions.key}"
        questions["evaluation_min_hit_at5"] = spec.evaluation.min_hit_at5
    return env_for(
        VerifySettings,
        index_dir=VERIFY_SCRATCH_DIR,
        restore_uri=backup.s3_uri(corpus, b.s3),  # the newest backup (PREFIX/latest)
        # Only this corpus's own backups: the same owner check as a restore.
        restore_owner=corpus.uid,
        restore_owner_corpus=backup.owner_corpus(corpus),
        termination_message_path=TERMINATION_LOG,
        **questions,
        **backup.s3_settings(b.s3),
    )


def pod_template(corpus: Corpus, job_labels: dict[str, str]) -> dict[str, Any]:
    b = corpus.spec.backup
    assert b is not None and b.s3 is not None
    scratch = {"name": "scratch", "emptyDir": {"sizeLimit": corpus.spec.index.storage.size}}
    mounts: list[dict[str, Any]] = [{"name": "scratch", "mountPath": str(VERIFY_SCRATCH_DIR)}]
    volumes = [scratch]
    if corpus.spec.evaluation:
        config_map = {"name": corpus.spec.evaluation.questions.config_map}
        volumes.append({"name": "evaluation", "configMap": config_map})
        mounts.append({"name": "evaluation", "mountPath": job.EVALUATION_DIR, "readOnly": True})
    rt = corpus.spec.runtime
    return pod.job_pod(
        corpus,
        job_labels,
        container=CONTAINER,
        args=["verify-backup"],  # everything else is OOZO_* env (VerifySettings)
        env_from=[{"configMapRef": {"name": corpus.config_name}}],
        env=verify_env(corpus),
        secret_env=[
            *backup.s3_env(b.s3),
            *backup.signing_env(b.signing_key_secret_ref),
            *embedding.api_key_env(corpus.spec.embedding),
        ],
        # It loads what one server replica loads: the index and the query encoder.
        resources=rt.resources.wire() if rt.resources else deployment.DEFAULT_RESOURCES,
        index_read_only=True,
        mount_index=False,
        mounts=mounts,
        volumes=volumes,
    )


def render(corpus: Corpus) -> dict[str, Any]:
    b = corpus.spec.backup
    assert b is not None and b.verify is not None
    template = pod_template(corpus, L.labels(corpus, L.VERIFY))
    return backup.scheduled_job(corpus, name(corpus), L.VERIFY, b.verify.schedule, template)

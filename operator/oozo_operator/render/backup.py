"""CronJob NAME-backup: `oozo backup` of the published index to S3 on a schedule.

The index PVC is mounted read-only: a backup only reads the published version. Settings go
in as environment rendered from `oozo_contract.backup_settings.BackupSettings` (the runtime's
contract); S3 credentials come from `spec.backup.s3.credentialsSecret` as the standard AWS
variables, read from the Secret keys of the same names (AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY, and an optional AWS_SESSION_TOKEN). The Jobs carry the corpus's labels
(component=backup), so the operator's Job and Pod watches see them and read the result from
the termination message into status.lastBackup and the BackupSucceeded condition."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from oozo_contract.backup_settings import BackupSettings
from oozo_contract.settings import env_for, env_name
from oozo_operator.api.backup_spec import BackupLocation
from oozo_operator.api.fields import S3Location, SecretKeyRef
from oozo_operator.render import labels as L
from oozo_operator.render import pod
from oozo_operator.render.corpus import INDEX_DIR, TERMINATION_LOG, Corpus

CONTAINER = "backup"
# Memory is bounded whatever the index size (a 32 MiB pipe, six 16 MiB parts in flight): peak
# RSS 259 MiB for backup, 109 MiB for restore (docs/backup.md#performance). No CPU limit: a
# backup uses idle CPU to finish sooner (packing, hashing and sending run on separate threads).
RESOURCES = {"requests": {"cpu": "250m", "memory": "320Mi"}, "limits": {"memory": "1Gi"}}
# The Secret keys the operator reads: the AWS variable names themselves.
SECRET_KEYS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
OPTIONAL_SECRET_KEYS = ("AWS_SESSION_TOKEN",)
JOB_TTL_SECONDS = 86400
BACKOFF_LIMIT = 2


def wanted(corpus: Corpus) -> bool:
    b = corpus.spec.backup
    return b is not None and b.s3 is not None


def name(corpus: Corpus) -> str:
    return f"{corpus.name}-backup"


def prefix(corpus: Corpus, loc: BackupLocation) -> str:
    """The prefix given, or `<namespace>/<name>`: never the bucket's root, whose other objects a
    backup's retention would share a listing with."""
    return (loc.prefix or "").strip("/") or f"{corpus.namespace}/{corpus.name}"


def s3_uri(corpus: Corpus, loc: BackupLocation) -> str:
    return f"s3://{loc.bucket}/{prefix(corpus, loc)}"


def owner_corpus(corpus: Corpus) -> str:
    return f"{corpus.namespace}/{corpus.name}"


def s3_env(loc: S3Location, names: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """AWS credentials from the referenced Secret, by secretKeyRef (never copied), as the AWS
    variables of the same names, or as the variables `names` maps each Secret key to."""
    if not loc.credentials_secret:
        return []
    out: list[dict[str, Any]] = []
    for key in (*SECRET_KEYS, *OPTIONAL_SECRET_KEYS):
        ref: dict[str, Any] = {"name": loc.credentials_secret, "key": key}
        if key in OPTIONAL_SECRET_KEYS:
            ref["optional"] = True
        out.append({"name": (names or {}).get(key, key), "valueFrom": {"secretKeyRef": ref}})
    return out


def signing_env(ref: SecretKeyRef | None) -> list[dict[str, Any]]:
    """The backup signing key (OOZO_BACKUP_SIGNING_KEY, the same for backup and restore) from
    its Secret by secretKeyRef: the operator never reads it, and a pod cannot start without it,
    so a missing key never means an unsigned backup."""
    if ref is None:
        return []
    return [
        {
            "name": env_name(BackupSettings, "backup_signing_key"),
            "valueFrom": {"secretKeyRef": {"name": ref.name, "key": ref.key}},
        }
    ]


def s3_settings(loc: S3Location) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if loc.endpoint:
        out["s3_endpoint"] = loc.endpoint
    if loc.region:
        out["s3_region"] = loc.region
    return out


def backup_env(corpus: Corpus) -> dict[str, str]:
    b = corpus.spec.backup
    assert b is not None and b.s3 is not None
    return env_for(
        BackupSettings,
        index_dir=INDEX_DIR,
        backup_uri=s3_uri(corpus, b.s3),
        # The uid tells this corpus from a same-named successor; PREFIX/oozo-owner.json records it.
        backup_owner=corpus.uid,
        backup_owner_corpus=owner_corpus(corpus),
        backup_keep_last=b.retention.keep_last,
        backup_upload_checksum=b.upload_checksum,
        termination_message_path=TERMINATION_LOG,
        **s3_settings(b.s3),
    )


def pod_template(corpus: Corpus, job_labels: dict[str, str]) -> dict[str, Any]:
    """Its result ({time, uri, sha256, sizeBytes} or {error, reason}) goes into
    status.lastBackup and BackupSucceeded."""
    b = corpus.spec.backup
    assert b is not None and b.s3 is not None
    return pod.job_pod(
        corpus,
        job_labels,
        container=CONTAINER,
        args=["backup"],  # everything else is OOZO_* env (BackupSettings)
        env=backup_env(corpus),
        secret_env=[*s3_env(b.s3), *signing_env(b.signing_key_secret_ref)],
        resources=RESOURCES,
        index_read_only=True,  # a backup only reads the published version
    )


def render(corpus: Corpus) -> dict[str, Any]:
    b = corpus.spec.backup
    assert b is not None
    job_labels = L.labels(corpus, L.BACKUP)
    return scheduled_job(corpus, name(corpus), L.BACKUP, b.schedule, pod_template(corpus, job_labels))


def scheduled_job(
    corpus: Corpus, cron_job_name: str, component: str, schedule: str, template: dict[str, Any]
) -> dict[str, Any]:
    """A CronJob of backup Jobs (the backup's, the restore drill's): never two at once, the last
    finished Job of each outcome kept, and a day for the operator to read its result."""
    job_labels = template["metadata"]["labels"]
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": L.metadata(corpus, cron_job_name, component),
        "spec": {
            "schedule": schedule,
            "concurrencyPolicy": "Forbid",
            "startingDeadlineSeconds": 300,
            "successfulJobsHistoryLimit": 1,
            "failedJobsHistoryLimit": 1,
            "jobTemplate": {
                "metadata": {"labels": job_labels},
                "spec": {
                    "backoffLimit": BACKOFF_LIMIT,
                    "activeDeadlineSeconds": corpus.settings.job_deadline_seconds,
                    # Long enough for the operator to read the result; status keeps it after.
                    "ttlSecondsAfterFinished": JOB_TTL_SECONDS,
                    "template": template,
                },
            },
        },
    }

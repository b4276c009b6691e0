# mypy (without pydantic's plugin) cannot type `default_factory=SomeModel`; the models are checked
# at runtime and by tests/unit/test_operator_crd.py instead.
# mypy: disable-error-code="arg-type"
"""spec.backup and spec.restore: where a corpus's backups live and which of them it keeps."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, ConfigDict, Field

from oozo_contract import defaults as d
from oozo_operator.api.base import ApiModel, cel, rules
from oozo_operator.api.fields import Cron, S3Location, SecretKeyRef

# A backup prefix names a folder of its own: never the whole bucket, which a backup's retention
# would then share with everything else in it (docs/backup.md#what-retention-deletes).
BACKUP_PREFIX_RULE = (
    "self.matches('^/*[^/]+(/[^/]+)*/*$') && !self.split('/').exists(p, p == '.' || p == '..')"
)
BACKUP_PREFIX_MESSAGE = (
    "must name a folder (e.g. team/handbook), without empty, '.' or '..' parts; leave prefix "
    "out for the default <namespace>/<name>"
)


def _backup_prefix(value: str) -> str:
    import re

    parts = value.strip("/").split("/")
    if not re.fullmatch(r"/*[^/]+(/[^/]+)*/*", value) or any(p in (".", "..") for p in parts):
        raise ValueError(BACKUP_PREFIX_MESSAGE)
    return value


BackupPrefix = Annotated[
    str,
    Field(max_length=1024, json_schema_extra=rules(cel(BACKUP_PREFIX_RULE, BACKUP_PREFIX_MESSAGE))),
    AfterValidator(_backup_prefix),
]


class BackupLocation(S3Location):
    """Where backups live: a bucket and a prefix of this corpus's own."""

    prefix: BackupPrefix | None = Field(  # type: ignore[assignment]
        None,
        description="Key prefix inside the bucket, e.g. team/handbook; when left out, the corpus's "
        "<namespace>/<name>. "
        "Everything under it is this corpus's: a second corpus writing the same prefix is refused "
        "(PrefixOwnedByAnother).",
    )


class Retention(ApiModel):
    """Which backups are kept."""

    keep_last: int = Field(
        d.BACKUP_KEEP_LAST, ge=1, le=1000, description="Newest backups kept; older ones are pruned."
    )


class BackupVerify(ApiModel):
    """Restore drills: the CronJob NAME-verify restores the newest backup into scratch space (an
    emptyDir, never the index volume), checks every checksum, loads it as the server would and
    answers spec.evaluation's golden questions (else sampled chunks' own text). The verdict is the
    BackupVerified condition and status.lastVerifiedBackup; it never changes Ready."""

    schedule: Cron = Field(description="Cron schedule of the restore drill CronJob NAME-verify.")


class Backup(ApiModel):
    """Scheduled backups of the published index to S3 by the CronJob NAME-backup."""

    model_config = ConfigDict(
        json_schema_extra=rules(cel("has(self.s3)", "backup needs an S3 target", ".s3"))
    )

    schedule: Cron = Field(description="Cron schedule of the backup CronJob NAME-backup.")
    s3: BackupLocation | None = Field(None, description="Where backups are written.")
    retention: Retention = Field(default_factory=Retention, description="Retention policy.")
    upload_checksum: d.UploadChecksum = Field(
        "crc32",
        description="How S3 checks each uploaded part: crc32 sends an x-amz-checksum-crc32 header "
        "that the server verifies; sha256 signs every body with SigV4 instead (more CPU on both "
        "ends), for S3-compatible servers that refuse x-amz-checksum headers.",
    )
    verify: BackupVerify | None = Field(
        None,
        description="Restore drills on a schedule: the newest backup is restored into scratch space, "
        "checked, loaded and queried (docs/backup.md#restore-drills).",
    )
    signing_key_secret_ref: SecretKeyRef | None = Field(
        None,
        description="Secret key holding an HMAC key (at least 16 characters, e.g. `openssl rand "
        "-hex 32`): every backup is signed with it, and a restore with the same key refuses a "
        "backup that is unsigned (SignatureMissing) or signed otherwise (SignatureInvalid), so "
        "whoever may write the bucket cannot plant an index. Also the key spec.restore checks "
        "with, unless spec.restore names its own.",
    )


class Restore(ApiModel):
    """Start from a backup instead of embedding the documents again: used only while the corpus has
    published no index yet (a restore Job NAME-restore-<hash> replaces the first index Job)."""

    model_config = ConfigDict(
        json_schema_extra=rules(cel("has(self.s3)", "restore needs an S3 source", ".s3"))
    )

    s3: BackupLocation | None = Field(None, description="Where the backups are.")
    version: str = Field(
        "latest",
        min_length=1,
        max_length=128,
        pattern=r"^[A-Za-z0-9._\-]+$",
        description="Index version, or latest.",
    )
    from_corpus: str | None = Field(
        None,
        max_length=317,
        pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?/[a-z0-9]([-.a-z0-9]*[a-z0-9])?$",
        description="namespace/name of the corpus whose backups these are, when it is not this one "
        "(a clone of another corpus): without it a restore of another corpus's backups is refused "
        "(PrefixOwnedByAnother). The same namespace/name counts as this corpus.",
    )
    signing_key_secret_ref: SecretKeyRef | None = Field(
        None,
        description="Secret key holding the HMAC key the backups were signed with: an unsigned or "
        "wrongly signed backup is refused before anything is unpacked. Defaults to "
        "spec.backup.signingKeySecretRef; with neither, backups are restored unsigned.",
    )

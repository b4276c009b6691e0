"""Settings of `oozo backup`, `oozo restore` and `oozo verify-backup`, as the operator renders them.

Every flag also comes from an OOZO_* variable, so the operator's CronJob and restore Job set
only environment (rendered with `oozo_contract.settings.env_for`). S3 credentials are not
settings: they come from the standard AWS variables or a mounted shared-credentials file,
wired by the operator from a Secret reference.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr

from oozo_contract import defaults as d
from oozo_contract.settings import EmbeddingSettings, OozoSettings

# An owner id: a Kubernetes uid, or any name a CLI user picks. It travels as S3 user metadata,
# which must be ASCII.
OWNER_ID = r"^[A-Za-z0-9][A-Za-z0-9._:@/-]{0,252}$"
CORPUS_NAME = r"^[a-z0-9][a-z0-9.-]{0,252}/[a-z0-9][a-z0-9.-]{0,252}$"
# The HMAC key of backup signatures: the same variable for `oozo backup` and `oozo restore`, set
# from a Secret by secretKeyRef (never a flag, which `ps` would show). SecretStr keeps it out of
# reprs; the runner reports invalid settings without their values.
SIGNING_KEY_MIN_CHARS = 16


def _signing_key_field() -> SecretStr | None:
    return Field(
        None,
        min_length=SIGNING_KEY_MIN_CHARS,
        description="HMAC-SHA256 key of backup signatures (at least 16 characters, e.g. "
        "`openssl rand -hex 32`): a backup signs its artifact with it, a restore refuses a backup "
        "that is unsigned (SignatureMissing) or signed otherwise (SignatureInvalid); unset, "
        "backups are neither signed nor checked",
    )


class S3Settings(OozoSettings):
    s3_endpoint: str | None = Field(
        None, description="S3-compatible endpoint URL (MinIO, Ceph, ...); empty means AWS S3"
    )
    s3_region: str | None = Field(None, description="region; defaults to the AWS chain, else us-east-1")
    index_dir: Path = Field(Path("/var/lib/oozo/index"), description="where versions are published")
    termination_message_path: Path | None = Field(
        None, description="where the JSON result is also written (Kubernetes termination message)"
    )


class BackupSettings(S3Settings):
    """`oozo backup --index INDEX_DIR --to s3://BUCKET/PREFIX`."""

    backup_uri: str = Field(
        description="s3://BUCKET/PREFIX that receives PREFIX/<VERSION>/...; the prefix is required"
    )
    backup_owner: str = Field(
        "cli",
        pattern=OWNER_ID,
        description="who writes the prefix, recorded in PREFIX/oozo-owner.json: the operator sets "
        "the corpus uid; a backup to a prefix another owner claimed is refused (PrefixOwnedByAnother)",
    )
    backup_owner_corpus: str | None = Field(
        None, pattern=CORPUS_NAME, description="<namespace>/<name> of the owning corpus, for people"
    )
    backup_keep_last: int = Field(d.BACKUP_KEEP_LAST, ge=0, description="complete backups kept; 0 keeps all")
    backup_compression_level: int = Field(
        -1,
        ge=-7,
        le=22,
        description="zstd level. At -1 the float32 vectors are stored as they are and text shrinks "
        "to ~1/3; level 1 saves ~8% of the vectors and a little text for twice the CPU",
    )
    backup_upload_checksum: d.UploadChecksum = Field(
        "crc32",
        description="how S3 checks each uploaded part: crc32 = an x-amz-checksum-crc32 header the "
        "server verifies (the body is not hashed into the signature); sha256 = a SigV4-signed body, "
        "for S3-compatible servers that refuse x-amz-checksum headers",
    )
    backup_signing_key: SecretStr | None = _signing_key_field()


class RestoreSettings(S3Settings):
    """`oozo restore --from s3://BUCKET/PREFIX[@VERSION|@latest] --index INDEX_DIR`."""

    restore_uri: str = Field(description="s3://BUCKET/PREFIX[@VERSION]; without a version, latest")
    restore_owner: str | None = Field(
        None,
        pattern=OWNER_ID,
        description="whom the restore is for (the operator sets the corpus uid): backups of another "
        "owner are refused unless restore_from_owner names it; empty restores any owner's backups",
    )
    restore_owner_corpus: str | None = Field(
        None,
        pattern=CORPUS_NAME,
        description="<namespace>/<name> of that corpus: the same name counts as the same corpus "
        "(a corpus recreated after a disaster has a new uid)",
    )
    restore_from_owner: str | None = Field(
        None,
        max_length=512,
        description="restore another owner's backups on purpose: its id or <namespace>/<name>, "
        "which must match the prefix's oozo-owner.json",
    )
    backup_signing_key: SecretStr | None = _signing_key_field()


# `oozo verify-backup` restores into scratch space, never into the index a server reads.
VERIFY_SCRATCH_DIR = Path("/var/lib/oozo/scratch")


class VerifySettings(RestoreSettings, EmbeddingSettings):
    """`oozo verify-backup --from s3://BUCKET/PREFIX --scratch DIR`: a restore drill. The embedding
    settings are the server's (the drill Job reads the server's ConfigMap), so the restored index is
    loaded and queried exactly as the server would load and query it."""

    index_dir: Path = Field(
        VERIFY_SCRATCH_DIR,
        description="scratch directory the backup is restored into (an emptyDir in a drill Job): "
        "never the index a server reads",
    )
    retrieval_mode: d.RetrievalMode = Field(d.RETRIEVAL_MODE, description="how the questions are searched")
    evaluation_questions: Path | None = Field(
        None,
        description="golden questions file (spec.evaluation's ConfigMap key): each is a hit when an "
        "expected document is in the top 5; without it, sampled chunks' own text is the query",
    )
    evaluation_min_hit_at5: float = Field(
        1.0, ge=0, le=1, description="share of golden questions that must hit for the drill to pass"
    )
    verify_samples: int = Field(
        d.VERIFY_SAMPLES,
        ge=1,
        le=d.VERIFY_SAMPLES_MAX,
        description="chunks sampled as queries when there are no golden questions; each must find "
        "its own chunk in the top 5",
    )

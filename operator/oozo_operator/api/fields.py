"""Field types and references that several parts of RagCorpus.spec share: cron schedules,
relative paths, Secret keys and S3 locations, with their CEL rules beside them."""

from __future__ import annotations

from typing import Annotated

from pydantic import ConfigDict, Field

from oozo_operator.api.base import DATA_KEY, ApiModel, ObjectName, cel, rules

# Five cron fields (minute hour day month weekday), each made of digits, names, * / , - ?,
# or one of the @ shortcuts the CronJob controller understands.
CRON_RULE = (
    r"self.matches('^(@(yearly|annually|monthly|weekly|daily|hourly)|"
    r"[0-9A-Za-z*?/,-]+(\\s+[0-9A-Za-z*?/,-]+){4})$')"
)
Cron = Annotated[
    str,
    Field(
        min_length=1,
        max_length=128,
        json_schema_extra=rules(
            cel(CRON_RULE, "must be a cron schedule of 5 fields (e.g. '0 3 * * *') or @daily/@hourly/…")
        ),
    ),
]
RelativePath = Annotated[
    str,
    Field(
        max_length=1024,
        json_schema_extra=rules(
            cel(
                "!self.startsWith('/') && !self.split('/').exists(p, p == '..')",
                "must be a relative path without '..'",
            )
        ),
    ),
]


class SecretKeyRef(ApiModel):
    """A key in a Secret of the corpus's namespace. The operator wires it into pods by reference
    and never reads its value."""

    name: ObjectName = Field(description="Name of the Secret, in the RagCorpus's namespace.")
    key: str = Field(min_length=1, max_length=253, pattern=DATA_KEY, description="Key inside the Secret.")


class OptionalSecretKeyRef(ApiModel):
    """Like SecretKeyRef, but may be left empty to let Oozo generate the Secret."""

    model_config = ConfigDict(
        json_schema_extra=rules(
            cel("has(self.name) == has(self.key)", "name and key must be given together, or neither")
        )
    )

    name: ObjectName | None = Field(None, description="Name of the Secret; empty to let Oozo generate one.")
    key: str | None = Field(
        None, min_length=1, max_length=253, pattern=DATA_KEY, description="Key inside the Secret."
    )


class S3Location(ApiModel):
    """A bucket and prefix on S3 or an S3-compatible server."""

    bucket: str = Field(
        min_length=3, max_length=63, pattern=r"^[a-z0-9][a-z0-9.\-]*[a-z0-9]$", description="Bucket name."
    )
    prefix: str = Field("", max_length=1024, description="Key prefix inside the bucket, e.g. handbook/.")
    endpoint: str = Field(
        "",
        max_length=2048,
        pattern=r"^(https?://[^\s]+)?$",
        description="Endpoint URL of an S3-compatible server; empty for AWS.",
    )
    region: str = Field("", max_length=64, description="Region; empty for the server's default.")
    credentials_secret: ObjectName | None = Field(
        None,
        description="Secret with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; empty to use the pod's "
        "identity.",
    )


# An s3:// model URI: a valid bucket, then an optional prefix (the runtime refuses '..' parts).
S3_MODEL_URI = r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?$"


class ModelS3Access(ApiModel):
    """How the index Job reaches the S3 (or S3-compatible) server an s3:// model is copied from;
    the bucket and prefix are in spec.embedding.model itself."""

    endpoint: str = Field(
        "",
        max_length=2048,
        pattern=r"^(https?://[^\s]+)?$",
        description="Endpoint URL of an S3-compatible server; empty for AWS.",
    )
    region: str = Field("", max_length=64, description="Region; empty for the server's default.")
    path_style: bool = Field(False, description="Path-style addressing (MinIO, Ceph).")
    credentials_secret: ObjectName | None = Field(
        None,
        description="Secret with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (optional "
        "AWS_SESSION_TOKEN), given to the index Job only; empty to use the pod's identity.",
    )


class HubAccess(ApiModel):
    """Where the index Job downloads a Hugging Face Hub model id from, and the token of a gated or
    private model. Only the index Job reaches the hub: the server loads the downloaded commit
    from the corpus volume, offline, and never gets the token."""

    endpoint: str | None = Field(
        None,
        max_length=2048,
        pattern=r"^https?://[^\s]+$",
        description="The hub or a mirror of it (HF_ENDPOINT), e.g. http://hf-mirror.models:8090; empty: "
        "the operator's OOZO_HUB_ENDPOINT, else huggingface.co.",
    )
    token_secret: SecretKeyRef | None = Field(
        None,
        description="Secret key holding a Hugging Face token, given to the index Job only as HF_TOKEN "
        "(by reference; never to the server, never in status or logs).",
    )


# Where a model on a PersistentVolumeClaim is mounted: spec.embedding.model names the path.
MODEL_VOLUME_ROOT = "/models/"


class ModelVolume(ApiModel):
    """A PersistentVolumeClaim holding a sentence-transformers model folder (air-gapped
    clusters), mounted read-only into the index Job and the server at spec.embedding.model."""

    claim_name: ObjectName = Field(description="Name of the PersistentVolumeClaim holding the model.")
    sub_path: RelativePath = Field(
        "", description="Folder of the model inside the volume; empty for its root."
    )

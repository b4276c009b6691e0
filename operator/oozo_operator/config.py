"""Operator-wide settings, from the environment of the operator's own pod (OOZO_*)."""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Two runtime images (Dockerfile.runtime): the indexer (torch, for embedding documents; also
# tagged oozo-runtime, and it can serve too) runs the index, fetch, backup and restore Jobs and
# CronJobs; the server (ONNX Runtime, no torch) runs the serving Deployment.
DEFAULT_INDEXER_IMAGE = "ghcr.io/oozo-dev/oozo-indexer:0.1.0"
DEFAULT_SERVER_IMAGE = "ghcr.io/oozo-dev/oozo-server:0.1.0"


class OperatorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OOZO_", extra="ignore")

    indexer_image: str = Field(
        default="",
        description="Image of the index, fetch, backup and restore pods (torch) when a corpus names "
        f"none in spec.index.image; empty for OOZO_RUNTIME_IMAGE, else {DEFAULT_INDEXER_IMAGE}.",
    )
    runtime_image: str = Field(
        default="",
        description="The indexer image's name from before the two images (OOZO_RUNTIME_IMAGE): "
        "used when OOZO_INDEXER_IMAGE is empty, so an existing deployment's setting still applies.",
    )
    server_image: str = Field(
        default=DEFAULT_SERVER_IMAGE,
        description="Image of the serving pods (`oozo serve`, no torch) when a corpus names none "
        "in spec.runtime.image.",
    )
    image_pull_policy: str = Field(default="IfNotPresent", description="Pull policy of runtime containers.")
    hub_endpoint: str = Field(
        default="",
        pattern=r"^(https?://[^\s]+)?$",
        description="Hugging Face Hub mirror the index Jobs download hub model ids from when a corpus "
        "names none in spec.embedding.hub.endpoint (OOZO_HUB_ENDPOINT); empty: huggingface.co.",
    )
    job_backoff_limit: int = Field(
        default=2, ge=0, le=20, description="Retries of an index Job before Stalled."
    )
    job_deadline_seconds: int = Field(
        default=6 * 3600, ge=60, description="activeDeadlineSeconds of index Jobs."
    )
    job_ttl_seconds: int = Field(
        default=24 * 3600, ge=60, description="ttlSecondsAfterFinished of index Jobs."
    )
    recheck_seconds: float = Field(
        default=15.0,
        gt=0,
        description="How often missing references and source ConfigMap changes are looked for.",
    )
    workers: int = Field(default=16, ge=1, description="Threads kopf runs the handlers on (OOZO_WORKERS).")
    log_level: str = Field(default="INFO", description="Log level of the operator.")
    log_format: str = Field(default="json", description="json or text.")
    http_source_refuse_private: bool = Field(
        default=False,
        description="http sources may not reach private or loopback addresses either (link-local "
        "ones, the cloud metadata service, are always refused).",
    )
    # The corpus policy (docs/security.md): the same parameters as the ValidatingAdmissionPolicy,
    # checked again by the operator for clusters without it. Comma-separated, as the policy's
    # ConfigMap holds them (deploy/ and the chart feed that ConfigMap to the operator as env).
    # Empty defaults allow anything, so an operator started without them behaves as before.
    allowed_image_repositories: str = Field(
        default="",
        description="Repositories spec.runtime.image and spec.index.image may name (an entry ending "
        "in / allows what is below it); empty allows any.",
    )
    allowed_hosts: str = Field(
        default="",
        description="Hosts of generation.baseURL, S3 endpoints and http/git source URLs "
        "(*.example.com allows subdomains); empty allows any.",
    )
    reference_opt_in_label: str = Field(
        default="",
        description="key=value label every Secret and PVC a corpus names must carry; empty asks for none.",
    )

    @property
    def default_indexer_image(self) -> str:
        return self.indexer_image or self.runtime_image or DEFAULT_INDEXER_IMAGE

    @field_validator("reference_opt_in_label")
    @classmethod
    def _label_is_key_value(cls, value: str) -> str:
        parse_label(value)
        return value


def parse_list(value: str) -> tuple[str, ...]:
    """A comma-separated setting (as a ConfigMap value or an environment variable holds it)."""
    return tuple(item.strip() for item in value.split(",") if item.strip())


def parse_label(value: str) -> tuple[str, str] | None:
    """`key=value` → (key, value); "" → None (no label asked for)."""
    if not value.strip():
        return None
    key, sep, label_value = value.strip().partition("=")
    if not sep or not key:
        raise ValueError(f"must be key=value, e.g. rag.oozo.dev/usable-by-corpora=true, not {value!r}")
    return key, label_value

"""Operator-wide settings, from the environment of the operator's own pod (OOZO_*)."""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_RUNTIME_IMAGE = "ghcr.io/oozo-dev/oozo-runtime:0.1.0"


class OperatorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OOZO_", extra="ignore")

    runtime_image: str = Field(
        default=DEFAULT_RUNTIME_IMAGE, description="Runtime image when a corpus names none."
    )
    image_pull_policy: str = Field(default="IfNotPresent", description="Pull policy of runtime containers.")
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
        description="Repositories spec.runtime.image may name (an entry ending in / allows what is "
        "below it); empty allows any.",
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

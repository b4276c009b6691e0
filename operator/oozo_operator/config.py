"""Operator-wide settings, from the environment of the operator's own pod (OOZO_*)."""

from __future__ import annotations

from pydantic import Field
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

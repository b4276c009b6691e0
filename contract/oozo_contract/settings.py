"""The runtime's settings, as the operator renders them and the runtime reads them.

Every CLI flag of `oozo index` / `oozo serve` also comes from an `OOZO_*` environment variable
defined here. The operator renders its ConfigMaps and container env through `env_for()`, which
validates the values with these same models, so a renamed or retyped setting breaks the
operator's unit tests instead of drifting silently.

`oozo index`'s are in `index_settings`, `oozo serve`'s in `serve_settings` (both extend
EmbeddingSettings, here), backup and restore's in `backup_settings`; defaults and bounds the
RagCorpus spec shares with these models live in `defaults`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from oozo_contract import defaults as d

ENV_PREFIX = "OOZO_"
DEFAULT_TERMINATION_MESSAGE_PATH = "/dev/termination-log"


def split_list(value: Any) -> Any:
    """Read a list from the environment: a JSON list (`["a","b"]`) or a comma-separated string."""
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return []
        if text.startswith("["):
            return json.loads(text)
        return [item.strip() for item in text.split(",") if item.strip()]
    return value


class OozoSettings(BaseSettings):
    """Every setting also comes from its OOZO_* environment variable."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", populate_by_name=True)


class EmbeddingSettings(OozoSettings):
    """Which model turns text into vectors; shared by the indexer and the server."""

    model: str = Field(
        default=d.DEFAULT_MODEL,
        description="sentence-transformers model id, local folder, or s3://BUCKET/PREFIX of a model's files",
    )
    # Where an s3:// model is copied from (`oozo index` copies it into the model cache once; the
    # server only reads the copy). Credentials: the standard AWS environment, never a setting.
    model_s3_endpoint: str | None = Field(
        default=None, description="S3-compatible endpoint of an s3:// model; default the AWS environment"
    )
    model_s3_region: str | None = Field(default=None, description="S3 region of an s3:// model")
    model_s3_path_style: bool = Field(default=False, description="path-style addressing for an s3:// model")
    # Where a Hugging Face Hub model id is downloaded from, and which revision (`oozo index` only:
    # the server loads the commit a version records from the model cache, offline). The token of
    # a gated model is HF_TOKEN in the index step's environment, never a setting.
    hub_endpoint: str | None = Field(
        default=None,
        pattern=r"^https?://[^\s]+$",
        description="Hugging Face Hub or mirror a hub model id is downloaded from; default HF_ENDPOINT, "
        "else huggingface.co",
    )
    hub_revision: str | None = Field(
        default=None,
        min_length=1,
        max_length=256,
        pattern=d.HUB_REVISION,
        description="branch, tag or commit of a hub model (default main); the commit it resolves to "
        "is recorded in the manifest",
    )
    batch_size: int = Field(
        default=d.BATCH_SIZE, ge=1, le=d.BATCH_SIZE_MAX, description="chunks per encode call"
    )
    model_cache_dir: Path | None = Field(default=None, description="where downloaded models are cached")
    embedding_provider: d.EmbeddingProvider = Field(
        default="local", description="local (sentence-transformers) or openai (a /v1/embeddings server)"
    )
    embedding_base_url: str | None = Field(
        default=None,
        pattern=r"^https?://[^\s]+$",
        description="base URL of the OpenAI-compatible embeddings server (default: OpenAI's)",
    )
    embedding_api_key: SecretStr | None = Field(
        default=None, description="key of the embeddings server (OOZO_EMBEDDING_API_KEY); never logged"
    )
    embedding_dimensions: int | None = Field(
        default=None,
        ge=1,
        le=d.EMBEDDING_DIMENSIONS_MAX,
        description="ask the server for vectors of this size (models that support it); default: its own",
    )
    embedding_prefixes: d.EmbeddingPrefixes = Field(
        default="client",
        description="who adds e5-style 'query: '/'passage: ' prefixes: client (Oozo) or server (input_type)",
    )
    embedding_timeout_seconds: float = Field(
        default=d.EMBEDDING_TIMEOUT_SECONDS, gt=0, le=600, description="time for one embeddings request"
    )
    embedding_max_retries: int = Field(
        default=d.EMBEDDING_MAX_RETRIES, ge=0, le=20, description="retries of a 429/5xx/connection error"
    )
    embedding_concurrency: int = Field(
        default=d.EMBEDDING_CONCURRENCY,
        ge=1,
        le=d.EMBEDDING_CONCURRENCY_MAX,
        description="embeddings requests in flight at once while indexing",
    )
    embedding_requests_per_second: float | None = Field(
        default=None, gt=0, le=10_000, description="most embeddings requests started per second"
    )


class FetchSettings(OozoSettings):
    """`oozo fetch URI [URI...] --into DIR`: bring a source's documents into a local folder.

    Credentials are not settings: S3 uses the standard AWS environment (or a workload identity),
    HTTP the `Name: value` lines of OOZO_HTTP_HEADERS_FILE, Git its OOZO_GIT_* variables.
    """

    source: str = Field(
        min_length=1,
        description="a folder, s3://BUCKET/PREFIX, git+https://HOST/PATH.git@REF#SUBDIR, or one or "
        "more http(s):// URLs separated by whitespace",
    )
    into: Path = Field(description="folder that holds exactly the source's files after the fetch")
    state_dir: Path | None = Field(
        default=None, description="what the fetch keeps between runs; default <into>.fetch-state"
    )
    s3_endpoint: str | None = Field(
        default=None, description="S3-compatible endpoint URL; default AWS_ENDPOINT_URL_S3 or AWS S3"
    )
    s3_region: str | None = Field(default=None, description="S3 region; default the AWS environment")
    s3_path_style: bool = Field(default=False, description="path-style bucket addressing (MinIO, Ceph)")
    http_refuse_private: bool = Field(
        default=False, description="refuse private and loopback addresses too (link-local always is)"
    )
    max_object_bytes: int = Field(
        default=d.FETCH_MAX_OBJECT_BYTES, ge=1, description="bigger objects and URLs are skipped"
    )
    http_timeout_seconds: float = Field(
        default=d.HTTP_TIMEOUT_SECONDS, gt=0, le=3600, description="time to fetch one URL"
    )
    http_max_redirects: int = Field(default=d.HTTP_MAX_REDIRECTS, ge=0, le=20)
    unless_revision: str | None = Field(
        default=None,
        max_length=80,
        description="when the source is at this revision, leave DIR alone and report skippedBecauseUnchanged",
    )
    result_file: Path | None = Field(
        default=None,
        description="also write the JSON result here, for `oozo index` (OOZO_FETCH_RESULT_FILE) to read",
    )
    lock_wait_seconds: float = Field(
        default=d.FETCH_LOCK_WAIT_SECONDS,
        ge=0,
        le=86400,
        description="how long to wait while another fetch holds the state folder, then fail (SourceBusy)",
    )
    termination_message_path: Path | None = Field(
        default=None, description="where the JSON result is also written (Kubernetes termination message)"
    )

    def resolved_state_dir(self) -> Path:
        return self.state_dir or self.into.with_name(self.into.name + ".fetch-state")


def env_name(settings_cls: type[BaseSettings], field: str) -> str:
    """The environment variable that sets `field`; raises KeyError for a field that does not exist."""
    if field not in settings_cls.model_fields:
        raise KeyError(f"{settings_cls.__name__} has no setting {field!r}")
    return f"{ENV_PREFIX}{field.upper()}"


def env_for(settings_cls: type[BaseSettings], **values: Any) -> dict[str, str]:
    """Validate `values` against `settings_cls` and render them as environment variables.

    Lists are rendered as JSON, which is how pydantic-settings reads complex values back.
    """
    env = {env_name(settings_cls, k): v for k, v in values.items()}
    settings_cls.model_validate({k: v for k, v in values.items()})  # fail loudly on bad values
    rendered: dict[str, str] = {}
    for name, value in env.items():
        if isinstance(value, (list, dict)):
            rendered[name] = json.dumps(value)
        elif isinstance(value, bool):
            rendered[name] = "true" if value else "false"
        else:
            rendered[name] = str(value)
    return rendered

"""`oozo serve`'s settings (the server Deployment's env and ConfigMap, rendered by the operator
through `env_for`): the index it serves, HTTP, generation, auth, limits and the answer cache. The
embedding settings it shares with `oozo index` are EmbeddingSettings (settings.py), the reranking
ones RerankSettings."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import NoDecode

from oozo_contract import defaults as d
from oozo_contract.rerank_settings import RerankSettings
from oozo_contract.settings import EmbeddingSettings, split_list


class ServeSettings(EmbeddingSettings, RerankSettings):
    """`oozo serve --index INDEX_DIR`; the reranking settings are RerankSettings'."""

    index_dir: Path = Field(default=Path("/var/lib/oozo/index"), description="where versions are published")
    index_version: str | None = Field(
        default=None, description="serve this version instead of the current one"
    )
    host: str = "0.0.0.0"
    port: int = Field(default=8000, ge=1, le=65535)
    generation_provider: d.GenerationProvider = "extractive"
    openai_model: str = d.OPENAI_MODEL
    openai_base_url: str | None = None
    openai_api_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("OOZO_OPENAI_API_KEY", "OPENAI_API_KEY"),
        description="key of the OpenAI-compatible server; falls back to OPENAI_API_KEY",
    )
    temperature: float = Field(default=d.TEMPERATURE, ge=0.0, le=d.TEMPERATURE_MAX)
    max_tokens: int = Field(default=d.MAX_TOKENS, ge=1, le=d.MAX_TOKENS_MAX)
    llm_timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    auth_enabled: bool = False
    api_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list, description="accepted bearer keys (JSON list or comma-separated)"
    )
    api_keys_file: Path | None = Field(default=None, description="file with one accepted key per line")
    max_question_chars: int = Field(default=4000, ge=1)
    max_top_k: int = Field(default=50, ge=1)
    retrieval_mode: d.RetrievalMode = Field(
        default=d.RETRIEVAL_MODE,
        description="hybrid (BM25 + dense, rank-fused), dense or lexical; a query may ask for another",
    )
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    torch_threads: int = Field(default=1, ge=1, le=256, description="torch threads per query encode")
    query_concurrency: int | None = Field(
        default=None,
        ge=1,
        le=256,
        description="queries encoded at once per worker (default: CPU limit / workers)",
    )
    server_workers: int | None = Field(
        default=None,
        ge=1,
        le=64,
        description="server processes on one port, one mapped index (default: one per 4 CPUs of the limit)",
    )
    log_level: str = Field(default="INFO", description="root log level")
    # HTTP hardening: every connection is bounded in time, number and header size.
    keep_alive_seconds: float = Field(
        default=5.0, gt=0, le=300, description="idle keep-alive connections are closed after this"
    )
    request_head_seconds: float = Field(
        default=10.0, gt=0, le=300, description="a request's headers must arrive within this (slowloris)"
    )
    max_connections: int = Field(
        default=256, ge=1, le=65536, description="connections at once; more get 503 at once"
    )
    max_header_bytes: int = Field(
        default=16 * 1024,
        ge=1024,
        le=1024 * 1024,
        description="largest request head (request line + headers)",
    )
    openapi_enabled: bool = Field(
        default=False, description="serve /openapi.json (behind the API key when auth is on)"
    )
    answer_cache_size: int = Field(
        default=d.ANSWER_CACHE_SIZE,
        ge=0,
        le=d.ANSWER_CACHE_SIZE_MAX,
        description="answers kept in the in-process LRU (0: none)",
    )
    answer_cache_ttl_seconds: int = Field(
        default=d.ANSWER_CACHE_TTL_SECONDS,
        ge=1,
        le=d.ANSWER_CACHE_TTL_SECONDS_MAX,
        description="how long a cached answer is reused",
    )
    answer_cache_redis_url: str | None = Field(
        default=None,
        description="redis://HOST[:PORT][/DB] or rediss://… shared by all replicas; no password in it",
    )
    answer_cache_redis_password: SecretStr | None = Field(
        default=None, description="the Redis password (OOZO_ANSWER_CACHE_REDIS_PASSWORD); never logged"
    )
    answer_cache_redis_timeout_seconds: float = Field(
        default=d.ANSWER_CACHE_REDIS_TIMEOUT_SECONDS,
        gt=0,
        le=10,
        description="connect and read bound of one Redis call",
    )

    @field_validator("api_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: Any) -> Any:
        return split_list(value)

    @field_validator("answer_cache_redis_url")
    @classmethod
    def _redis_url_without_password(cls, url: str | None) -> str | None:
        if url is not None:
            d.check_redis_url(url)
        return url

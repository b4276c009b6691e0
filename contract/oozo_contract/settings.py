"""The runtime's settings, as the operator renders them and the runtime reads them.

Every CLI flag of `oozo index` / `oozo serve` also comes from an `OOZO_*` environment variable
defined here. The operator renders its ConfigMaps and container env through `env_for()`, which
validates the values with these same models, so a renamed or retyped setting breaks the
operator's unit tests instead of drifting silently.

Backup and restore have theirs in `backup_settings`; defaults and bounds the RagCorpus spec
shares with these models live in `defaults`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from oozo_contract import defaults as d
from oozo_contract.rerank_settings import RerankSettings

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


class IndexSettings(EmbeddingSettings):
    """`oozo index SOURCE --out INDEX_DIR`."""

    source: str | None = Field(default=None, description="folder (or URL) holding the documents")
    index_dir: Path = Field(default=Path("/var/lib/oozo/index"), description="where versions are published")
    chunk_size: int = Field(
        default=d.CHUNK_SIZE, ge=d.CHUNK_SIZE_MIN, le=d.CHUNK_SIZE_MAX, description="characters per chunk"
    )
    chunk_overlap: int = Field(
        default=d.CHUNK_OVERLAP, ge=0, le=d.CHUNK_OVERLAP_MAX, description="characters shared by neighbours"
    )
    chunk_max_tokens: int | None = Field(
        default=None,
        ge=d.CHUNK_MAX_TOKENS_MIN,
        le=d.CHUNK_MAX_TOKENS_MAX,
        description="tokens per chunk, counted with the model's tokenizer (prefix and special tokens "
        "included); default: the model's max_seq_length. Local models only",
    )
    include: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(d.DEFAULT_INCLUDE), description="globs (JSON list or comma-separated)"
    )
    index_type: d.IndexType = Field(
        default=d.INDEX_TYPE, description="FAISS index kind: auto (by size), flat, hnsw, hnswfp16 or ivfpq"
    )
    # Unset: chosen by the build for the corpus's size (docs/indexes.md). Set ones are used as given.
    index_hnsw_m: int | None = Field(
        default=None, ge=4, le=d.HNSW_M_MAX, description="HNSW neighbours per node"
    )
    index_hnsw_ef_construction: int | None = Field(
        default=None, ge=8, le=d.HNSW_EF_MAX, description="HNSW candidate list while building"
    )
    index_hnsw_ef_search: int | None = Field(
        default=None, ge=8, le=d.HNSW_EF_MAX, description="HNSW candidate list per query"
    )
    index_ivf_nlist: int | None = Field(
        default=None, ge=1, le=d.IVF_NLIST_MAX, description="IVF-PQ clusters (inverted lists)"
    )
    index_ivf_nprobe: int | None = Field(
        default=None, ge=1, le=d.IVF_NPROBE_MAX, description="IVF-PQ clusters searched per query"
    )
    index_pq_m: int | None = Field(
        default=None, ge=1, le=d.PQ_M_MAX, description="IVF-PQ sub-quantizers; must divide the dimension"
    )
    index_pq_nbits: int | None = Field(
        default=None, ge=d.PQ_NBITS_MIN, le=d.PQ_NBITS_MAX, description="IVF-PQ bits per sub-quantizer code"
    )
    keep_versions: int = Field(
        default=d.KEEP_VERSIONS,
        ge=1,
        le=d.KEEP_VERSIONS_MAX,
        description="newest versions kept after a build; the current and pinned ones are kept too",
    )
    pinned_versions: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="versions a build never deletes (JSON list or comma-separated)"
    )
    max_document_chars: int = Field(
        default=d.MAX_DOCUMENT_CHARS, ge=1, description="characters one document may yield; more skips it"
    )
    max_document_pages: int = Field(
        default=d.MAX_DOCUMENT_PAGES, ge=1, description="pages one PDF may have; more skips it"
    )
    max_document_chunks: int = Field(
        default=d.MAX_DOCUMENT_CHUNKS, ge=1, description="chunks one document may yield; more skips it"
    )
    document_timeout_seconds: float = Field(
        default=d.DOCUMENT_TIMEOUT_SECONDS, gt=0, le=3600, description="time to parse one document"
    )
    parser_memory_mb: int = Field(
        default=d.PARSER_MEMORY_MB, ge=256, description="address space of the process that parses documents"
    )
    termination_message_path: Path | None = Field(
        default=None, description="where the JSON result is also written (Kubernetes termination message)"
    )
    fetch_result_file: Path | None = Field(
        default=None,
        description="the result `oozo fetch` wrote for SOURCE (its result_file): its revision is "
        "recorded in the manifest, and a fetch skipped as unchanged publishes nothing",
    )
    # The quality gate (docs/runtime.md, "The quality gate"): off unless a questions file is given.
    evaluation_questions: Path | None = Field(
        default=None,
        description="golden questions (YAML or JSON) a new version must answer before it becomes current",
    )
    evaluation_min_hit_at5: float = Field(
        default=d.EVALUATION_MIN_HIT_AT5, ge=0, le=1, description="least hit@5 a new version needs"
    )
    evaluation_max_regression: float = Field(
        default=d.EVALUATION_MAX_REGRESSION,
        ge=0,
        le=1,
        description="how far its hit@5 may fall below the serving version's",
    )
    evaluation_baseline_version: str | None = Field(
        default=None,
        max_length=128,
        description="the version to compare with (the one the server serves); default: the first "
        "pinned version, else current",
    )

    # Parallel builds (docs/runtime.md, "Parallel builds"): `--shard K --shards N` writes shard K's
    # chunks and vectors to the staging folder; `--merge --shards N` publishes one version from all N.
    # An Indexed Job gives each pod its index as JOB_COMPLETION_INDEX.
    shards: int = Field(
        default=d.INDEX_PARALLELISM,
        ge=1,
        le=d.INDEX_PARALLELISM_MAX,
        description="shards of a parallel build (its pods); 1: one pod builds and publishes",
    )
    shard: int | None = Field(
        default=None,
        ge=0,
        lt=d.INDEX_PARALLELISM_MAX,
        validation_alias=AliasChoices("shard", "OOZO_SHARD", "JOB_COMPLETION_INDEX"),
        description="build only shard K (0..N-1) into the staging folder; falls back to JOB_COMPLETION_INDEX",
    )
    merge: bool = Field(
        default=False,
        description="merge the N staged shards and publish; with shard: stage it, then merge if it "
        "finds all N staged (the last shard of an Indexed Job publishes)",
    )
    staging_dir: str | None = Field(
        default=None,
        min_length=1,
        description="where shards leave their results: a folder or s3://BUCKET/PREFIX; default "
        "INDEX_DIR/staging",
    )
    staging_retention_hours: float = Field(
        default=d.STAGING_RETENTION_HOURS,
        ge=0,
        description="a successful merge removes other builds' staging older than this",
    )
    # Shards that see no index volume (the operator's S3-staged shard pods) keep their vectors in
    # the s3:// staging as their embedding cache (PREFIX/embeddings/, runtime indexing/shard_cache.py).
    staging_embedding_cache: bool = Field(
        default=False,
        description="keep each shard's vectors in the s3:// staging (PREFIX/embeddings/) and reuse them "
        "in its next build: an embedding cache for shards without the index volume",
    )
    # An s3:// staging area's endpoint; else `--s3-endpoint`, else the AWS environment. Its own
    # credentials when given (the operator wires spec.index.build.staging.s3.credentialsSecret
    # here by reference, apart from the AWS_* variables an s3:// model's credentials occupy in
    # the same container); else the AWS environment, as the backup's.
    staging_s3_endpoint: str | None = Field(default=None, description="S3 endpoint of an s3:// staging area")
    staging_s3_region: str | None = Field(default=None, description="S3 region of an s3:// staging area")
    staging_s3_access_key_id: SecretStr | None = Field(
        default=None, description="access key of an s3:// staging area; default: the AWS environment"
    )
    staging_s3_secret_access_key: SecretStr | None = Field(
        default=None, description="secret key of an s3:// staging area (with its access key)"
    )
    staging_s3_session_token: SecretStr | None = Field(
        default=None, description="session token of an s3:// staging area (optional)"
    )

    @field_validator("include", "pinned_versions", mode="before")
    @classmethod
    def _split_lists(cls, value: Any) -> Any:
        return split_list(value)

    @model_validator(mode="after")
    def _one_shard_step(self) -> IndexSettings:
        if self.shard is not None and self.shard >= self.shards:
            raise ValueError(f"shard {self.shard} is not below shards {self.shards} (shards are 0..N-1)")
        return self

    @field_validator("staging_dir", mode="before")
    @classmethod
    def _staging_uri(cls, value: Any) -> Any:
        if isinstance(value, Path):  # a folder given as a Path, as before s3:// staging existed
            value = str(value)
        if isinstance(value, str) and value.startswith("s3://"):
            bucket, _, prefix = value[len("s3://") :].partition("/")
            if not bucket or any(part in ("", ".", "..") for part in prefix.strip("/").split("/") if prefix):
                raise ValueError(
                    f"{value!r} is not s3://BUCKET/PREFIX (a bucket, and a prefix without empty, '.' "
                    "or '..' parts)"
                )
        elif isinstance(value, str) and "://" in value:
            raise ValueError(f"{value!r}: staging is a folder or s3://BUCKET/PREFIX")
        return value

    def staging_is_s3(self) -> bool:
        return bool(self.staging_dir and self.staging_dir.startswith("s3://"))

    def resolved_staging_dir(self) -> Path:
        """The staging folder (not for an s3:// staging area)."""
        return Path(self.staging_dir) if self.staging_dir else self.index_dir / "staging"

    @field_validator("include")
    @classmethod
    def _include_inside_source(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            d.check_include_pattern(pattern)
        return patterns

    @model_validator(mode="after")
    def _overlap_below_size(self) -> IndexSettings:
        d.check_overlap_below_size(self.chunk_size, self.chunk_overlap, "chunk_size", "chunk_overlap")
        return self


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

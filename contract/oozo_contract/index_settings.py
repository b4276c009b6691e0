"""`oozo index`'s settings (the index Job's env, rendered by the operator through `env_for`): the
source, chunking, the vector index, parallel builds and their staging, the quality gate. The
embedding settings it shares with `oozo serve` are EmbeddingSettings (settings.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import NoDecode

from oozo_contract import defaults as d
from oozo_contract.settings import EmbeddingSettings, split_list


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

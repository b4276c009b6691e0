# mypy (without pydantic's plugin) cannot type `default_factory=SomeModel`; the models are checked
# at runtime and by tests/unit/test_operator_crd.py instead.
# mypy: disable-error-code="arg-type"
"""RagCorpus.spec as pydantic models: the operator parses with them and hack/gen_crd.py renders
the CRD schema from them. CEL rules sit on the model they constrain (`rules(...)`); the same
invariants are also pydantic validators, so a spec that slipped past an older CRD still fails
loudly in the operator instead of rendering nonsense."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, model_validator

from oozo_contract import defaults as d
from oozo_operator.api.backup_spec import Backup, Restore
from oozo_operator.api.base import HTTP_URL, QUANTITY, ApiModel, cel, rules
from oozo_operator.api.cache_spec import AnswerCache
from oozo_operator.api.embedding_spec import Embedding
from oozo_operator.api.evaluation_spec import Evaluation
from oozo_operator.api.exposure import HttpRoute, Ingress
from oozo_operator.api.fields import (
    Cron,
    OptionalSecretKeyRef,
    SecretKeyRef,
)
from oozo_operator.api.index_spec import Hnsw, IndexBuild, IvfPq
from oozo_operator.api.network import NetworkPolicy
from oozo_operator.api.placement import Resources, Toleration
from oozo_operator.api.rerank_spec import Rerank
from oozo_operator.api.source_spec import Source


class Chunking(ApiModel):
    """How documents are cut into overlapping chunks before embedding."""

    model_config = ConfigDict(
        json_schema_extra=rules(
            cel("self.overlap < self.size", "overlap must be smaller than size", ".overlap")
        )
    )

    size: int = Field(
        d.CHUNK_SIZE,
        ge=d.CHUNK_SIZE_MIN,
        le=d.CHUNK_SIZE_MAX,
        description="Most characters per chunk; a chunk ends earlier when maxTokens is reached.",
    )
    overlap: int = Field(
        d.CHUNK_OVERLAP,
        ge=0,
        le=d.CHUNK_OVERLAP_MAX,
        description="Characters shared by neighbouring chunks; below size.",
    )
    # No schema default: the model's own length is known only to the runtime, and a default would
    # appear in every stored object and change the index hash (so rebuild) of existing corpora.
    max_tokens: int | None = Field(
        None,
        ge=d.CHUNK_MAX_TOKENS_MIN,
        le=d.CHUNK_MAX_TOKENS_MAX,
        description="Most tokens per chunk, counted with the embedding model's tokenizer (instruction "
        "prefix and special tokens included); size stays an upper bound in characters. Empty: the "
        "model's max sequence length, so no chunk is truncated when embedded. Above it, "
        "status.index.chunksTruncated counts the chunks whose tails are not embedded. Local models "
        "only: with provider openai chunks are character windows.",
    )

    @model_validator(mode="after")
    def _overlap_below_size(self) -> Chunking:
        d.check_overlap_below_size(self.size, self.overlap, "size", "overlap")
        return self


class Storage(ApiModel):
    """The PersistentVolumeClaim NAME-index that holds index versions and the embedding cache."""

    size: str = Field("2Gi", max_length=32, pattern=QUANTITY, description="Requested size, e.g. 2Gi.")
    storage_class_name: str | None = Field(
        None, max_length=253, description="StorageClass; empty for the cluster default."
    )
    access_modes: list[Literal["ReadWriteOnce", "ReadWriteOncePod", "ReadWriteMany", "ReadOnlyMany"]] = Field(
        default_factory=lambda: ["ReadWriteOnce"],
        min_length=1,
        max_length=4,
        description="Access modes. With ReadWriteOnce every pod of the corpus is co-located on one node.",
    )


class Index(ApiModel):
    """The vector index built from the chunks."""

    model_config = ConfigDict(
        json_schema_extra=rules(
            cel(
                "!has(self.hnsw) || !has(self.type) || self.type in ['auto', 'hnsw', 'hnswfp16']",
                "hnsw parameters need type hnsw or hnswfp16 (or auto)",
                ".hnsw",
            ),
            cel(
                "!has(self.ivfpq) || !has(self.type) || self.type in ['auto', 'ivfpq']",
                "ivfpq parameters need type ivfpq (or auto)",
                ".ivfpq",
            ),
        )
    )

    type: d.IndexType = Field(
        d.INDEX_TYPE,
        description="FAISS index kind: auto (flat below 50,000 chunks, then hnsw while the whole index "
        "fits 2 GiB, then hnswfp16, ivfpq only beyond), flat (exact), hnsw, hnswfp16 (HNSW over "
        "half-precision vectors) or ivfpq (approximate; status.index.vectorIndex.recallAt10 says how "
        "close).",
    )
    hnsw: Hnsw | None = Field(
        None, description="HNSW parameters (type hnsw or hnswfp16, or auto when it picks either)."
    )
    ivfpq: IvfPq | None = Field(
        None, description="IVF-PQ parameters (type ivfpq, or auto when it picks ivfpq)."
    )
    keep_versions: int = Field(
        d.KEEP_VERSIONS,
        ge=1,
        le=d.KEEP_VERSIONS_MAX,
        description=(
            "Index versions a build keeps on the volume: the newest ones, plus always the serving one. "
            "A build of unchanged documents publishes no new version."
        ),
    )
    storage: Storage = Field(default_factory=Storage, description="Volume for index versions.")
    build: IndexBuild | None = Field(None, description="How the index Job runs (parallel builds).")
    resources: Resources | None = Field(
        None,
        description=(
            "Resources of the index Job's container, and of the restore Job's (it loads the model "
            "too); empty for 500m CPU / 1Gi requested, 4Gi limit."
        ),
    )
    image: str | None = Field(
        None,
        max_length=512,
        pattern=r"^[^\s]+$",
        description=(
            "Image of the index, fetch, backup and restore pods (embeds with torch); empty for the "
            "operator's indexer image."
        ),
    )
    pinned_version: str | None = Field(
        None,
        max_length=63,
        pattern=d.VERSION_PATTERN,
        description=(
            "Serve this index version (one of status.index.available) instead of the newest, without "
            "rebuilding; builds go on and never delete it. Remove the field to serve the newest again. "
            "A version not on the volume stalls the corpus with reason PinnedVersionNotFound while "
            "the version being served keeps serving."
        ),
    )

    @model_validator(mode="after")
    def _params_of_its_type(self) -> Index:
        if self.hnsw is not None and self.type not in ("auto", "hnsw", "hnswfp16"):
            raise ValueError("hnsw parameters need type hnsw or hnswfp16 (or auto)")
        if self.ivfpq is not None and self.type not in ("auto", "ivfpq"):
            raise ValueError("ivfpq parameters need type ivfpq (or auto)")
        return self


class Retrieval(ApiModel):
    """How the server ranks chunks for a question."""

    mode: d.RetrievalMode = Field(
        d.RETRIEVAL_MODE,
        description=(
            "hybrid: BM25 and dense results fused by reciprocal rank; dense: embedding cosine only; "
            "lexical: BM25 only (questions are not embedded). A query may ask for another mode."
        ),
    )
    rerank: Rerank | None = Field(
        None,
        description="Reorder the top N by a remote cross-encoder (TEI or Cohere-shaped); off when absent.",
    )


class Generation(ApiModel):
    """How answers are written: extractive (no LLM) or any OpenAI-compatible server."""

    model_config = ConfigDict(
        json_schema_extra=rules(
            cel(
                "self.provider != 'extractive' || !has(self.apiKeySecretRef)",
                "apiKeySecretRef is only used with provider openai",
                ".apiKeySecretRef",
            )
        )
    )

    provider: d.GenerationProvider = Field(
        "extractive", description="extractive answers from the retrieved chunks, or openai for an LLM."
    )
    model: str = Field(d.OPENAI_MODEL, min_length=1, max_length=256, description="LLM model name.")
    base_url: str | None = Field(
        None,
        alias="baseURL",
        max_length=2048,
        pattern=HTTP_URL,
        description="Base URL of an OpenAI-compatible server (vLLM, Ollama, KServe); empty for OpenAI.",
    )
    api_key_secret_ref: SecretKeyRef | None = Field(None, description="Secret key holding the LLM API key.")
    temperature: float = Field(
        d.TEMPERATURE, ge=0.0, le=d.TEMPERATURE_MAX, description="Sampling temperature."
    )
    max_tokens: int = Field(d.MAX_TOKENS, ge=1, le=d.MAX_TOKENS_MAX, description="Most tokens in one answer.")


class Autoscaling(ApiModel):
    """A HorizontalPodAutoscaler (autoscaling/v2) on CPU for the serving Deployment."""

    model_config = ConfigDict(
        json_schema_extra=rules(
            cel(
                "self.minReplicas <= self.maxReplicas",
                "minReplicas must not exceed maxReplicas",
                ".minReplicas",
            )
        )
    )

    min_replicas: int = Field(1, ge=1, le=100, description="Fewest replicas.")
    max_replicas: int = Field(ge=1, le=100, description="Most replicas.")
    target_cpu_utilization_percentage: int = Field(
        70,
        ge=1,
        le=100,
        alias="targetCPUUtilizationPercentage",
        description="Average CPU utilisation to aim for.",
    )

    @model_validator(mode="after")
    def _min_below_max(self) -> Autoscaling:
        if self.min_replicas > self.max_replicas:
            raise ValueError("minReplicas must not exceed maxReplicas")
        return self


class Auth(ApiModel):
    """Bearer API keys on /api/query and /api/info: on by default, with a generated key."""

    enabled: bool = Field(
        True,
        description="Require an API key on /api/*; false serves the query API to anyone who can reach it.",
    )
    api_key_secret_ref: OptionalSecretKeyRef | None = Field(
        None,
        description="Secret key holding the accepted keys (comma-separated); empty to generate NAME-api-key.",
    )


class Runtime(ApiModel):
    """The serving Deployment."""

    replicas: int = Field(1, ge=0, le=100, description="Replicas when autoscaling is not set.")
    resources: Resources | None = Field(
        None,
        description="Resources of the serving container. Without a memory request, the request is 1Gi "
        "plus the memory the served version needs (status.index.vectorIndex.memoryBytes), within a "
        "memory limit set here; empty: that request and a limit of at least 2Gi.",
    )
    autoscaling: Autoscaling | None = Field(
        None, description="Scale on CPU instead of a fixed replica count."
    )
    auth: Auth = Field(default_factory=Auth, description="API key authentication.")
    network_policy: NetworkPolicy = Field(
        default_factory=NetworkPolicy, description="Who may reach the server (a NetworkPolicy NAME)."
    )
    ingress: Ingress | None = Field(
        None, description="Reach the corpus from outside the cluster through an Ingress NAME."
    )
    http_route: HttpRoute | None = Field(
        None, description="Reach the corpus through a Gateway API gateway: an HTTPRoute NAME."
    )
    image: str | None = Field(
        None,
        max_length=512,
        pattern=r"^[^\s]+$",
        description="Image of the serving pods (runs `oozo serve`); empty for the operator's server image.",
    )
    cache: AnswerCache | None = Field(None, description="The answer cache; empty for the runtime's defaults.")
    workers: int | None = Field(
        None,
        ge=1,
        le=64,
        description="Server processes per pod, sharing its port and the memory-mapped index; empty for one "
        "per 4 CPUs of the CPU limit. Each adds about 250 MiB (its ONNX session, chunks, BM25).",
    )


class Scheduling(ApiModel):
    """Where the corpus's pods (index Jobs, server, CronJobs) may run."""

    node_selector: dict[str, Annotated[str, Field(max_length=63)]] | None = Field(
        None, max_length=32, description="Node labels every pod requires."
    )
    tolerations: list[Toleration] | None = Field(None, max_length=32, description="Tolerations of every pod.")
    affinity: dict[str, Any] | None = Field(
        None, description="A pod affinity stanza (core/v1 Affinity), passed through as is."
    )
    priority_class_name: str | None = Field(None, max_length=253, description="PriorityClass of every pod.")


class Refresh(ApiModel):
    """Periodic re-indexing, for sources that change outside Kubernetes (s3, http, git)."""

    schedule: Cron = Field(description="Cron schedule of the refresh CronJob NAME-refresh.")


class RagCorpusSpec(ApiModel):
    """The desired state of one RAG deployment."""

    source: Source = Field(description="Where the documents come from.")
    chunking: Chunking = Field(default_factory=Chunking, description="How documents are chunked.")
    embedding: Embedding = Field(default_factory=Embedding, description="The embedding model.")
    index: Index = Field(default_factory=Index, description="The vector index and its volume.")
    retrieval: Retrieval = Field(default_factory=Retrieval, description="How chunks are ranked.")
    generation: Generation = Field(default_factory=Generation, description="How answers are written.")
    runtime: Runtime = Field(default_factory=Runtime, description="The serving Deployment.")
    scheduling: Scheduling | None = Field(None, description="Placement of every pod the corpus runs.")
    refresh: Refresh | None = Field(None, description="Periodic re-indexing.")
    backup: Backup | None = Field(None, description="Scheduled backups to S3.")
    restore: Restore | None = Field(None, description="Start from a backup.")
    evaluation: Evaluation | None = Field(
        None, description="A quality gate: golden questions a new index version must pass before it serves."
    )

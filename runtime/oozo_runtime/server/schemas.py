"""Request and response bodies of the query API (the seed's contract, kept), and the bodies of
its errors as the server really sends them (errors.py, middleware.py, routes/health.py), so
the OpenAPI document describes every status a client can meet."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    create_model,
    field_validator,
)
from pydantic.json_schema import JsonDict

from oozo_contract.defaults import RetrievalMode

NOT_BLANK: JsonDict = {"pattern": r"\S"}


def _whole_number(value: Any) -> Any:
    """JSON Schema's `integer` includes 24.0; so does ours. Strings and booleans stay refused."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


TopK = Annotated[StrictInt, BeforeValidator(_whole_number)]


class QueryRequest(BaseModel):
    """The request body; `limited_to` gives it the bounds a server is configured with."""

    model_config = ConfigDict(extra="ignore")

    question: str = Field(..., min_length=1)
    return_sources: StrictBool = True
    top_k: TopK = Field(5, ge=1)
    mode: RetrievalMode | None = Field(
        default=None,
        description="hybrid, dense or lexical; absent: the server's OOZO_RETRIEVAL_MODE (hybrid by default)",
    )

    @field_validator("question")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("question must not be blank")
        return value.strip()


class Source(BaseModel):
    document: str
    chunk: int
    score: float = Field(
        description="higher is better; by mode: hybrid, the reciprocal rank fusion score (sum of "
        "1/(60 + rank) over the dense and BM25 lists, at most 2/61); dense, the cosine; lexical, "
        "the BM25 score; when `rerank.applied` is true, the reranker's score instead (its own scale)"
    )
    text: str
    heading: str | None = None


class Timings(BaseModel):
    """Milliseconds of each step (`retrieval_ms`, which holds `rerank_ms`, `generation_ms`,
    `total_ms`, `cache_ms`, …) and, when the answer cache is on, whether it answered."""

    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[str, float] = Field(init=False)

    cache: Literal["hit", "miss"] | None = Field(
        default=None,
        description="hit: answered from the answer cache (no retrieval, no generation); miss: computed "
        "now; absent when the cache is off",
    )


class RerankNote(BaseModel):
    """What the reranker (spec.retrieval.rerank) did; absent when none is configured."""

    applied: bool = Field(description="true: the sources are in the reranker's order, with its scores")
    skipped: str | None = Field(
        default=None,
        description="why not, when applied is false (timeout, unreachable, refused, malformed): the "
        "sources are then in the fused order of `mode`, with its scores",
    )


class QueryResponse(BaseModel):
    """200, and 502/504 when the generation backend failed or timed out: the retrieval still
    answers (an extractive answer and the sources), with `error` saying what went wrong."""

    answer: str | None
    sources: list[Source]
    index_version: str
    mode: RetrievalMode = Field(description="the retrieval mode that ranked the sources")
    timings: Timings
    rerank: RerankNote | None = None
    error: str | None = None


class ErrorBody(BaseModel):
    """Every error but a validation error: 400, 401, 413, 500, 503."""

    error: str


class FieldError(BaseModel):
    field: str
    reason: str


class ValidationErrorBody(BaseModel):
    """422: a well-formed body with wrong fields; `detail` names each field and why."""

    error: str
    detail: list[FieldError]


class Health(BaseModel):
    status: Literal["ok"]


class Ready(BaseModel):
    status: Literal["ready"]
    index_version: str


class NotReady(BaseModel):
    """503 from /ready: `error` says why (e.g. `IndexCorrupt: …` naming the file), never a path."""

    status: Literal["loading"]
    error: str


class RerankInfo(BaseModel):
    """The reranker of /api/info (spec.retrieval.rerank): where and how, never its key."""

    host: str = Field(description="host[:port] of the reranking server, without any user:password")
    api: str = Field(description="tei (POST /rerank) or cohere (POST /v1/rerank)")
    model: str | None = Field(description="model name sent with the cohere api")
    top_n: int = Field(description="fused candidates sent to the reranker")
    timeout_seconds: float = Field(description="past this a query answers in the fused order")


class Info(BaseModel):
    index_version: str
    model: str
    dimensions: int
    documents: int
    chunks: int
    skipped_documents: int
    built_at: str | None
    index_type: str
    chunking: dict[str, object] | None
    generation_provider: str
    retrieval_mode: RetrievalMode = Field(description="the mode of queries that name none")
    lexical_index: Literal["stored", "built at load"] = Field(
        description="the version's own BM25 file, or one built from its chunks (a version from before BM25)"
    )
    encoder: Literal["onnx", "torch", "remote"] = Field(
        description="what encodes questions: ONNX Runtime, torch (no or a broken graph) or the remote "
        "embeddings server"
    )
    encoder_fallback_reason: str | None = Field(description="why torch, when it is torch")
    torch_loaded: bool = Field(description="whether the server process has imported torch")
    rerank: RerankInfo | None = Field(description="the reranker, or null when reranking is off")
    runtime_version: str


def limited_to(max_question_chars: int, max_top_k: int) -> type[QueryRequest]:
    """QueryRequest bounded by OOZO_MAX_QUESTION_CHARS and OOZO_MAX_TOP_K: the settings are the
    only source of these limits, so the API reference and the validation errors state the
    configured ones, raised or lowered."""
    return create_model(
        "QueryRequest",
        __base__=QueryRequest,
        # The document says what the validator enforces: at least one non-blank character.
        question=(str, Field(..., min_length=1, max_length=max_question_chars, json_schema_extra=NOT_BLANK)),
        top_k=(TopK, Field(5, ge=1, le=max_top_k)),
    )

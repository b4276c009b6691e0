"""The server's reranking settings (spec.retrieval.rerank, docs/querying.md): after fusion, the
top N chunks go to a remote cross-encoder (Text Embeddings Inference's `/rerank`, or the Cohere
shape `/v1/rerank` that vLLM, Jina and Infinity serve) and come back reordered by its score.
Off while OOZO_RERANK_ENDPOINT is unset. A mixin of `ServeSettings`, kept apart so settings.py
stays one screenful per command."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from oozo_contract import defaults as d


class RerankSettings(BaseSettings):
    # settings.OozoSettings' config (that module imports this one, so it is not imported here)
    model_config = SettingsConfigDict(env_prefix="OOZO_", extra="ignore", populate_by_name=True)

    rerank_endpoint: str | None = Field(
        default=None,
        description="base URL of the reranking server (http://tei.models:8080); unset: no reranking",
    )
    rerank_api: d.RerankApi = Field(
        default="tei", description="tei (POST /rerank) or cohere (POST /v1/rerank: vLLM, Jina, Infinity)"
    )
    rerank_model: str | None = Field(
        default=None, max_length=256, description="model name sent with the cohere api; tei ignores it"
    )
    rerank_top_n: int = Field(
        default=d.RERANK_TOP_N,
        ge=1,
        le=d.RERANK_TOP_N_MAX,
        description="fused candidates sent to the reranker (at least top_k of the query)",
    )
    rerank_api_key: SecretStr | None = Field(
        default=None, description="bearer key of the reranking server (OOZO_RERANK_API_KEY); never logged"
    )
    rerank_timeout_seconds: float = Field(
        default=d.RERANK_TIMEOUT_SECONDS,
        gt=0,
        le=d.RERANK_TIMEOUT_SECONDS_MAX,
        description="past this the query answers in the fused order, saying rerank was skipped",
    )

    @field_validator("rerank_endpoint")
    @classmethod
    def _http_url(cls, url: str | None) -> str | None:
        if url is not None and not url.startswith(("http://", "https://")):
            raise ValueError("rerank_endpoint must be an http:// or https:// URL")
        return url

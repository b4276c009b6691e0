"""spec.retrieval.rerank: a remote cross-encoder reorders the fused top N (docs/querying.md).
Rendered as the OOZO_RERANK_* settings of the serving pods (render/rerank.py); the API key
reaches them only as a secretKeyRef, and its Secret goes through the opt-in label rule and the
endpoint's host through the allowed-hosts rule like every other reference (policy.py)."""

from __future__ import annotations

from pydantic import ConfigDict, Field, model_validator

from oozo_contract import defaults as d
from oozo_operator.api.base import HTTP_URL, ApiModel, cel, rules
from oozo_operator.api.fields import SecretKeyRef


class Rerank(ApiModel):
    """Reranking of the fused top N by a Text Embeddings Inference or Cohere-shaped server; off
    when absent. A reranker that fails or is slow never fails a query: it answers in the fused
    order and says why rerank was skipped."""

    model_config = ConfigDict(
        json_schema_extra=rules(
            cel(
                "!self.endpoint.contains('@')",
                "endpoint must not carry credentials: the key comes from apiKeySecretRef",
                ".endpoint",
            ),
            # The API server checks a whole number against `minimum` truncated to a whole number
            # (0.1 -> 0), so the schema alone lets `timeoutSeconds: 0` through.
            cel(
                "!has(self.timeoutSeconds) || self.timeoutSeconds >= 0.1",
                "timeoutSeconds must be at least 0.1",
                ".timeoutSeconds",
            ),
        )
    )

    endpoint: str = Field(
        min_length=1,
        max_length=2048,
        pattern=HTTP_URL,
        description="Base URL of the reranking server, e.g. http://tei-reranker.models:8080; Oozo posts "
        "to /rerank (api tei) or /v1/rerank (api cohere; /rerank when the URL ends in /v1). The host "
        "must be allowed by the corpus policy.",
    )
    api: d.RerankApi = Field(
        description="tei: Text Embeddings Inference's /rerank; cohere: the Cohere /v1/rerank shape "
        "that vLLM, Jina and Infinity serve."
    )
    model: str | None = Field(
        None,
        min_length=1,
        max_length=256,
        description="Model name sent with api cohere (e.g. BAAI/bge-reranker-base); TEI serves one model.",
    )
    top_n: int = Field(
        d.RERANK_TOP_N,
        ge=1,
        le=d.RERANK_TOP_N_MAX,
        description="Fused candidates sent to the reranker per query (at least the query's top_k); each "
        "is one cross-encoder pass, so the cost grows with it.",
    )
    timeout_seconds: float | None = Field(
        None,
        ge=0.1,
        le=d.RERANK_TIMEOUT_SECONDS_MAX,
        description=f"Past this the query answers in the fused order. Empty: {d.RERANK_TIMEOUT_SECONDS}.",
    )
    api_key_secret_ref: SecretKeyRef | None = Field(
        None,
        description="Secret key holding the reranking server's API key (OOZO_RERANK_API_KEY, sent as a "
        "bearer header); the Secret must carry the opt-in label.",
    )

    @model_validator(mode="after")
    def _no_credentials_in_endpoint(self) -> Rerank:
        if "@" in self.endpoint:
            raise ValueError("endpoint must not carry credentials: the key comes from apiKeySecretRef")
        return self

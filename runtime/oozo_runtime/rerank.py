"""Reranking the fused top N by a remote cross-encoder (spec.retrieval.rerank, OOZO_RERANK_*).

Two wire shapes, chosen by OOZO_RERANK_API:
- tei: Text Embeddings Inference, `POST {endpoint}/rerank {"query", "texts", "truncate": true}`
  answers `[{"index", "score"}, ...]`.
- cohere: `POST {endpoint}/v1/rerank {"model", "query", "documents", "top_n"}` answers
  `{"results": [{"index", "relevance_score"}, ...]}`: Cohere's API, served by vLLM, Jina and
  Infinity (an endpoint that already ends in /v1 gets /rerank only).

A reranker is an improvement, not a dependency: one that is down, slow (past
OOZO_RERANK_TIMEOUT_SECONDS, connect and answer together), refuses the key or answers nonsense
leaves the fused order in place, and `Reranked.reason` says why it was skipped. No retry: a query
waits for the reranker once, and a second wait would double the latency every user pays while it
is down. Reasons and log lines name the reranker's host, never the key or the URL's user part.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from oozo_contract.rerank_settings import RerankSettings
from oozo_runtime.remote_embedding import host_of
from oozo_runtime.retrieval import Hit

log = logging.getLogger(__name__)

# rag_rerank_total{outcome}: applied, or why it was skipped
APPLIED, TIMEOUT, UNREACHABLE, REFUSED, MALFORMED = (
    "applied",
    "timeout",
    "unreachable",
    "refused",
    "malformed",
)
OUTCOMES = (APPLIED, TIMEOUT, UNREACHABLE, REFUSED, MALFORMED)


class RerankSkipped(Exception):
    """The reranker gave no usable order; `outcome` is the metric label, the message the reason."""

    def __init__(self, outcome: str, reason: str) -> None:
        super().__init__(reason)
        self.outcome = outcome
        self.reason = reason


@dataclass(frozen=True)
class Reranked:
    """The hits in the reranker's order (scores are its scores), or in the fused order with the
    reason reranking was skipped."""

    hits: list[Hit]
    outcome: str
    reason: str | None
    seconds: float

    @property
    def applied(self) -> bool:
        return self.outcome == APPLIED

    def as_dict(self) -> dict[str, Any]:
        """What the query response says about it."""
        if self.applied:
            return {"applied": True}
        return {"applied": False, "skipped": self.reason}


def rerank_url(endpoint: str, api: str) -> str:
    base = endpoint.rstrip("/")
    if api == "tei":
        return f"{base}/rerank"
    return f"{base}/rerank" if base.endswith("/v1") else f"{base}/v1/rerank"


class Reranker:
    def __init__(self, settings: RerankSettings) -> None:
        if not settings.rerank_endpoint:
            raise ValueError("no rerank endpoint configured")
        self.api = settings.rerank_api
        self.url = rerank_url(settings.rerank_endpoint, self.api)
        self.host = host_of(settings.rerank_endpoint)
        self.model = settings.rerank_model
        self.top_n = settings.rerank_top_n
        self.timeout = settings.rerank_timeout_seconds
        headers = {"Content-Type": "application/json"}
        if settings.rerank_api_key is not None:
            headers["Authorization"] = f"Bearer {settings.rerank_api_key.get_secret_value()}"
        # Imported here, not at the top: httpx pulls in rich and pygments for its command line when
        # they are installed, and a server without a reranker should not pay that at start.
        import httpx

        # httpx's own timeout bounds each phase; asyncio.timeout in rerank() bounds them together
        self._client = httpx.AsyncClient(headers=headers, timeout=self.timeout, follow_redirects=False)
        log.info("reranking with a remote cross-encoder", extra={"host": self.host, "api": self.api})

    def identity(self) -> tuple[tuple[str, str], ...]:
        """What a reranked answer depends on, for the answer cache's key (never the key)."""
        return (
            ("api", self.api),
            ("url", self.url),
            ("model", self.model or ""),
            ("top_n", str(self.top_n)),
        )

    async def rerank(self, question: str, hits: Sequence[Hit]) -> Reranked:
        """`hits` (the fused candidates, best first) in the reranker's order; never raises for
        anything the reranker does."""
        started = time.perf_counter()
        if not hits:
            return Reranked([], APPLIED, None, 0.0)
        try:
            scores = await self._scores(question, [h.text for h in hits])
        except RerankSkipped as skipped:
            log.warning("rerank skipped, answering in the fused order", extra={"reason": skipped.reason})
            return Reranked(list(hits), skipped.outcome, skipped.reason, time.perf_counter() - started)
        # Best score first; equal scores keep the fused order (sorted() is stable).
        order = sorted(range(len(hits)), key=lambda i: -scores[i])
        reranked = [dataclasses.replace(hits[i], score=scores[i]) for i in order]
        return Reranked(reranked, APPLIED, None, time.perf_counter() - started)

    async def _scores(self, question: str, texts: list[str]) -> list[float]:
        import httpx

        where = f"reranker {self.host}"
        try:
            async with asyncio.timeout(self.timeout):
                response = await self._client.post(self.url, json=self._request(question, texts))
        except (TimeoutError, httpx.TimeoutException):
            raise RerankSkipped(TIMEOUT, f"{where} did not answer within {self.timeout:g} s") from None
        except httpx.HTTPError as exc:  # the exception's text may hold the URL: its type only
            raise RerankSkipped(UNREACHABLE, f"cannot reach {where} ({type(exc).__name__})") from None
        if response.status_code in (401, 403):
            raise RerankSkipped(REFUSED, f"{where} refused the API key (HTTP {response.status_code})")
        if response.status_code != 200:
            raise RerankSkipped(REFUSED, f"{where} answered HTTP {response.status_code}")
        try:
            return self._parse(response.json(), len(texts))
        except (ValueError, TypeError, KeyError) as exc:
            raise RerankSkipped(MALFORMED, f"{where} answered an unreadable body ({exc})") from None

    def _request(self, question: str, texts: list[str]) -> dict[str, Any]:
        if self.api == "tei":
            return {"query": question, "texts": texts, "truncate": True}
        body: dict[str, Any] = {"query": question, "documents": texts, "top_n": len(texts)}
        if self.model:
            body["model"] = self.model
        return body

    def _parse(self, body: Any, count: int) -> list[float]:
        """One finite score per text, by its index; anything else is malformed."""
        rows, field = (body, "score") if self.api == "tei" else (body["results"], "relevance_score")
        if not isinstance(rows, list):
            raise ValueError("not a list of results")
        scores: dict[int, float] = {}
        for row in rows:
            index, score = row["index"], float(row[field])
            if not isinstance(index, int) or not 0 <= index < count or index in scores:
                raise ValueError(f"index {index!r} is not one of the {count} texts once")
            if score != score or score in (float("inf"), float("-inf")):
                raise ValueError("a score is not a finite number")
            scores[index] = score
        if len(scores) != count:
            raise ValueError(f"{len(scores)} scores for {count} texts")
        return [scores[i] for i in range(count)]

    async def aclose(self) -> None:
        await self._client.aclose()

"""The answer cache: the same question against the same index version is answered once.

Two tiers: an in-process LRU with a TTL (OOZO_ANSWER_CACHE_SIZE entries, 0 turns it off) and,
when OOZO_ANSWER_CACHE_REDIS_URL is set, a Redis shared by all replicas (answer_cache_redis.py).
A lookup asks the LRU, then Redis (a Redis hit is kept in the LRU for the rest of its lifetime);
an answer is stored in both. The key holds everything an answer depends on (`AnswerKey`), the
index version among them, so a new version never meets an old answer and nothing has to be
invalidated. Only complete answers are stored: an error (4xx/5xx), an answer whose generation
failed (the extractive fallback with `error`) or one whose reranking was skipped (the fused order)
is computed again next time.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
import unicodedata
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from cachetools import TLRUCache

from oozo_contract.serve_settings import ServeSettings
from oozo_runtime.server.answer_cache_redis import RedisAnswers
from oozo_runtime.server.metrics import Metrics
from oozo_runtime.server.schemas import QueryRequest

HIT, MISS = "hit", "miss"


def normalise_question(question: str) -> str:
    """The question as the cache compares it: Unicode NFKC (full-width letters, ligatures and
    compatibility forms fold to their plain letters), case-folded (ß = ss) and with every run of
    whitespace collapsed to one space. NFKC again after casefold, which can leave a string that
    is no longer NFKC (Unicode's NFKC_Casefold does the same)."""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", question).casefold())
    return " ".join(folded.split())


def generation_identity(settings: ServeSettings) -> tuple[tuple[str, str], ...]:
    """The generation settings an answer depends on (never the key)."""
    if settings.generation_provider == "extractive":
        return (("provider", "extractive"),)
    return (
        ("provider", settings.generation_provider),
        ("model", settings.openai_model),
        ("base_url", settings.openai_base_url or ""),
        ("temperature", repr(settings.temperature)),
        ("max_tokens", str(settings.max_tokens)),
    )


def rerank_identity(settings: ServeSettings) -> tuple[tuple[str, str], ...]:
    """The reranking settings an answer depends on (never the key): empty when it is off."""
    if not settings.rerank_endpoint:
        return ()
    return (
        ("endpoint", settings.rerank_endpoint),
        ("api", settings.rerank_api),
        ("model", settings.rerank_model or ""),
        ("top_n", str(settings.rerank_top_n)),
    )


@dataclass(frozen=True)
class AnswerKey:
    """Everything an answer depends on. Anything new that changes answers is one more field."""

    index_version: str
    question: str  # normalise_question() of the asked one
    top_k: int
    return_sources: bool
    mode: str | None  # the retrieval mode, when the request names one
    generation: tuple[tuple[str, str], ...]
    rerank: tuple[tuple[str, str], ...] = ()  # rerank_identity(): another reranker, another order

    def digest(self) -> str:
        """A fixed-size name for the key (Redis keys stay short; the question is not in clear)."""
        text = json.dumps(dataclasses.asdict(self), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(text.encode()).hexdigest()


def key_for(
    body: QueryRequest,
    index_version: str,
    generation: tuple[tuple[str, str], ...],
    rerank: tuple[tuple[str, str], ...] = (),
) -> AnswerKey:
    mode = getattr(body, "mode", None)  # the request's retrieval mode, where the API has one
    return AnswerKey(
        index_version=index_version,
        question=normalise_question(body.question),
        top_k=body.top_k,
        return_sources=body.return_sources,
        mode=None if mode is None else str(mode),
        generation=generation,
        rerank=rerank,
    )


@dataclass(frozen=True)
class _Entry:
    body: dict[str, Any]
    expires_at: float  # time.monotonic()


class AnswerCache:
    def __init__(self, settings: ServeSettings, metrics: Metrics) -> None:
        self.ttl_seconds = float(settings.answer_cache_ttl_seconds)
        self.metrics = metrics
        self.generation = generation_identity(settings)
        self.rerank = rerank_identity(settings)
        self.local: TLRUCache[str, _Entry] | None = None
        if settings.answer_cache_size > 0:
            self.local = TLRUCache(
                maxsize=settings.answer_cache_size, ttu=lambda _key, entry, _now: entry.expires_at
            )
        self.redis = RedisAnswers(settings, metrics) if settings.answer_cache_redis_url else None

    @property
    def enabled(self) -> bool:
        return self.local is not None or self.redis is not None

    async def answered(
        self,
        body: QueryRequest,
        index_version: str,
        compute: Callable[[], Awaitable[tuple[int, dict[str, Any]]]],
    ) -> tuple[int, dict[str, Any]]:
        """The cached status and body for this question, else `compute()`'s (stored when
        complete). `timings` says which: `cache` is "hit" or "miss" and `cache_ms` the lookup's
        time. /api/query, the MCP `ask` tool and the chat route all answer through here."""
        if not self.enabled:
            return await compute()
        started = time.perf_counter()
        key = key_for(body, index_version, self.generation, self.rerank).digest()
        cached = await self._get(key)
        lookup_ms = (time.perf_counter() - started) * 1000
        if cached is not None:
            self.metrics.answer_cache.labels(HIT).inc()
            hit = {"cache": HIT, "cache_ms": round(lookup_ms, 3), "total_ms": round(lookup_ms, 3)}
            return 200, {**cached, "timings": hit}
        self.metrics.answer_cache.labels(MISS).inc()
        status, content = await compute()
        # A skipped rerank is a degraded answer: the next asker gets the reranker's order.
        if status == 200 and not content.get("error") and content.get("rerank", {}).get("applied", True):
            await self._put(key, {k: v for k, v in content.items() if k != "timings"})
        timings: dict[str, Any] = dict(content.get("timings", {}))
        timings.update(
            cache=MISS,
            cache_ms=round(lookup_ms, 3),
            total_ms=round(timings.get("total_ms", 0.0) + lookup_ms, 3),
        )
        return status, {**content, "timings": timings}

    async def _get(self, key: str) -> dict[str, Any] | None:
        if self.local is not None:
            entry = self.local.get(key)
            if entry is not None:
                return entry.body
        if self.redis is None:
            return None
        found = await self.redis.get(key)
        if found is None:
            return None
        body, remaining = found
        if self.local is not None and remaining > 0:  # the LRU keeps it no longer than Redis does
            self.local[key] = _Entry(body, time.monotonic() + min(remaining, self.ttl_seconds))
        return body

    async def _put(self, key: str, body: dict[str, Any]) -> None:
        if self.local is not None:
            self.local[key] = _Entry(body, time.monotonic() + self.ttl_seconds)
        if self.redis is not None:
            await self.redis.put(key, body, self.ttl_seconds)

    async def aclose(self) -> None:
        if self.redis is not None:
            await self.redis.aclose()

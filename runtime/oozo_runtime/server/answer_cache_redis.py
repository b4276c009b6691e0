"""The shared tier of the answer cache: one Redis for all replicas (OOZO_ANSWER_CACHE_REDIS_URL,
the password from OOZO_ANSWER_CACHE_REDIS_PASSWORD).

The cache must never cost a query its answer: every call is bounded (connect and read timeout,
no retries), any failure is a miss plus `rag_answer_cache_errors_total{backend="redis"}`, and
after a failure Redis is left alone for a few seconds, so a Redis that is down or unreachable
costs one bounded call per interval instead of one per query. The failure is logged at most once
per minute, naming the host and the error, never the password (it is not in the URL: the
settings refuse a URL with credentials)."""

from __future__ import annotations

import json
import logging
import time
from typing import Any
from urllib.parse import urlsplit

from oozo_contract.serve_settings import ServeSettings
from oozo_runtime.server.metrics import Metrics

log = logging.getLogger(__name__)

# After a failed call, skip Redis this long: a blackholed host would otherwise cost every query
# the full connect timeout.
RETRY_AFTER_SECONDS = 5.0
LOG_INTERVAL_SECONDS = 60.0
# The value format: a change of what is stored changes this, so old entries miss instead of
# being misread.
KEY_PREFIX = "oozo:answer:v1:"


class RedisAnswers:
    def __init__(self, settings: ServeSettings, metrics: Metrics) -> None:
        import redis.asyncio as redis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        url = settings.answer_cache_redis_url
        if url is None:
            raise ValueError("RedisAnswers needs OOZO_ANSWER_CACHE_REDIS_URL")
        password = settings.answer_cache_redis_password
        timeout = settings.answer_cache_redis_timeout_seconds
        self.client = redis.Redis.from_url(
            url,
            password=password.get_secret_value() if password else None,
            socket_connect_timeout=timeout,
            socket_timeout=timeout,
            retry=Retry(NoBackoff(), 0),  # the caller is waiting: one bounded attempt
        )
        parts = urlsplit(url)
        self.where = f"{parts.hostname}:{parts.port or 6379}"  # what the log names: host, not secrets
        self.metrics = metrics
        self.skip_until = 0.0
        self.logged_at: float | None = None

    async def get(self, key: str) -> tuple[dict[str, Any], float] | None:
        """The stored body and its remaining lifetime in seconds, or None (absent or failed)."""
        if self._resting():
            return None
        try:
            pipe = self.client.pipeline(transaction=False)
            pipe.get(KEY_PREFIX + key)
            pipe.pttl(KEY_PREFIX + key)
            raw, pttl = await pipe.execute()
            if raw is None:
                return None
            body = json.loads(raw)
            if not isinstance(body, dict):
                raise ValueError("a cached answer is not a JSON object")
        except Exception as exc:  # whatever Redis does, the query answers without it
            self._failed(exc)
            return None
        return body, max(int(pttl), 0) / 1000

    async def put(self, key: str, body: dict[str, Any], ttl_seconds: float) -> None:
        if self._resting():
            return
        data = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
        try:
            await self.client.set(KEY_PREFIX + key, data, px=max(1, int(ttl_seconds * 1000)))
        except Exception as exc:
            self._failed(exc)

    async def aclose(self) -> None:
        try:
            await self.client.aclose()
        except Exception:  # closing a connection to a Redis that is gone is not worth a traceback
            log.debug("closing the Redis answer cache failed", exc_info=True)

    def _resting(self) -> bool:
        return time.monotonic() < self.skip_until

    def _failed(self, exc: Exception) -> None:
        now = time.monotonic()
        self.skip_until = now + RETRY_AFTER_SECONDS
        self.metrics.answer_cache_errors.labels("redis").inc()
        if self.logged_at is None or now - self.logged_at >= LOG_INTERVAL_SECONDS:
            self.logged_at = now
            log.warning(
                "answer cache: Redis failed; answering without it",
                extra={"redis": self.where, "error": f"{type(exc).__name__}: {exc}"},
            )

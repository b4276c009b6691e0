"""The bounded pool that searches questions off the event loop (and encodes them too on the
torch path; ONNX encodes in batches on its own thread first: encode_batcher.py).

At most `size` questions are searched at once (OOZO_QUERY_CONCURRENCY, default the
pod's CPU limit: state.cpu_limit): ONNX Runtime and FAISS release the GIL, so each runs on its
own core, and more threads than cores would only queue for the CFS quota. Every interface that
retrieves (/api/query, the MCP tools, chat) goes through `run`. What is in the pool right now,
and the most there ever was, are metrics (`rag_query_pool_in_flight`, `..._peak`), so a
dashboard (and a test) can see the bound hold."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

import anyio

from oozo_runtime.server.metrics import Metrics

T = TypeVar("T")


class QueryPool:
    def __init__(self, size: int, metrics: Metrics) -> None:
        self.size = size
        self.limiter = anyio.CapacityLimiter(size)
        self.metrics = metrics
        self._lock = threading.Lock()
        self._in_flight = 0
        self._peak = 0
        metrics.pool_size.set(size)

    async def run(self, function: Callable[..., T], *args: object) -> T:
        """`function(*args)` in a worker thread once the pool has room."""
        return await anyio.to_thread.run_sync(self._counted, function, *args, limiter=self.limiter)

    def _counted(self, function: Callable[..., T], *args: object) -> T:
        # counted inside the worker thread: what the limiter let in, not what waits for it
        with self._lock:
            self._in_flight += 1
            self._peak = max(self._peak, self._in_flight)
            self.metrics.pool_in_flight.set(self._in_flight)
            self.metrics.pool_peak.set(self._peak)
        try:
            return function(*args)
        finally:
            with self._lock:
                self._in_flight -= 1
                self.metrics.pool_in_flight.set(self._in_flight)

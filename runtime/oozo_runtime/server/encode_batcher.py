"""Dynamic ("continuous") batching of question encodings, as Text Embeddings Inference and
Triton do it: concurrent requests put their question on a queue, and one encoder thread takes
everything queued whenever it becomes free (up to MAX_BATCH) and encodes it in one ONNX Runtime
call. There is no waiting timer: a lone question is encoded at once, and batches form only when
questions arrive while the encoder is busy, which is exactly when batching pays (a batch of 8
costs about half the CPU per question of 8 single encodes, measured on all-MiniLM-L6-v2).

The encoder thread is the only thread that encodes, so its session may use every CPU the worker
has (state.py sizes it); searching stays per request in the bounded query pool (pool.py).

Every caller of a batch gets its own vector or an error: a batch that fails is encoded again
question by question, so a question the tokenizer refuses fails only its own caller while a
failure of the encoder itself fails each of them. A caller that went away (a cancelled request,
a closed connection) is skipped and breaks nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from oozo_runtime.errors import OozoError
from oozo_runtime.server.metrics import Metrics

log = logging.getLogger(__name__)

MAX_BATCH = 32  # ONNX Runtime's CPU time per question stops falling well before 32 short texts
ENCODE_FAILED = "QueryEncodeFailed"

# questions in, one vector per question out: shape (len(questions), dimension)
EncodeMany = Callable[[list[str]], np.ndarray]


class QueryEncodeError(OozoError):
    """The question could not be encoded; the message says the exception's type, never its text
    (it may quote the question or name paths)."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(ENCODE_FAILED, f"the question could not be encoded ({type(cause).__name__})")


@dataclass(frozen=True)
class _Waiting:
    question: str
    future: asyncio.Future[np.ndarray]
    loop: asyncio.AbstractEventLoop

    def gone(self) -> bool:
        return self.future.done()  # cancelled: the request went away before its turn

    def settle(self, vector: np.ndarray | None, error: BaseException | None) -> None:
        settle_all([(self, vector, error)])


# one caller's outcome: its vector, or the error it gets instead
_Outcome = tuple[_Waiting, np.ndarray | None, BaseException | None]


def settle_all(outcomes: list[_Outcome]) -> None:
    """Hands each caller its outcome with one wake-up of each event loop, not one per caller:
    every call_soon_threadsafe writes to the loop's wake-up pipe, and under load a batch of 32
    paid 32 of those writes (and the GIL hand-overs with them) where one does."""
    by_loop: dict[asyncio.AbstractEventLoop, list[_Outcome]] = {}
    for outcome in outcomes:
        by_loop.setdefault(outcome[0].loop, []).append(outcome)
    for loop, settled in by_loop.items():
        # a closed event loop raises RuntimeError: its callers are gone, nobody waits any more
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(_settle, settled)


def _settle(outcomes: list[_Outcome]) -> None:
    for waiting, vector, error in outcomes:
        if waiting.future.done():  # cancelled while its batch was encoded
            continue
        if error is not None:
            waiting.future.set_exception(error)
        else:
            waiting.future.set_result(vector)  # type: ignore[arg-type]


class EncodeBatcher:
    """Owns the encoder thread. `encode_query` is called from the event loop; `start` begins
    taking questions (questions queued before it form the first batch)."""

    def __init__(self, encode_many: EncodeMany, metrics: Metrics, max_batch: int = MAX_BATCH) -> None:
        self.encode_many = encode_many
        self.metrics = metrics
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue[_Waiting | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="query-encoder", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Ends the encoder thread once what is queued is encoded."""
        self._queue.put(None)

    async def encode_query(self, question: str) -> np.ndarray:
        """The question's vector, shape (1, dimension); raises QueryEncodeError."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[np.ndarray] = loop.create_future()
        self._queue.put(_Waiting(question, future, loop))
        return await future

    def _next_batch(self) -> list[_Waiting] | None:
        """Blocks for one question, then takes whatever else is queued, without waiting."""
        first = self._queue.get()
        if first is None:
            return None
        batch = [first]
        while len(batch) < self.max_batch:
            try:
                waiting = self._queue.get_nowait()
            except queue.Empty:
                break
            if waiting is None:
                self._queue.put(None)  # stop after this batch
                break
            batch.append(waiting)
        return batch

    def _run(self) -> None:
        while (batch := self._next_batch()) is not None:
            live = [w for w in batch if not w.gone()]
            if live:
                self.metrics.encode_batch_size.observe(len(live))
                self._encode(live)

    def _encode(self, batch: list[_Waiting]) -> None:
        try:
            vectors = self.encode_many([w.question for w in batch])
        except Exception as exc:
            if len(batch) > 1:  # find the one that failed: the others still get their vectors
                self.metrics.encode_batch_retries.inc()
                for waiting in batch:
                    self._encode([waiting])
                return
            log.warning("query encode failed", extra={"error": type(exc).__name__})
            self.metrics.encode_errors.inc()
            batch[0].settle(None, QueryEncodeError(exc))
            return
        settle_all([(waiting, vectors[row : row + 1], None) for row, waiting in enumerate(batch)])

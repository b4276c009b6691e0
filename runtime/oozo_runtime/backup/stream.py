"""Moving bytes between the threads of a backup or a restore.

ChunkPipe is a bounded in-process pipe of byte chunks between a producer and a consumer thread.

Backup (pack → upload) and restore (download → unpack) each run two stages at once. An OS pipe
between them costs two kernel copies of every byte and a context switch per 64 KiB; this hands
the producer's chunks over as they are, and copies only where the consumer asks for a size the
chunks do not already have.

Either side can give up: the consumer with `abort()` (the producer's next `write` raises
BrokenPipeError, like a closed pipe), the producer by `close()` in a `finally` (the consumer sees
end of stream, then asks the producer thread why).

BackgroundWriter takes the file writes of an unpack off the thread that decompresses and hashes.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from typing import BinaryIO, Protocol

MiB = 1024 * 1024


class ByteSink(Protocol):
    def write(self, data: bytes, /) -> int: ...


class ByteSource(Protocol):
    def read(self, n: int = -1, /) -> bytes: ...


class ChunkPipe:
    """Holds at most `limit` bytes; `read(n)` blocks until n bytes or end of stream, so a reader
    that needs exact sizes (S3 multipart parts) gets them. `n` must stay below `limit`."""

    def __init__(self, limit: int = 64 * MiB) -> None:
        self.limit = limit
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._closed = False  # the producer is done
        self._aborted = False  # the consumer is gone
        self._cond = threading.Condition()

    # producer side
    def write(self, data: bytes | bytearray | memoryview) -> int:
        chunk = data if isinstance(data, bytes) else bytes(data)  # the caller may reuse its buffer
        with self._cond:
            while self._buffered >= self.limit and not self._aborted:
                self._cond.wait()
            if self._aborted:
                raise BrokenPipeError("the reading side of the pipe has gone")
            if chunk:
                self._chunks.append(chunk)
                self._buffered += len(chunk)
                self._cond.notify_all()
        return len(chunk)

    def flush(self) -> None:
        """File-object protocol: chunks are handed over on write, nothing is held back."""

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    # consumer side
    def read(self, n: int = -1) -> bytes:
        """`n` bytes, fewer only at the end of the stream, b"" after it (n < 0: whatever is
        buffered once the pipe is full or closed)."""
        with self._cond:
            want = self.limit if n < 0 else min(n, self.limit)
            while self._buffered < want and not self._closed and not self._aborted:
                self._cond.wait()
            if self._aborted:
                return b""
            parts: list[bytes] = []
            got = 0
            target = self._buffered if n < 0 else min(n, self._buffered)
            while got < target:
                chunk = self._chunks.popleft()
                if got + len(chunk) > target:  # keep the tail for the next read
                    cut = target - got
                    self._chunks.appendleft(chunk[cut:])
                    chunk = chunk[:cut]
                parts.append(chunk)
                got += len(chunk)
            self._buffered -= got
            self._cond.notify_all()
        if len(parts) == 1:
            return parts[0]
        return b"".join(parts)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def abort(self) -> None:
        """The consumer gives up: drop what is buffered and fail the producer's next write."""
        with self._cond:
            self._aborted = True
            self._chunks.clear()
            self._buffered = 0
            self._cond.notify_all()


class BackgroundWriter:
    """Writes chunks to open files on its own thread, in order, so the disk write (the slowest
    step of a restore) overlaps decompressing and hashing the next chunk. A failed write is
    raised by the next call, and by `finish()`, which also closes every file handed over."""

    def __init__(self, depth: int = 16) -> None:
        self._queue: queue.Queue[tuple[BinaryIO, bytes | None] | None] = queue.Queue(maxsize=depth)
        self._error: OSError | None = None
        self._thread = threading.Thread(target=self._run, name="oozo-write", daemon=True)
        self._thread.start()

    def write(self, out: BinaryIO, data: bytes) -> None:
        self._raise()
        self._queue.put((out, data))

    def close_file(self, out: BinaryIO) -> None:
        self._queue.put((out, None))

    def finish(self, raise_error: bool = True) -> None:
        self._queue.put(None)
        self._thread.join()
        if raise_error:
            self._raise()

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            out, data = item
            try:
                if data is None:
                    out.close()
                elif self._error is None:
                    out.write(data)
            except OSError as exc:  # disk full, I/O error: kept for the producer
                self._error = self._error or exc

"""Documents are parsed in a separate process with a time and a memory budget.

A parser that loops, backtracks or inflates a bomb inside the indexer would stall the Job until
its deadline or get the whole pod OOM-killed, losing every other document of the build. Here the
parsing happens in one worker process, started on the first document that needs parsing and
reused for the next ones (one start per build, not per document): its address space is capped
with RLIMIT_AS, and a document that takes longer than its budget gets the worker killed and is
skipped with the reason; the next document starts a fresh worker.

The worker is a fresh interpreter (`python -m oozo_runtime.indexing.isolation`), not a fork: the
indexer may be loading the model in a thread at that moment, and a forked copy of a process with
threads can deadlock on a lock one of them held. multiprocessing's `spawn` would re-import the
caller's `__main__`, which breaks any script that calls `build()` without a main guard; a plain
subprocess with two pipes of its own (not stdout, where a library may print) has neither problem.
"""

from __future__ import annotations

import logging
import os
import pickle
import resource
import subprocess
import sys
from multiprocessing.connection import Connection
from pathlib import Path
from types import TracebackType

from oozo_runtime.indexing.parsing import Block, DocumentLimits, UnusableDocument, parse_file

log = logging.getLogger(__name__)

_MB = 1024 * 1024


def _peak_address_space() -> int:
    """VmPeak of this process in bytes (0 where /proc is missing)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmPeak:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _worker(requests: Connection, replies: Connection, memory_bytes: int) -> None:
    """Parse the (path, limits) the parent sends, one at a time; send back the blocks or the
    reason. A parser that runs out of memory inside C code (libxml2) does not raise MemoryError
    but an error of its own ("XMLSyntaxError: unknown error"): a failure after the address space
    came within 10% of the limit is reported as what it is, a document too big to parse."""
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    while True:
        try:
            path, limits = requests.recv()
        except (EOFError, OSError):  # the parent is done (or gone)
            return
        try:
            replies.send(("blocks", parse_file(Path(path), limits)))
            continue
        except MemoryError:
            reason = None
        except UnusableDocument as exc:
            reason = str(exc)
        except Exception as exc:  # a parser bug must cost this document only
            reason = f"cannot parse ({type(exc).__name__}: {exc})"
        if reason is None or _peak_address_space() >= 0.9 * memory_bytes:
            replies.send(("memory", ""))
            return  # the heap may be left in pieces: the next document gets a fresh worker
        replies.send(("unusable", reason))


class IsolatedParser:
    """`parse(path)` returns the blocks of one document or raises UnusableDocument."""

    def __init__(self, limits: DocumentLimits, timeout_seconds: float, memory_mb: int) -> None:
        self.limits = limits
        self.timeout_seconds = timeout_seconds
        self.memory_mb = memory_mb
        self._process: subprocess.Popen[bytes] | None = None
        self._requests: Connection | None = None
        self._replies: Connection | None = None

    def __enter__(self) -> IsolatedParser:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _start(self) -> tuple[Connection, Connection]:
        request_read, request_write = os.pipe()
        reply_read, reply_write = os.pipe()
        try:
            argv = [str(request_read), str(reply_write), str(self.memory_mb * _MB)]
            self._process = subprocess.Popen(
                [sys.executable, "-m", __name__, *argv],
                pass_fds=(request_read, reply_write),
                stdin=subprocess.DEVNULL,
            )
        finally:
            os.close(request_read)
            os.close(reply_write)
        self._requests = Connection(request_write, readable=False)
        self._replies = Connection(reply_read, writable=False)
        return self._requests, self._replies

    def parse(self, path: Path) -> list[Block]:
        if self._requests is None or self._replies is None:
            requests, replies = self._start()
        else:
            requests, replies = self._requests, self._replies
        try:
            requests.send((str(path), self.limits))
            ready = replies.poll(self.timeout_seconds)  # True also when the worker died
        except OSError:  # BrokenPipeError: the worker is gone
            ready = True
        if not ready:
            self.close(stuck=True)
            raise UnusableDocument(
                f"parsing took longer than {self.timeout_seconds:g} s (OOZO_DOCUMENT_TIMEOUT_SECONDS)"
            )
        try:
            kind, value = replies.recv()
        except (EOFError, OSError, pickle.UnpicklingError):
            code = self._exit_code()
            self.close()
            raise UnusableDocument(f"the parser process died parsing it (exit code {code})") from None
        if kind == "memory":
            self.close()
            raise UnusableDocument(
                f"needs more than {self.memory_mb} MB of memory to parse (OOZO_PARSER_MEMORY_MB)"
            )
        if kind == "unusable":
            raise UnusableDocument(value)
        blocks: list[Block] = value
        return blocks

    def _exit_code(self) -> int | None:
        if self._process is None:
            return None
        try:
            return self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            return None

    def close(self, stuck: bool = False) -> None:
        """Stop the worker: politely when it is idle (closing its request pipe ends its loop),
        by SIGKILL when it is stuck in a parse."""
        process, requests, replies = self._process, self._requests, self._replies
        self._process = self._requests = self._replies = None
        for conn in (requests, replies):
            if conn is not None:
                conn.close()
        if process is None:
            return
        if not stuck:
            try:
                process.wait(timeout=5)
                return
            except subprocess.TimeoutExpired:
                pass
        process.kill()
        process.wait()


if __name__ == "__main__":
    _worker(
        Connection(int(sys.argv[1]), writable=False),
        Connection(int(sys.argv[2]), readable=False),
        int(sys.argv[3]),
    )

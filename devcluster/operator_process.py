"""The Oozo operator as a subprocess against the dev cluster: the same `oozo-operator` command
the image runs, started from this checkout's .venv with the cluster's admin kubeconfig."""

from __future__ import annotations

import signal
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Self

from devcluster import REPO, procs
from devcluster.ports import free_port

VENV_BIN = REPO / ".venv" / "bin"


class OperatorProcess:
    """One operator process at a time; `start()` again after `stop()` or `kill()` starts a new one
    with a log file of its own (operator-1.log, operator-2.log, …)."""

    def __init__(self, env: dict[str, str], log_dir: Path, **settings: str) -> None:
        """`env` carries KUBECONFIG; `settings` are OOZO_* variables on top of it."""
        self.env = {**env, **settings}
        self.log_dir = log_dir
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.metrics_port = 0
        self.liveness_port = 0

    @property
    def log_path(self) -> Path:
        return self.log_dir / f"operator-{self.starts}.log"

    def start(self) -> Self:
        """Start it and return at once (kopf then lists and opens its watches on its own time)."""
        self.starts += 1
        self.metrics_port = free_port()
        self.liveness_port = free_port()
        self.proc = procs.spawn(
            [
                str(VENV_BIN / "oozo-operator"),
                "--liveness-port",
                str(self.liveness_port),
                "--metrics-port",
                str(self.metrics_port),
            ],
            self.log_path,
            detached=False,
            cwd=REPO,
            env=self.env,
        )
        return self

    def wait_live(self, timeout: float = 60) -> Self:
        """Return once its liveness endpoint answers (kopf is then watching); raise with the log's
        tail when it exits or stays silent."""
        assert self.proc is not None, "start() first"
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"oozo-operator exited with {self.proc.returncode}:\n{self.log_tail()}")
            ok, _ = procs.http_ok(f"http://127.0.0.1:{self.liveness_port}/healthz")
            if ok:
                return self
            if time.monotonic() > deadline:
                raise TimeoutError(f"oozo-operator not live after {timeout}s:\n{self.log_tail()}")
            time.sleep(0.3)

    def kill(self) -> None:
        """SIGKILL: no clean shutdown, as when a node dies mid-reconcile."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()

    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def metrics(self) -> str:
        return self._get(self.metrics_port, "/metrics")

    def healthz(self) -> str:
        return self._get(self.liveness_port, "/healthz")

    def log_tail(self, lines: int = 60) -> str:
        return procs.tail(self.log_path, lines)

    @staticmethod
    def _get(port: int, path: str) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
            return r.read().decode()

"""One container of a pod on the local node: its spec, the state the kubelet reports, its probes
and restart back-off, and the process of its current run."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import time
from pathlib import Path

from devcluster.kubelet.pod_status import ContainerState
from devcluster.kubelet.probes import Probe


def _die_with_parent() -> None:
    ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: no orphan if we are killed


class ContainerProcess:
    """One run of one container."""

    def __init__(self, popen: subprocess.Popen[bytes], log_path: Path, term_path: Path) -> None:
        self.popen = popen
        self.log_path = log_path
        self.term_path = term_path

    @classmethod
    def start(
        cls, argv: list[str], env: dict[str, str], cwd: str, log_path: Path, term_path: Path
    ) -> ContainerProcess:
        """Start the run in a session of its own (signals go to its whole process group), output
        appended to log_path; it dies with the thread that started it (PR_SET_PDEATHSIG)."""
        with log_path.open("ab") as out:
            popen = subprocess.Popen(
                argv,
                env=env,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        return cls(popen, log_path, term_path)

    def signal(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, sig)

    def release(self) -> None:
        """Free what the run holds after it exited (a process holds nothing; a container does)."""

    @property
    def runtime_id(self) -> str:
        """containerID in the pod's status ("": a process is named by its pid)."""
        return ""

    def exec_argv(self, argv: list[str]) -> list[str]:
        """How to run argv (an exec probe or hook) where the container runs: on the host."""
        return argv


class Container:
    def __init__(self, spec: dict, init: bool) -> None:
        self.spec = spec
        self.init = init
        self.state = ContainerState(name=spec["name"], image=spec.get("image", ""))
        self.proc: ContainerProcess | None = None
        self.restart_at = 0.0
        self.backoff = 1.0
        self.readiness: Probe | None = None
        self.liveness: Probe | None = None
        self.startup: Probe | None = None
        self.started_mono = 0.0

    def run_due_probes(self) -> str | None:
        """Run the probes that are due on the running container and update started/ready; the
        reason to restart it when its startup or liveness probe has failed for good."""
        now = time.monotonic()
        if self.startup and not self.state.started:
            if now >= self.startup.next_at and self.startup.run():
                self.state.started = True
            elif self.startup.failures >= self.startup.t["failure"]:
                return "startup probe failed"
            return None
        if self.liveness and now >= self.liveness.next_at:
            self.liveness.run()
            if self.liveness.failures >= self.liveness.t["failure"]:
                return "liveness probe failed"
        if self.readiness and now >= self.readiness.next_at:
            ok = self.readiness.run()
            if ok and self.readiness.successes >= self.readiness.t["success"]:
                self.state.ready = True
            elif not ok and self.readiness.failures >= self.readiness.t["failure"]:
                self.state.ready = False
        elif not self.readiness:
            self.state.ready = self.state.started
        return None

"""Everything around a running control plane that the whole loop needs: the RagCorpus CRD, the
PV provisioner, the local kubelet and the operator (a real `oozo operator` subprocess).
Shared by the e2e fixtures and `make demo`.

    stack = Stack(plane.kubeconfig, workdir).start(); ...; stack.stop()
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

from tests.harness import procs
from tests.harness.local_kubelet import LocalKubelet
from tests.harness.provisioner import Provisioner

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = REPO / ".venv" / "bin"
CRDS = REPO / "crds"

LOCAL_NODE_SELECTOR = {"oozo.dev/local-kubelet": "true"}
LOCAL_NODE_TOLERATION = {
    "key": "oozo.dev/local-kubelet",
    "operator": "Equal",
    "value": "true",
    "effect": "NoSchedule",
}
# spec.scheduling of a RagCorpus whose pods the local kubelet should run.
LOCAL_SCHEDULING = {"nodeSelector": LOCAL_NODE_SELECTOR, "tolerations": [LOCAL_NODE_TOLERATION]}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def kubectl(
    kubeconfig: Path, *args: str, input: str | None = None, check: bool = True, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    run = subprocess.run(
        ["kubectl", f"--kubeconfig={kubeconfig}", *args],
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check and run.returncode != 0:
        raise RuntimeError(f"kubectl {' '.join(args)} failed ({run.returncode}):\n{run.stderr}{run.stdout}")
    return run


class Stack:
    def __init__(self, kubeconfig: Path, workdir: Path) -> None:
        self.kubeconfig = Path(kubeconfig)
        self.workdir = Path(workdir).resolve()
        self.provisioner = Provisioner(self.kubeconfig, self.workdir / "pv")
        self.kubelet = LocalKubelet(self.kubeconfig, workdir=self.workdir / "kubelet", python_bin=VENV_BIN)
        self.operator: subprocess.Popen[bytes] | None = None
        self.operator_log = self.workdir / "logs" / "operator.log"
        self.liveness_port = 0

    def start(self) -> Stack:
        try:
            self.install_crds()
            self.provisioner.start()
            self.kubelet.start()
            self.start_operator()
        except BaseException:
            self.stop()
            raise
        return self

    def install_crds(self) -> None:
        kubectl(self.kubeconfig, "apply", "--server-side", "-f", str(CRDS))
        kubectl(
            self.kubeconfig,
            "wait",
            "--for=condition=Established",
            "--timeout=60s",
            "crd/ragcorpora.rag.oozo.dev",
        )

    def start_operator(self, timeout: float = 60) -> None:
        """`oozo operator` as a subprocess with the control plane's admin kubeconfig; returns once
        its liveness endpoint answers (kopf is then watching)."""
        self.liveness_port = free_port()
        env = {
            **os.environ,
            "KUBECONFIG": str(self.kubeconfig),
            "OOZO_LOG_FORMAT": "text",
            "PYTHONUNBUFFERED": "1",
        }
        args = [
            str(VENV_BIN / "oozo-operator"),
            "--liveness-port",
            str(self.liveness_port),
            "--metrics-port",
            str(free_port()),
        ]
        self.operator = procs.spawn(args, self.operator_log, detached=False, cwd=REPO, env=env)
        deadline = time.monotonic() + timeout
        while True:
            if self.operator.poll() is not None:
                raise RuntimeError(
                    f"oozo operator exited with {self.operator.returncode}:\n{procs.tail(self.operator_log)}"
                )
            ok, _ = procs.http_ok(f"http://127.0.0.1:{self.liveness_port}/healthz")
            if ok:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"oozo operator not live after {timeout}s:\n{procs.tail(self.operator_log)}"
                )
            time.sleep(0.3)

    def stop(self) -> None:
        """Operator first (so nothing reacts to the teardown), then pods, then volumes."""
        if self.operator is not None and self.operator.poll() is None:
            self.operator.terminate()
            try:
                self.operator.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.operator.kill()
                self.operator.wait()
        self.kubelet.stop()
        self.provisioner.stop()

    def operator_tail(self, lines: int = 60) -> str:
        return procs.tail(self.operator_log, lines)

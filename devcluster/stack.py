"""Everything around a running control plane that the whole loop needs: the RagCorpus CRD, the
PV provisioner, the local kubelet and the operator (a real `oozo-operator` subprocess).
Shared by the e2e fixtures and `make demo`.

    stack = Stack(plane.kubeconfig, workdir).start(); ...; stack.stop()
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from devcluster.kubelet.local import LocalKubelet
from devcluster.operator_process import VENV_BIN, OperatorProcess
from devcluster.provisioner import Provisioner
from devcluster.ragcorpus import install_crd


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


def generated_api_key(kubeconfig: Path, namespace: str, corpus: str) -> str:
    """The key Oozo generated for a corpus, read as the docs tell a user to:
    `kubectl get secret NAME-api-key -o jsonpath='{.data.api-key}' | base64 -d`."""
    import base64

    run = kubectl(
        kubeconfig, "get", "secret", f"{corpus}-api-key", "-n", namespace, "-o", "jsonpath={.data.api-key}"
    )
    return base64.b64decode(run.stdout).decode()


class Stack:
    def __init__(
        self, kubeconfig: Path, workdir: Path, kubelet_runtime: str | None = None, **operator_settings: str
    ) -> None:
        """kubelet_runtime: how the local kubelet runs pods ('process' or 'podman'; None reads
        OOZO_KUBELET_RUNTIME, default 'process'). operator_settings: OOZO_* variables of the
        operator's on top of the environment's (e.g. OOZO_SERVER_IMAGE for a node that runs
        containers)."""
        self.kubeconfig = Path(kubeconfig)
        self.workdir = Path(workdir).resolve()
        self.provisioner = Provisioner(self.kubeconfig, self.workdir / "pv")
        self.kubelet = LocalKubelet(
            self.kubeconfig, workdir=self.workdir / "kubelet", python_bin=VENV_BIN, runtime=kubelet_runtime
        )
        self.env = {**os.environ, "KUBECONFIG": str(self.kubeconfig)}
        self.operator = OperatorProcess(
            self.env, self.workdir / "logs", OOZO_LOG_FORMAT="text", PYTHONUNBUFFERED="1", **operator_settings
        )

    def start(self) -> Stack:
        try:
            install_crd(self.env)
            self.provisioner.start()
            self.kubelet.start()
            self.operator.start().wait_live()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Operator first (so nothing reacts to the teardown), then pods, then volumes."""
        self.operator.stop()
        self.kubelet.stop()
        self.provisioner.stop()

    def operator_tail(self, lines: int = 60) -> str:
        return self.operator.log_tail(lines)

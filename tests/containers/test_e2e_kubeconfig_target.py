"""The e2e tier's `kubeconfig` target, as `make kind-e2e` runs it, against the local control
plane: Oozo installed by `helm install` of the chart, its operator a pod that the local kubelet
runs in the oozo-operator image's container (in-cluster configuration from the pod's
ServiceAccount token volume, under the chart's RBAC), the corpora's pods in containers too; then
an e2e module runs with OOZO_E2E_TARGET=kubeconfig and starts nothing of its own. What differs on
kind is kind itself: its node, its kubelet and containerd, its network."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from devcluster.containers.podman import Podman
from devcluster.controlplane.plane import LOCAL_NODE_SELECTOR, LOCAL_NODE_TOLERATION
from devcluster.kubelet.local import LocalKubelet
from devcluster.operator_process import VENV_BIN
from devcluster.ports import free_ports
from devcluster.provisioner import Provisioner
from devcluster.ragcorpus import install_crd

pytestmark = pytest.mark.timeout(1800)

REPO = Path(__file__).resolve().parents[2]
RELEASE, NAMESPACE = "oozo", "oozo-e2e-system"
E2E_MODULE = "tests/e2e/test_quickstart_loop.py"


def helm(env: dict[str, str], *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    binary = subprocess.run(
        ["bash", str(REPO / "hack/tools/helm.sh")], check=True, capture_output=True, text=True
    ).stdout.strip()
    return subprocess.run(
        [binary, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def chart_values(metrics_port: int) -> dict[str, Any]:
    """What kind-e2e.sh sets, plus this host's differences: the operator pinned to the local
    kubelet's node; the CRD already installed by the session (the chart must not own it); the
    admission policy off (the session's admission tests own it); a free metrics port (host
    network)."""
    return {
        "image": {"repository": "oozo-operator", "tag": "dev"},
        "serverImage": "oozo-server:dev",
        "indexerImage": "oozo-indexer:dev",
        "crds": {"install": False},
        "corpusPolicy": {"admission": False},
        "nodeSelector": LOCAL_NODE_SELECTOR,
        "tolerations": [LOCAL_NODE_TOLERATION],
        "metrics": {"port": metrics_port},
    }


def test_an_e2e_module_passes_on_the_kubeconfig_target_with_the_chart_installed_operator(
    control_plane: Any, podman: Podman, tmp_path: Path
) -> None:
    env = control_plane.env()
    install_crd(env)
    values = tmp_path / "values.yaml"
    values.write_text(yaml.safe_dump(chart_values(free_ports(1)[0])))
    provisioner = Provisioner(control_plane.kubeconfig, tmp_path / "pv").start()
    kubelet = LocalKubelet(
        control_plane.kubeconfig, workdir=tmp_path / "kubelet", python_bin=VENV_BIN, runtime="podman"
    ).start()
    try:
        install = helm(
            env,
            "install", RELEASE, str(REPO / "charts/oozo"), "--namespace", NAMESPACE,
            "--create-namespace", "--values", str(values), "--wait", "--timeout", "5m",
        )  # fmt: skip
        assert install.returncode == 0, install.stderr + operator_logs(kubelet)
        run = subprocess.run(
            [sys.executable, "-m", "pytest", E2E_MODULE, "-q", "-x", "-p", "no:cacheprovider"],
            cwd=REPO,
            env={
                **os.environ,
                "OOZO_E2E_TARGET": "kubeconfig",
                "KUBECONFIG": str(control_plane.kubeconfig),
                "OOZO_E2E_OPERATOR_NAMESPACE": NAMESPACE,
            },
            capture_output=True,
            text=True,
            timeout=1500,
            check=False,
        )
        summary = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else ""
        assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:] + operator_logs(kubelet)
        assert " passed" in summary and "skipped" not in summary, summary
        print(f"{E2E_MODULE} on the kubeconfig target: {summary}")
        # The operator that reconciled was the chart's pod, in its container.
        containers = subprocess.run(
            [podman.podman, "ps", "--format", "{{.Image}}", "--filter", "name=k8s_operator_"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        assert "localhost/oozo-operator:dev" in containers, containers
    finally:
        helm(env, "uninstall", RELEASE, "--namespace", NAMESPACE, "--wait", "--timeout", "2m")
        kubelet.stop()
        provisioner.stop()
        subprocess.run(
            ["kubectl", "delete", "namespace", NAMESPACE, "--wait=false"], env=env, capture_output=True
        )


def operator_logs(kubelet: LocalKubelet) -> str:
    """The chart's operator pod's log, from the local kubelet's pod folder (it serves no logs API)."""
    logs = sorted((kubelet.workdir / "pods").glob(f"{NAMESPACE}_*/logs/*.log"))
    return "".join(f"\n--- {p.parent.parent.name}/{p.name} ---\n" + p.read_text()[-3000:] for p in logs)

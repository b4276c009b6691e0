"""Which cluster the e2e tier runs on: OOZO_E2E_TARGET.

- `local` (default): the tier starts its own stack on the session's control plane (CRD, PV
  provisioner, local kubelet, `oozo-operator` as a process): devcluster/stack.py.
- `kubeconfig`: any cluster KUBECONFIG reaches with Oozo installed from the chart (kind by `make
  kind-e2e`, a cloud cluster, or here the local control plane with the chart's operator in its
  container): the tier starts nothing and reads the operator's log with `kubectl logs`.
  OOZO_E2E_OPERATOR_NAMESPACE names the chart's namespace (default oozo-system).

Pods are pinned to the local kubelet's node only where the cluster has that node."""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass
from pathlib import Path

from devcluster.controlplane.plane import LOCAL_NODE_NAME, LOCAL_SCHEDULING
from devcluster.stack import kubectl

TARGET_ENV = "OOZO_E2E_TARGET"
TARGETS = ("local", "kubeconfig")


def e2e_target() -> str:
    target = os.environ.get(TARGET_ENV, "") or "local"
    if target not in TARGETS:
        raise ValueError(f"{TARGET_ENV}={target!r}: expected one of {', '.join(TARGETS)}")
    return target


@dataclass
class InstalledCluster:
    """A cluster with Oozo installed from the chart, reached by a kubeconfig: what the e2e tests
    use of a stack (its kubeconfig, the operator's log), with nothing started or stopped."""

    kubeconfig: Path
    operator_namespace: str

    @classmethod
    def from_env(cls) -> InstalledCluster:
        path = os.environ.get("KUBECONFIG", "")
        if not path or not Path(path).is_file():
            raise ValueError(f"{TARGET_ENV}=kubeconfig needs KUBECONFIG naming a file, not {path!r}")
        namespace = os.environ.get("OOZO_E2E_OPERATOR_NAMESPACE", "oozo-system")
        cluster = cls(Path(path), namespace)
        cluster.operator_pod()  # Oozo must be installed: say so now, not after a long wait
        return cluster

    def operator_pod(self) -> str:
        out = kubectl(
            self.kubeconfig,
            "get", "pods", "-n", self.operator_namespace,
            "-l", "app.kubernetes.io/name=oozo-operator", "-o", "jsonpath={.items[*].metadata.name}",
        ).stdout.split()  # fmt: skip
        if not out:
            where = self.operator_namespace
            raise LookupError(f"no Oozo operator pod in namespace {where!r}: install the chart first")
        return out[0]

    def operator_tail(self, lines: int = 60) -> str:
        run = kubectl(
            self.kubeconfig,
            "logs", "-n", self.operator_namespace, self.operator_pod(), f"--tail={lines}",
            check=False,
        )  # fmt: skip
        return run.stdout or run.stderr


@functools.cache
def _has_local_node(kubeconfig: str) -> bool:
    run = kubectl(Path(kubeconfig), "get", "nodes", "-o", "json", check=False)
    names = {n["metadata"]["name"] for n in json.loads(run.stdout or "{}").get("items") or []}
    return LOCAL_NODE_NAME in names


def scheduling() -> dict:
    """spec.scheduling of the tier's corpora: the local kubelet's node where there is one."""
    if e2e_target() == "local" or _has_local_node(os.environ.get("KUBECONFIG", "")):
        return LOCAL_SCHEDULING
    return {}

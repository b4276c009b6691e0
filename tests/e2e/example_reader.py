"""Follows a plain-manifest example (`kubectl apply -f FILE` steps, then `kubectl wait`) the way
its header tells a reader to, in a namespace of the test's own.

Where a reader fills something in (keys, an endpoint, the cluster's node), the test says what in
a `fill_in` function, which also checks that the example still leaves that value to its reader;
every object is otherwise applied exactly as shipped."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from devcluster.stack import kubectl
from tests.e2e.conftest import READY_TIMEOUT, Cluster, DeployedCorpus, apply
from tests.e2e.target import scheduling
from tests.example_steps import steps_of
from tests.operator_support import REPO

FillIn = Callable[[dict[str, Any]], dict[str, Any]]


class ExampleReader:
    def __init__(self, stack: Cluster, namespace: str, example: str, fill_in: FillIn) -> None:
        self.stack, self.namespace, self.fill_in = stack, namespace, fill_in
        self.path = REPO / "examples" / example / "ragcorpus.yaml"
        self.corpora: list[str] = []
        self.applied: list[dict[str, Any]] = []

    def steps(self) -> list[list[str]]:
        return steps_of(self.path)

    def follow(self, steps: list[list[str]] | None = None) -> None:
        for step in self.steps() if steps is None else steps:
            self.run(step)

    def run(self, step: list[str]) -> None:
        if step[:2] == ["apply", "-f"]:
            objects = [d for d in yaml.safe_load_all((REPO / step[2]).read_text()) if d]
            apply(self.stack.kubeconfig, *(self.placed(self.fill_in(obj)) for obj in objects))
        elif step[0] == "wait":
            # The example's own timeout is a reader's; the tier's is for 2 shared cores.
            run = kubectl(
                self.stack.kubeconfig, *step, f"--timeout={READY_TIMEOUT}s", "-n", self.namespace,
                check=False, timeout=READY_TIMEOUT + 30,
            )  # fmt: skip
            assert run.returncode == 0, f"kubectl {' '.join(step)}: {run.stderr}\n{self.diagnose()}"
        else:
            raise AssertionError(f"{self.path}: a step this reader does not know: kubectl {' '.join(step)}")

    def placed(self, obj: dict[str, Any]) -> dict[str, Any]:
        """In the test's namespace; a RagCorpus's pods on the local kubelet's node (as
        examples/quickstart/demo does for `make demo`)."""
        obj["metadata"]["namespace"] = self.namespace
        self.applied.append(obj)
        if obj["kind"] == "RagCorpus":
            assert "scheduling" not in obj["spec"], "the example places its pods itself"
            obj["spec"]["scheduling"] = scheduling()
            self.corpora.append(obj["metadata"]["name"])
        return obj

    def corpus(self) -> DeployedCorpus:
        [name] = self.corpora
        return DeployedCorpus(name, self.namespace, self.stack)

    def diagnose(self) -> str:
        return "\n".join(DeployedCorpus(n, self.namespace, self.stack).diagnose() for n in self.corpora)


def volume_folder(kubeconfig: Path, namespace: str, claim: str) -> Path:
    """The folder of a claim's hostPath PV (the test cluster's provisioner): the volume's
    content, as a pod of the local kubelet sees it; waits for the claim to be bound."""
    kubectl(
        kubeconfig, "wait", "--for=jsonpath={.status.phase}=Bound", f"pvc/{claim}", "-n", namespace,
        "--timeout=60s", timeout=90,
    )  # fmt: skip
    volume = kubectl(
        kubeconfig, "get", "pvc", claim, "-n", namespace, "-o", "jsonpath={.spec.volumeName}"
    ).stdout.strip()
    assert volume, f"claim {claim} is not bound"
    return Path(kubectl(kubeconfig, "get", "pv", volume, "-o", "jsonpath={.spec.hostPath.path}").stdout)

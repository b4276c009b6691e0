"""The e2e quickstart loop with the local kubelet's podman runtime (OOZO_KUBELET_RUNTIME=podman):
the real operator and control plane, and Oozo's server pods as real containers from the
oozo-server image `make images` built, with the rendered security context enforced by the kernel.
The index Jobs run in the oozo-runtime image, which the tier builds too (their containers are
checked in test_e2e_jobs_in_containers.py).

The loop itself is the e2e tier's (tests/e2e/conftest.py, tests/e2e/test_quickstart_loop.py)."""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devcluster.containers.podman import LABEL, Podman
from devcluster.controlplane.plane import LOCAL_SCHEDULING
from devcluster.kube_rest import Kube
from devcluster.stack import Stack
from tests.e2e import documents
from tests.e2e.conftest import DeployedCorpus, apply, deployed_handbook
from tests.e2e.test_quickstart_loop import (
    roll_out_under_load,
)
from tests.e2e.test_quickstart_loop import (
    test_ready_corpus_answers_from_the_right_document as quickstart_answers,
)

# The first test of a session may build the images (see test_pods_in_containers.py).
pytestmark = pytest.mark.timeout(1800)


def kubelet_containers(podman: Podman, owner: str) -> dict[str, dict[str, Any]]:
    """The containers the stack's kubelet started, by name: podman's own listing."""
    out = subprocess.run(
        [podman.podman, "ps", "--all", "--format", "json", "--filter", f"label={LABEL}={owner}"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    return {c["Names"][0]: c for c in json.loads(out or "[]")}


@pytest.fixture(scope="module")
def stack(control_plane: Any, podman: Podman, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The e2e stack with the local kubelet's podman runtime (`podman`: the images are built)."""
    s = Stack(control_plane.kubeconfig, tmp_path_factory.mktemp("stack"), kubelet_runtime="podman").start()
    assert s.kubelet.containers is not None
    owner = s.kubelet.containers.podman.owner
    try:
        yield s
    finally:
        s.stop()
    assert s.kubelet.pids() == [], "pod processes outlived the local kubelet"
    assert kubelet_containers(podman, owner) == {}, "containers outlived the local kubelet"


@pytest.fixture(scope="module")
def handbook(stack: Stack) -> Iterator[DeployedCorpus]:
    with deployed_handbook(stack) as corpus:
        yield corpus


def server_pods(corpus: DeployedCorpus) -> list[dict]:
    with Kube(corpus.kubeconfig) as kube:
        pods = kube.list(
            f"/api/v1/namespaces/{corpus.namespace}/pods",
            labelSelector=f"app.kubernetes.io/instance={corpus.name},app.kubernetes.io/component=server",
        )["items"]
    return [p for p in pods if not p["metadata"].get("deletionTimestamp")]


def assert_served_from_containers(corpus: DeployedCorpus, podman: Podman) -> set[str]:
    """Every running server pod's container is a podman container of the oozo-server image,
    running as the rendered non-root user with no capability and no new privileges; its names."""
    names = set()
    pods = server_pods(corpus)
    assert len(pods) == 2, [p["metadata"]["name"] for p in pods]
    for pod in pods:
        status = pod["status"]["containerStatuses"][0]
        assert status["ready"] is True, status
        assert status["containerID"].startswith("podman://"), status
        name = status["containerID"].removeprefix("podman://")
        image = subprocess.run(
            [podman.podman, "inspect", "--format", "{{.ImageName}} {{.State.Status}}", name],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout.split()
        assert image == ["localhost/oozo-server:dev", "running"], image
        proc = podman.exec(name, "cat", "/proc/1/status").stdout
        fields = {k: v.strip() for k, _, v in (line.partition(":") for line in proc.splitlines())}
        assert fields["Uid"].split() == ["65532"] * 4, fields["Uid"]
        assert fields["CapEff"] == "0000000000000000" and fields["NoNewPrivs"] == "1", fields
        names.add(name)
    return names


def test_the_quickstart_loop_answers_from_server_pods_in_containers(
    handbook: DeployedCorpus, podman: Podman
) -> None:
    quickstart_answers(handbook)
    assert_served_from_containers(handbook, podman)
    print(f"handbook Ready in {handbook.ready_seconds:.1f} s with server pods in containers")


def test_a_rollout_replaces_the_server_containers_without_a_failed_query(
    handbook: DeployedCorpus, stack: Stack, podman: Podman
) -> None:
    before = assert_served_from_containers(handbook, podman)

    def change() -> None:
        docs = documents.handbook_docs("MARIGOLD")
        apply(handbook.kubeconfig, documents.configmap("handbook-docs", handbook.namespace, docs))

    seen = roll_out_under_load(handbook, change, "MARIGOLD")
    after = assert_served_from_containers(handbook, podman)
    assert not before & after, (before, after)
    # The old pods' containers are removed once their pods have stopped (preStop, SIGTERM, grace).
    assert stack.kubelet.containers is not None
    owner = stack.kubelet.containers.podman.owner
    deadline = time.monotonic() + 120
    while (left := set(kubelet_containers(podman, owner))) & before:
        assert time.monotonic() < deadline, f"old pods' containers still there: {left & before}"
        time.sleep(1)
    assert after <= left, (after, left)
    print(f"rolled {seen['before']} → {seen['after']} in containers under {seen['queries']} queries")


def test_a_pod_that_writes_to_its_root_filesystem_fails_in_its_status_as_on_a_node(
    handbook: DeployedCorpus, stack: Stack
) -> None:
    """A pod with Oozo's security context whose program writes to `/`: the kubelet runs it in a
    container, the kernel refuses the write, and the pod's status says so like a node's."""
    name = f"bad-{uuid.uuid4().hex[:6]}"
    security = {
        "runAsNonRoot": True,
        "runAsUser": 65532,
        "readOnlyRootFilesystem": True,
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
    }
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": handbook.namespace},
        "spec": {
            "restartPolicy": "Never",
            **LOCAL_SCHEDULING,
            "containers": [
                {
                    "name": "writer",
                    "image": "ghcr.io/oozo-dev/oozo-runtime:0.1.0",
                    "command": ["sh", "-c", "echo x > /oozo-was-here && echo wrote"],
                    "securityContext": security,
                    "terminationMessagePolicy": "FallbackToLogsOnError",
                }
            ],
        },
    }
    apply(handbook.kubeconfig, pod)
    run = handbook.kubectl(
        "wait", "--for=jsonpath={.status.phase}=Failed", f"pod/{name}", "--timeout=120s", check=False
    )
    got = json.loads(handbook.kubectl("get", "pod", name, "-o", "json").stdout)
    assert run.returncode == 0, got.get("status")
    terminated = got["status"]["containerStatuses"][0]["state"]["terminated"]
    assert terminated["reason"] == "Error" and terminated["exitCode"] != 0, terminated
    assert "Read-only file system" in terminated["message"], terminated
    assert terminated["containerID"].startswith("podman://"), terminated
    assert not Path("/oozo-was-here").exists()

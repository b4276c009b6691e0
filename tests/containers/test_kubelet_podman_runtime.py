"""The local kubelet's podman runtime reports a container's life in pod status as the host-process
path does (tests/devcluster/test_local_kubelet.py, same helpers): exit code and log tail, the
termination-message file, a program podman cannot execute, restarts with back-off; here each
container is a real container of the server image (its `sh`), as the containerID says."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from devcluster.containers.podman import Podman
from devcluster.kube_rest import Kube
from devcluster.kubelet.local import LocalKubelet
from devcluster.stack import kubectl
from devcluster.waiting import wait_for
from tests.devcluster.test_local_kubelet import apply, bare_pod, get_pod, phase_is

pytestmark = pytest.mark.timeout(1800)

RUNTIME_IMAGE = "ghcr.io/oozo-dev/oozo-runtime:0.1.0"  # as rendered; its shell runs in oozo-server:dev


@pytest.fixture(scope="module")
def node(control_plane: Any, podman: Podman, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    work = tmp_path_factory.mktemp("kubelet-podman")
    kubelet = LocalKubelet(control_plane.kubeconfig, workdir=work / "kubelet", runtime="podman").start()
    namespace = f"kubelet-podman-{uuid.uuid4().hex[:6]}"
    kubectl(control_plane.kubeconfig, "create", "namespace", namespace)
    kube = Kube(control_plane.kubeconfig)
    try:
        yield {"kubeconfig": control_plane.kubeconfig, "ns": namespace, "kube": kube, "kubelet": kubelet}
    finally:
        kubectl(control_plane.kubeconfig, "delete", "namespace", namespace, "--wait=false", check=False)
        kubelet.stop()
        kube.close()
    assert kubelet.pids() == []


def sh(name: str, script: str, **fields: Any) -> dict:
    return {"name": name, "image": RUNTIME_IMAGE, "command": ["sh", "-c", script], **fields}


def terminated(node: dict, name: str, phase: str) -> dict:
    pod = wait_for(phase, phase_is(node, name, phase), timeout=60)
    state: dict = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    assert state["containerID"].startswith("podman://"), state
    return state


def test_a_failed_container_reports_its_exit_code_and_log_tail(node: dict) -> None:
    script = "echo starting; echo 'boom: disk on fire' >&2; exit 3"
    main = sh("main", script, terminationMessagePolicy="FallbackToLogsOnError")
    apply(node, bare_pod("fails", main, restartPolicy="Never"))
    term = terminated(node, "fails", "Failed")
    assert term["exitCode"] == 3 and term["reason"] == "Error"
    assert "boom: disk on fire" in term["message"]


def test_the_termination_message_file_written_in_the_container_wins(node: dict) -> None:
    apply(node, bare_pod("reports", sh("main", 'echo \'{"version": "v7"}\' > /dev/termination-log'),
                         restartPolicy="Never"))  # fmt: skip
    term = terminated(node, "reports", "Succeeded")
    assert term["exitCode"] == 0 and json.loads(term["message"]) == {"version": "v7"}


def test_a_program_missing_from_the_image_is_a_start_error(node: dict) -> None:
    program = {"name": "main", "image": RUNTIME_IMAGE, "command": ["no-such-program"]}
    apply(node, bare_pod("noprog", program, restartPolicy="Never"))
    term = terminated(node, "noprog", "Failed")
    assert term["reason"] == "StartError" and "executable file not found" in term["message"], term


def test_a_crashing_container_is_restarted_with_back_off(node: dict) -> None:
    apply(node, bare_pod("crashy", sh("main", "echo crash; exit 1")))

    def restarted() -> dict | None:
        pod = get_pod(node, "crashy")
        statuses = ((pod or {}).get("status") or {}).get("containerStatuses") or []
        return statuses[0] if statuses and statuses[0]["restartCount"] >= 2 else None

    status = wait_for("two restarts", restarted, timeout=60)
    assert status["lastState"]["terminated"]["exitCode"] == 1
    assert status["lastState"]["terminated"]["containerID"].startswith("podman://")
    assert (get_pod(node, "crashy") or {})["status"]["phase"] == "Running"

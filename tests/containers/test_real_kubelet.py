"""A real kubelet as a node of the test control plane: kubelet v1.33.13 (built from the control
plane's own Kubernetes module), Debian's containerd and runc, CNI bridge networking
(devcluster/realnode). The operator's rendered server pod runs there from oozo-server:dev, with
its probes run by the kubelet and its security context enforced by the kernel; bad pods fail
with the kubelet's own reasons."""

from __future__ import annotations

import ipaddress
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from kubernetes import client

from devcluster.controlplane.plane import ControlPlane
from devcluster.realnode import configs, host
from devcluster.realnode.images import SOURCE_LABEL, kubelet_reference, podman_image_id
from devcluster.realnode.node import RealNode, RealNodeError
from tests.containers.conftest import SERVER_IMAGE, BuiltIndex
from tests.containers.realnode_pods import container_pid, is_ready, kernel_status, milestones
from tests.containers.rendered import API_KEY, rendered_server
from tests.doc_commands import REPO, documented, shell

pytestmark = pytest.mark.timeout(900)


@pytest.fixture()
def core(control_plane: ControlPlane) -> Iterator[Any]:
    # dict bodies and loosely typed models: the kubernetes client accepts both
    with control_plane.api_client() as api:
        yield client.CoreV1Api(api)


@pytest.fixture()
def namespace(core: Any) -> Iterator[str]:
    name = f"real-{uuid.uuid4().hex[:6]}"
    core.create_namespace({"metadata": {"name": name}})
    try:
        yield name
    finally:
        core.delete_namespace(name)


def test_the_real_kubelet_registers_as_a_node_of_the_test_control_plane_and_becomes_ready(
    real_node: RealNode, core: Any
) -> None:
    node = core.read_node(configs.NODE_NAME)
    conditions = {c.type: c for c in node.status.conditions}
    assert conditions["Ready"].status == "True", conditions["Ready"]
    info = node.status.node_info
    assert info.kubelet_version == "v1.33.13"
    assert info.container_runtime_version.startswith("containerd://1.6."), info
    assert node.metadata.labels[configs.LABEL] == "true"
    # Tainted, so that no other test's pod lands on it unless it asks to.
    assert (configs.LABEL, "true", "NoSchedule") in [(t.key, t.value, t.effect) for t in node.spec.taints]
    print(f"real node (s from start): {real_node.timings}")


def test_an_image_already_in_the_node_is_not_imported_again(real_node: RealNode, podman_path: str) -> None:
    assert real_node.load_image(podman_path, SERVER_IMAGE) is False
    labels = real_node.ctr.labels(kubelet_reference(SERVER_IMAGE))
    assert labels[SOURCE_LABEL] == podman_image_id(podman_path, SERVER_IMAGE)


def test_a_second_real_node_on_the_same_host_is_refused_and_the_first_keeps_running(
    real_node: RealNode, control_plane: ControlPlane, core: Any, tmp_path: Path
) -> None:
    second = RealNode(tmp_path / "second", control_plane)
    with pytest.raises(RealNodeError, match="another real node runs on this host"):
        second.start()
    assert host.processes_naming(str(second.workdir)) == []
    node = core.read_node(configs.NODE_NAME)  # the first node's Node, bridge and kubelet are untouched
    assert any(c.type == "Ready" and c.status == "True" for c in node.status.conditions)
    assert real_node.ctr.labels(kubelet_reference(SERVER_IMAGE))


def server_pod(namespace: str, version: str, command: str | None = None) -> dict[str, Any]:
    """The operator's rendered server pod, bound to the real node; `command` replaces its program."""
    template, _ = rendered_server(version)
    spec = template["spec"]
    spec["nodeSelector"] = configs.NODE_SELECTOR
    spec["tolerations"] = [configs.TOLERATION]
    if command is not None:
        container = spec["containers"][0]
        container.update(
            command=["sh", "-c", command], args=[], terminationMessagePolicy="FallbackToLogsOnError"
        )
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            container.pop(probe)
        spec["restartPolicy"] = "Never"
    name = f"docs-{uuid.uuid4().hex[:6]}"
    return {"metadata": {**template["metadata"], "name": name, "namespace": namespace}, "spec": spec}


def create_server_objects(core: Any, namespace: str, index: BuiltIndex) -> None:
    """The rendered ConfigMap and Secret, and the index as the PVC `docs-index` bound to a
    hostPath PersistentVolume of the folder the host's `oozo index` wrote."""
    _, objects = rendered_server(index.version)
    for obj in objects:
        obj["metadata"] = {**obj["metadata"], "namespace": namespace}
        obj["metadata"].pop("ownerReferences")  # no RagCorpus here: the collector would delete them
        create = (
            core.create_namespaced_config_map if obj["kind"] == "ConfigMap" else core.create_namespaced_secret
        )
        create(namespace, obj)
    volume = f"{namespace}-index"
    core.create_persistent_volume(
        {
            "metadata": {"name": volume},
            "spec": {
                "capacity": {"storage": "1Gi"},
                "accessModes": ["ReadWriteOnce"],
                "persistentVolumeReclaimPolicy": "Retain",  # the host's folder is the test's, never deleted
                "storageClassName": "",
                "hostPath": {"path": str(index.folder), "type": "Directory"},
                "claimRef": {"namespace": namespace, "name": "docs-index"},
            },
        }
    )
    core.create_namespaced_persistent_volume_claim(
        namespace,
        {
            "metadata": {"name": "docs-index"},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "storageClassName": "",
                "volumeName": volume,
                "resources": {"requests": {"storage": "1Gi"}},
            },
        },
    )
    # The scheduler places no pod whose claim is still unbound; waiting here keeps the persistent
    # volume controller's pace out of the pod's start.
    deadline = time.monotonic() + 120
    while core.read_namespaced_persistent_volume_claim("docs-index", namespace).status.phase != "Bound":
        assert time.monotonic() < deadline, (
            "the claim docs-index was not bound to its hostPath volume in 120 s"
        )
        time.sleep(0.2)


def wait_for_pod(core: Any, namespace: str, name: str, done: Any, timeout: float = 300) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        pod = core.read_namespaced_pod(name, namespace)
        if done(pod):
            return pod
        if time.monotonic() > deadline:
            pytest.fail(f"pod {name} not there after {timeout:.0f}s: {pod.status}")
        time.sleep(0.5)


def test_the_rendered_server_pod_runs_on_the_real_node_and_answers_at_its_pod_ip(
    real_node: RealNode, core: Any, namespace: str, host_index: BuiltIndex
) -> None:
    create_server_objects(core, namespace, host_index)
    pod = server_pod(namespace, host_index.version)
    began = time.monotonic()
    core.create_namespaced_pod(namespace, pod)
    # Ready only once the kubelet's own readiness probe of /ready passed: no one else writes it.
    got = wait_for_pod(core, namespace, pod["metadata"]["name"], is_ready)
    print(
        f"server pod created to Ready on the real node: {time.monotonic() - began:.1f} s; {milestones(got)}"
    )
    assert got.spec.node_name == configs.NODE_NAME
    assert ipaddress.ip_address(got.status.pod_ip) in configs.POD_SUBNET  # the CNI bridge's range

    url = f"http://{got.status.pod_ip}:8000"
    fact = host_index.corpus.facts[0]
    assert httpx.post(url + "/api/query", json={"question": fact.question}).status_code == 401
    auth = {"Authorization": f"Bearer {API_KEY}"}
    reply = httpx.post(url + "/api/query", json={"question": fact.question}, headers=auth, timeout=60)
    assert reply.status_code == 200, reply.text
    assert reply.json()["sources"][0]["document"] == fact.document
    assert reply.json()["index_version"] == host_index.version

    # The kernel's view of the server process that containerd started for the kubelet.
    (container,) = got.status.container_statuses
    assert container.image.endswith(SERVER_IMAGE) and container.ready
    status = kernel_status(container_pid(real_node, container.container_id))
    assert status["Uid"].split() == ["65532"] * 4 and status["Gid"].split() == ["65532"] * 4
    assert "65532" in status["Groups"].split()  # the rendered fsGroup
    assert status["CapEff"] == status["CapPrm"] == status["CapBnd"] == "0000000000000000"
    assert status["NoNewPrivs"] == "1"
    assert status["Seccomp"] == "2"  # SECCOMP_MODE_FILTER: the runtime's default profile

    core.delete_namespaced_pod(pod["metadata"]["name"], namespace, grace_period_seconds=1)
    assert not list(host_index.folder.rglob("intruder"))


def test_a_pod_that_writes_to_its_root_filesystem_fails_on_the_real_node(
    real_node: RealNode, core: Any, namespace: str, host_index: BuiltIndex
) -> None:
    """As on the podman kubelet (test_e2e_pods_in_containers.py): Failed, reason Error, the
    kernel's "Read-only file system" in the termination message, here from the real kubelet."""
    create_server_objects(core, namespace, host_index)
    pod = server_pod(namespace, host_index.version, "echo x > /oozo-was-here && echo wrote")
    core.create_namespaced_pod(namespace, pod)
    got = wait_for_pod(
        core, namespace, pod["metadata"]["name"], lambda p: p.status.phase in ("Failed", "Succeeded")
    )
    assert got.status.phase == "Failed"
    terminated = got.status.container_statuses[0].state.terminated
    assert terminated.reason == "Error" and terminated.exit_code != 0, terminated
    assert "Read-only file system" in terminated.message and "wrote" not in terminated.message, terminated
    assert terminated.container_id.startswith("containerd://")
    assert not Path("/oozo-was-here").exists()


def test_a_pod_that_runs_as_root_is_refused_by_the_real_kubelet(
    real_node: RealNode, core: Any, namespace: str, host_index: BuiltIndex
) -> None:
    """runAsNonRoot with runAsUser 0: the kubelet refuses to create the container at all."""
    create_server_objects(core, namespace, host_index)
    pod = server_pod(namespace, host_index.version, "id -u")
    pod["spec"]["securityContext"]["runAsUser"] = 0
    core.create_namespaced_pod(namespace, pod)

    def refused(p: Any) -> bool:
        statuses = p.status.container_statuses or []
        return bool(statuses and statuses[0].state.waiting and statuses[0].state.waiting.message)

    got = wait_for_pod(core, namespace, pod["metadata"]["name"], refused)
    waiting = got.status.container_statuses[0].state.waiting
    assert waiting.reason == "CreateContainerConfigError", waiting
    assert "runAsUser breaks non-root policy" in waiting.message, waiting
    assert got.status.phase == "Pending" and got.status.container_statuses[0].container_id is None


def test_a_stopped_real_node_leaves_no_process_mount_cgroup_bridge_or_node_behind(
    real_node: RealNode, core: Any
) -> None:
    """The module's last test: stop the node (the fixture's stop() then has nothing to do)."""
    cgroup_root = real_node.layout.cgroup_root
    real_node.stop()
    assert host.processes_naming(str(real_node.workdir)) == []
    assert host.mounts_under(real_node.workdir) == []
    assert not any((h / cgroup_root.strip("/")).exists() for h in host.cgroup_hierarchies())
    assert not Path(f"/sys/class/net/{configs.BRIDGE}").exists()
    assert configs.NODE_NAME not in [n.metadata.name for n in core.list_node().items]


def test_the_documented_command_starts_a_real_node_and_stops_it_leaving_nothing(real_node: RealNode) -> None:
    """docs/containers.md's command, as the page shows it, after this module's node is stopped (one
    real node per host): its own control plane and node come up Ready and go away."""
    assert not real_node.started  # the previous test stopped the module's node
    command = documented("docs/containers.md", startswith=".venv/bin/python -m devcluster.realnode")
    done = shell(command, REPO, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    first, second = done.stdout.splitlines()[-2:]
    report = json.loads(first)
    assert report["node"] == configs.NODE_NAME and "node Ready" in report["seconds"], report
    assert second.startswith("stopped; nothing of the node is left"), done.stdout
    assert not Path(f"/sys/class/net/{configs.BRIDGE}").exists()

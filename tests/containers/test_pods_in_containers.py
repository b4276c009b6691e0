"""The operator's rendered server pod as a real container (podman + runc): its command, env from
its ConfigMap and Secret, its PVC mounted read-only, its emptyDir, and its security context,
enforced by the kernel. Pods that break their own security context fail as on a node."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from devcluster.containers.pod import ContainerPod, PodObjects, prepare, run_to_completion
from devcluster.containers.podman import Podman
from devcluster.kubelet.launch import ConfigError
from tests.containers.conftest import BASE_IMAGE, SERVER_IMAGE, BuiltIndex
from tests.containers.rendered import API_KEY, rendered_server

# The first test of a session builds the images (hack/images/build.sh): on a fresh machine that
# installs podman, debootstraps the base and downloads the packages, longer than the default 600 s.
pytestmark = pytest.mark.timeout(1800)


def start_server_pod(
    podman: Podman, index: BuiltIndex, folder: Path, template: dict | None = None
) -> ContainerPod:
    rendered, objects = rendered_server(index.version)
    known = PodObjects()
    for obj in objects:
        known.add(obj)
    template = template or rendered
    # the image the operator rendered: the torch-free server image, whose only command is `oozo serve`
    (image,) = {c["image"] for c in template["spec"]["containers"]}
    assert image == SERVER_IMAGE
    pod = prepare(
        podman,
        template,
        name=f"docs-{uuid.uuid4().hex[:8]}",
        image=image,
        objects=known,
        claims={"docs-index": index.folder},
        folder=folder,
    )
    return pod


def wait_ready(podman: Podman, pod: ContainerPod, timeout: float = 180) -> str:
    url = f"http://{pod.pod_ip}:8000"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, _ = podman.state(pod.plan.name)
        if status != "running":
            pytest.fail(f"server container {status}; logs:\n{podman.logs(pod.plan.name)[-3000:]}")
        try:
            if httpx.get(url + "/ready", timeout=2).status_code == 200:
                return url
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    pytest.fail(f"server not ready in {timeout:.0f} s; logs:\n{podman.logs(pod.plan.name)[-3000:]}")


def proc_status(podman: Podman, name: str) -> dict[str, str]:
    done = podman.exec(name, "cat", "/proc/1/status")
    assert done.returncode == 0, done.stderr
    return {k: v.strip() for k, _, v in (line.partition(":") for line in done.stdout.splitlines())}


def test_the_rendered_server_pod_serves_queries_from_a_read_only_index(
    podman: Podman, host_index: BuiltIndex, tmp_path: Path
) -> None:
    pod = start_server_pod(podman, host_index, tmp_path / "pod")
    podman.start(pod.plan)
    try:
        url = wait_ready(podman, pod)
        fact = host_index.corpus.facts[0]
        auth = {"Authorization": f"Bearer {API_KEY}"}
        assert httpx.post(url + "/api/query", json={"question": fact.question}).status_code == 401
        reply = httpx.post(url + "/api/query", json={"question": fact.question}, headers=auth, timeout=60)
        assert reply.status_code == 200, reply.text
        assert reply.json()["sources"][0]["document"] == fact.document
        assert reply.json()["index_version"] == host_index.version

        # The kernel's view of the server process: the rendered user and fsGroup, no capability,
        # no new privileges, the runtime's default seccomp filter.
        status = proc_status(podman, pod.plan.name)
        assert status["Uid"].split() == ["65532"] * 4 and status["Gid"].split() == ["65532"] * 4
        assert "65532" in status["Groups"].split()
        assert status["CapEff"] == status["CapPrm"] == status["CapBnd"] == "0000000000000000"
        assert status["NoNewPrivs"] == "1"
        assert status["Seccomp"] == "2"  # SECCOMP_MODE_FILTER
        # Its index is mounted read-only, its root filesystem too; only the emptyDir takes writes.
        for path in ("/var/lib/oozo/index/intruder", "/intruder"):
            done = podman.exec(pod.plan.name, "touch", path)
            assert done.returncode != 0 and "Read-only file system" in done.stderr, (path, done.stderr)
        assert podman.exec(pod.plan.name, "touch", "/tmp/scratch").returncode == 0
        # The rendered memory limit is the container's cgroup limit.
        limit = podman.exec(pod.plan.name, "cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes")
        assert limit.stdout.strip() == str(2 * 2**30), limit.stdout + limit.stderr
    finally:
        podman.remove(pod.plan.name)
    assert not list(host_index.folder.rglob("intruder"))


def with_command(template: dict[str, Any], script: str) -> dict[str, Any]:
    container = template["spec"]["containers"][0]
    container["command"] = ["sh", "-c", script]
    container["args"] = []
    return template


def test_a_pod_that_writes_to_its_root_filesystem_fails_as_on_a_node(
    podman: Podman, host_index: BuiltIndex, tmp_path: Path
) -> None:
    template, _ = rendered_server(host_index.version)
    bad = start_server_pod(
        podman, host_index, tmp_path / "bad", with_command(template, "echo x > /oozo-was-here && echo wrote")
    )
    exited = run_to_completion(podman, bad)
    assert exited.exit_code != 0
    assert "Read-only file system" in exited.logs and "wrote" not in exited.logs

    # The same pod writing where it declared a volume runs, and its termination message is read.
    template, _ = rendered_server(host_index.version)
    good = start_server_pod(
        podman,
        host_index,
        tmp_path / "good",
        with_command(template, "echo x > /tmp/scratch && echo indexed > /dev/termination-log"),
    )
    exited = run_to_completion(podman, good)
    assert exited.exit_code == 0, exited.logs
    assert exited.termination_message == "indexed\n"


def test_a_pod_whose_image_runs_as_root_is_refused_under_run_as_non_root(
    podman: Podman, host_index: BuiltIndex, tmp_path: Path
) -> None:
    template, objects = rendered_server(host_index.version)
    # The rendered pod says runAsNonRoot and names no user: the image's USER decides.
    for key in ("runAsUser", "runAsGroup"):
        template["spec"]["securityContext"].pop(key)
    known = PodObjects()
    for obj in objects:
        known.add(obj)

    def attempt(image: str, spec: dict[str, Any]) -> ContainerPod:
        return prepare(
            podman,
            spec,
            name=f"docs-{uuid.uuid4().hex[:8]}",
            image=image,
            objects=known,
            claims={"docs-index": host_index.folder},
            folder=tmp_path / uuid.uuid4().hex[:8],
        )

    with pytest.raises(ConfigError, match="image will run as root"):
        attempt(BASE_IMAGE, template)  # Debian's base image: no USER, so root
    template["spec"]["securityContext"]["runAsUser"] = 0
    with pytest.raises(ConfigError, match="runAsUser breaks non-root policy"):
        attempt(SERVER_IMAGE, template)
    # The Oozo image with its numeric USER passes the same check and runs as 65532.
    del template["spec"]["securityContext"]["runAsUser"]
    pod = attempt(SERVER_IMAGE, with_command(template, "id -u > /dev/termination-log"))
    exited = run_to_completion(podman, pod)
    assert (exited.exit_code, exited.termination_message) == (0, "65532\n"), exited.logs


def test_dropped_capabilities_bind_even_a_root_process(
    podman: Podman, host_index: BuiltIndex, tmp_path: Path
) -> None:
    """A pod allowed to run as root still cannot chown with the rendered `drop: [ALL]`."""
    script = "touch /tmp/file && chown 1:1 /tmp/file && echo changed"

    def run_as_root(capabilities: dict[str, Any], folder: str) -> Any:
        template, _ = rendered_server(host_index.version)
        template["spec"]["securityContext"].update(runAsUser=0, runAsGroup=0, runAsNonRoot=False)
        container = with_command(template, script)["spec"]["containers"][0]
        container["securityContext"].update(runAsNonRoot=False, capabilities=capabilities)
        return run_to_completion(podman, start_server_pod(podman, host_index, tmp_path / folder, template))

    dropped = run_as_root({"drop": ["ALL"]}, "dropped")
    assert dropped.exit_code != 0 and "Operation not permitted" in dropped.logs, dropped.logs
    kept = run_as_root({"add": ["CHOWN"], "drop": ["ALL"]}, "kept")
    assert kept.exit_code == 0 and "changed" in kept.logs, kept.logs

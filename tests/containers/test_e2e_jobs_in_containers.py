"""The index, backup and restore Jobs in real containers: the local kubelet's podman runtime
(OOZO_KUBELET_RUNTIME=podman) with the real operator and control plane runs each Job's pod in the
oozo-runtime image (= oozo-indexer, torch) that this tier builds, with the rendered security
context enforced by the kernel, against a real MinIO.

The steps are the e2e tier's backup and restore examples (tests/e2e/test_backup_restore_examples.py:
examples/backup, then examples/restore, followed as their headers tell a reader). What this module
adds is where their pods ran: podman's own listing of each Job pod's container (the kubelet keeps
a dead container until its pod goes, as a node does), never a host process."""

from __future__ import annotations

import json
import subprocess

import pytest

from devcluster.containers.podman import Podman
from devcluster.kube_rest import Kube
from devcluster.s3server import S3Server
from devcluster.stack import Stack
from tests.containers.conftest import TAG
from tests.containers.test_e2e_pods_in_containers import stack  # noqa: F401  (a fixture)
from tests.e2e.conftest import DeployedCorpus
from tests.e2e.test_backup_restore_examples import (  # noqa: F401  (namespace, s3: fixtures)
    BUCKET,
    QUESTION,
    Reader,
    namespace,
    s3,
)

# The first test of a session may build the images, the indexer's first build about 7 minutes.
pytestmark = pytest.mark.timeout(2400)

RUNTIME_IMAGE = f"localhost/oozo-runtime:{TAG}"
# What the rendered `capabilities: {drop: [ALL]}` drops as podman 4.3 records it: every
# capability a container of this podman gets by default.
DEFAULT_CAPABILITIES = {
    "CAP_AUDIT_WRITE",
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_MKNOD",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_RAW",
    "CAP_SETFCAP",
    "CAP_SETGID",
    "CAP_SETPCAP",
    "CAP_SETUID",
    "CAP_SYS_CHROOT",
}


def job_pods(corpus: DeployedCorpus, component: str) -> list[dict]:
    """The pods of the corpus's Jobs of one component (index, backup, restore)."""
    with Kube(corpus.kubeconfig) as kube:
        return kube.list(
            f"/api/v1/namespaces/{corpus.namespace}/pods",
            labelSelector=f"app.kubernetes.io/instance={corpus.name},app.kubernetes.io/component={component}",
        )["items"]


def assert_ran_in_a_runtime_container(podman: Podman, pod: dict) -> dict:
    """The pod's one container ran to completion as a podman container of the runtime image, with
    the rendered security context as podman applied it (non-root 65532, read-only root, no
    capability, no new privileges); podman's inspect of it."""
    where = pod["metadata"]["name"]
    status = pod["status"]["containerStatuses"][0]
    terminated = status["state"].get("terminated")
    assert terminated and terminated["exitCode"] == 0, (where, status)
    assert terminated["containerID"].startswith("podman://"), (where, terminated)
    name = terminated["containerID"].removeprefix("podman://")
    out = subprocess.run(
        [podman.podman, "inspect", name], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    (container,) = json.loads(out)
    assert container["ImageName"] == RUNTIME_IMAGE, (where, container["ImageName"])
    assert container["State"]["Status"] == "exited" and container["State"]["ExitCode"] == 0, (
        where,
        container["State"],
    )
    assert container["Config"]["User"] == "65532:65532", (where, container["Config"]["User"])
    host = container["HostConfig"]
    assert host["ReadonlyRootfs"] is True, where
    assert "no-new-privileges" in host["SecurityOpt"], (where, host["SecurityOpt"])
    assert set(host["CapDrop"]) >= DEFAULT_CAPABILITIES, (where, host["CapDrop"])
    return container


def test_the_index_backup_and_restore_jobs_run_in_runtime_containers(
    stack: Stack,  # noqa: F811
    namespace: str,  # noqa: F811
    s3: S3Server,  # noqa: F811
    podman: Podman,
) -> None:
    reader = Reader(stack, namespace, s3)

    # examples/backup: the corpus is built by its index Job, goes Ready and answers; then a backup.
    *_, last_backup = reader.follow("backup")
    backed_up = DeployedCorpus("handbook-nightly", namespace, stack)
    (index_pod,) = job_pods(backed_up, "index")
    assert_ran_in_a_runtime_container(podman, index_pod)
    reply = backed_up.query(QUESTION)
    assert any("declaration" in s["document"] for s in reply["sources"]), reply
    backup = json.loads(last_backup)
    serving = backed_up.get()["status"]["index"]["version"]
    assert backup["version"] == serving and backup["uri"].startswith(f"s3://{BUCKET}/handbook/"), backup
    (backup_pod,) = job_pods(backed_up, "backup")
    assert_ran_in_a_runtime_container(podman, backup_pod)

    # examples/restore: a new corpus restored from that backup by its restore Job, never built.
    *_, restored_from = reader.follow("restore")
    assert restored_from == backup["uri"], (restored_from, backup)
    restored = DeployedCorpus("handbook-restored", namespace, stack)
    assert restored.get()["status"]["index"]["version"] == serving
    assert job_pods(restored, "index") == []
    (restore_pod,) = job_pods(restored, "restore")
    assert_ran_in_a_runtime_container(podman, restore_pod)
    reply = restored.query(QUESTION)
    assert any("declaration" in s["document"] for s in reply["sources"]), reply
    print(f"index, backup and restore Jobs ran in {RUNTIME_IMAGE} containers; backup {backup['uri']}")

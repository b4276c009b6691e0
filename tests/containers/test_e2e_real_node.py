"""The e2e quickstart loop with the server on a real kubelet: the real operator builds a whole
RagCorpus, its index Job runs on the local kubelet (oozo-local-0, as the e2e tier runs it) and its
server Deployment's pods run on the real node (oozo-real-0: kubelet, containerd, runc,
devcluster/realnode) from the oozo-server image, with the rendered security context enforced by
the kernel. Only the server image goes into the real node's containerd (the indexer's 6.7 GB
would not fit its disk budget), which is why the Job stays on the local node.

Placement is the corpus's own spec, nothing test-only in the operator:
- spec.index.storage.accessModes [ReadWriteMany]: no co-location affinity (render/pod.py), and
  the devcluster provisioner's hostPath volume is one folder of this host, which both nodes see;
- spec.scheduling: nodeSelector kubernetes.io/hostname=oozo-real-0, tolerating both nodes' taints;
- spec.embedding.nodeSelector kubernetes.io/hostname=oozo-local-0, which wins over
  spec.scheduling's on the same key for the pods that embed (the index Job's).
The real node has no kube-proxy: the Service's endpoints are the pods' CNI bridge IPs
(10.217.0.x), which this host routes to, so DeployedCorpus queries them as they are."""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from kubernetes import client

from devcluster.controlplane.plane import LOCAL_NODE_NAME, LOCAL_NODE_TOLERATION, ControlPlane
from devcluster.kubelet.services import service_endpoints
from devcluster.realnode import configs
from devcluster.realnode.node import RealNode
from devcluster.stack import Stack, kubectl
from tests.containers.conftest import SERVER_IMAGE
from tests.containers.realnode_pods import container_pid, is_ready, kernel_status, milestones
from tests.doc_commands import fenced_blocks
from tests.e2e import documents
from tests.e2e.conftest import DeployedCorpus, apply, namespace_for, ragcorpus
from tests.e2e.test_quickstart_loop import roll_out_under_load
from tests.e2e.test_quickstart_loop import (
    test_ready_corpus_answers_from_the_right_document as quickstart_answers,
)

pytestmark = pytest.mark.timeout(1800)

HOSTNAME = "kubernetes.io/hostname"
SERVER = "app.kubernetes.io/component=server"
INDEX = "app.kubernetes.io/component=index"


def documented_placement() -> dict:
    """The spec fields docs/containers.md shows for a corpus served from the real node, read from
    the page, so that what it says is what runs here."""
    (block,) = [
        b
        for b in fenced_blocks("docs/containers.md")
        if b.tag == "yaml" and any(configs.NODE_NAME in line for line in b.body)
    ]
    spec = yaml.safe_load("\n".join(block.body))["spec"]
    # The page's names are the nodes' own: the real node's and the local kubelet's, and their taints.
    assert spec["scheduling"] == {
        "nodeSelector": {HOSTNAME: configs.NODE_NAME},
        "tolerations": [LOCAL_NODE_TOLERATION, configs.TOLERATION],
    }, spec
    assert spec["embedding"] == {"nodeSelector": {HOSTNAME: LOCAL_NODE_NAME}}, spec
    return spec


def served_from_the_real_node(name: str, namespace: str) -> dict:
    """The quickstart's handbook RagCorpus (two replicas), indexed on the local node and served
    from the real one, by its spec alone: docs/containers.md's fields (see the module's docstring)."""
    corpus = ragcorpus(name, namespace, "handbook-docs", runtime={"replicas": 2})
    placement = documented_placement()
    corpus["spec"].update(
        index=placement["index"], scheduling=placement["scheduling"], embedding=placement["embedding"]
    )
    assert corpus["spec"]["index"]["storage"]["accessModes"] == ["ReadWriteMany"], corpus["spec"]
    return corpus


@pytest.fixture(scope="module")
def stack(
    control_plane: ControlPlane, real_node: RealNode, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """The e2e stack (its local kubelet runs the Job as a host process) beside the real node; the
    operator renders the locally built server image, which real_node imported into containerd.
    Stopped before the real node, whose own stop() then fails if anything of it is left."""
    s = Stack(
        control_plane.kubeconfig,
        tmp_path_factory.mktemp("stack"),
        kubelet_runtime="process",
        OOZO_SERVER_IMAGE=SERVER_IMAGE,
    ).start()
    try:
        yield s
    finally:
        s.stop()
    assert s.kubelet.pids() == [], "pod processes outlived the local kubelet"


@pytest.fixture(scope="module")
def handbook(stack: Stack) -> Iterator[DeployedCorpus]:
    namespace = namespace_for(stack, "real")
    corpus = DeployedCorpus("handbook", namespace, stack)
    apply(
        stack.kubeconfig,
        documents.configmap("handbook-docs", namespace, documents.handbook_docs()),
        served_from_the_real_node("handbook", namespace),
    )
    try:
        corpus.ready_seconds = corpus.wait_ready()
        yield corpus
    finally:
        kubectl(stack.kubeconfig, "delete", "namespace", namespace, "--wait=false", check=False)


@pytest.fixture()
def core(control_plane: ControlPlane) -> Iterator[Any]:
    with control_plane.api_client() as api:
        yield client.CoreV1Api(api)


def pods(core: Any, corpus: DeployedCorpus, component: str, terminating: bool = False) -> list[Any]:
    """The corpus's pods of one component; those being deleted only with `terminating`."""
    selector = f"app.kubernetes.io/instance={corpus.name},{component}"
    listed = core.list_namespaced_pod(corpus.namespace, label_selector=selector).items
    return [p for p in listed if terminating or p.metadata.deletion_timestamp is None]


def server_pods_on_the_real_node(core: Any, corpus: DeployedCorpus) -> set[str]:
    """Every live server pod is Ready on the real node at a CNI bridge IP, and the Service's
    endpoints are exactly those IPs; the pods' names."""
    running = pods(core, corpus, SERVER)
    assert len(running) == 2, [p.metadata.name for p in running]
    for pod in running:
        assert pod.spec.node_name == configs.NODE_NAME, (pod.metadata.name, pod.spec.node_name)
        assert is_ready(pod), pod.status
        assert ipaddress.ip_address(pod.status.pod_ip) in configs.POD_SUBNET, pod.status.pod_ip
    endpoints = service_endpoints(corpus.kubeconfig, corpus.namespace, corpus.name, 80)
    assert endpoints == sorted(f"http://{p.status.pod_ip}:8000" for p in running), endpoints
    return {p.metadata.name for p in running}


def index_pods_on_the_local_node(core: Any, corpus: DeployedCorpus) -> set[str]:
    indexed = pods(core, corpus, INDEX)
    assert indexed, "no index Job pod left to look at"
    for pod in indexed:
        assert pod.spec.node_name == LOCAL_NODE_NAME, (pod.metadata.name, pod.spec.node_name)
        assert pod.status.phase == "Succeeded", (pod.metadata.name, pod.status.phase)
    return {p.metadata.name for p in indexed}


def test_the_quickstart_corpus_is_indexed_on_the_local_node_and_served_from_the_real_node(
    handbook: DeployedCorpus, core: Any
) -> None:
    quickstart_answers(handbook)
    server_pods_on_the_real_node(core, handbook)
    index_pods_on_the_local_node(core, handbook)
    # No co-location term with a ReadWriteMany volume: the corpus's spec alone placed the pods.
    deployment = handbook.kubectl("get", "deployment", "handbook", "-o", "jsonpath={.spec.template.spec}")
    assert "podAffinity" not in deployment.stdout, deployment.stdout
    print(f"handbook Ready in {handbook.ready_seconds:.1f} s, served from the real node")
    for pod in pods(core, handbook, SERVER):
        print(f"server pod {pod.metadata.name} created → Ready on the real node: {milestones(pod)}")


def test_the_server_containers_on_the_real_node_run_with_the_rendered_security_context(
    handbook: DeployedCorpus, core: Any, real_node: RealNode
) -> None:
    """The kernel's view of each server process that containerd started for the real kubelet."""
    for pod in pods(core, handbook, SERVER):
        (container,) = pod.status.container_statuses
        assert container.image.endswith(SERVER_IMAGE) and container.ready, container
        assert container.container_id.startswith("containerd://"), container.container_id
        status = kernel_status(container_pid(real_node, container.container_id))
        assert status["Uid"].split() == ["65532"] * 4 and status["Gid"].split() == ["65532"] * 4
        assert status["CapEff"] == status["CapPrm"] == status["CapBnd"] == "0000000000000000"
        assert status["NoNewPrivs"] == "1"
        assert status["Seccomp"] == "2"  # SECCOMP_MODE_FILTER: the runtime's default profile


def test_a_rollout_on_the_real_node_replaces_the_server_pods_without_a_failed_query(
    handbook: DeployedCorpus, core: Any
) -> None:
    """A changed document: a new index Job on the local node writes the new version into the
    shared volume, and the Deployment rolls the real node's pods under a query loop."""
    before = server_pods_on_the_real_node(core, handbook)
    jobs_before = index_pods_on_the_local_node(core, handbook)

    def change() -> None:
        docs = documents.handbook_docs("MARIGOLD")
        apply(handbook.kubeconfig, documents.configmap("handbook-docs", handbook.namespace, docs))

    seen = roll_out_under_load(handbook, change, "MARIGOLD")
    # The old pods go once their grace is over; then only the new ones serve, on the real node.
    deadline = time.monotonic() + 120
    while {p.metadata.name for p in pods(core, handbook, SERVER, terminating=True)} & before:
        assert time.monotonic() < deadline, "the old server pods are still there"
        time.sleep(1)
    after = server_pods_on_the_real_node(core, handbook)
    assert not before & after, (before, after)
    assert index_pods_on_the_local_node(core, handbook) - jobs_before, "no new index pod"
    print(f"rolled {seen['before']} → {seen['after']} on the real node under {seen['queries']} queries")

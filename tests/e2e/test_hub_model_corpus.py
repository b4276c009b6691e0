"""A Hugging Face Hub model id through a RagCorpus on the real control plane with the real operator
and the local kubelet: the index Job really downloads the model from a hub mirror (olah, offline,
serving the bundled all-MiniLM-L6-v2's files as `oozo-test/minilm`: devcluster/hubserver.py),
gated behind a token the Job gets from a Secret by reference. Ready, the right answer, the
version's manifest records the commit the mirror serves, and neither the token nor the hub
endpoint reaches the server Deployment or its pods; the token is nowhere in the corpus's status
or events."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from devcluster.hubserver import HubServer, TokenGate
from devcluster.stack import kubectl
from oozo_contract.defaults import DEFAULT_MODEL
from oozo_runtime.model_files import resolve_model_path
from tests.e2e.conftest import Cluster, DeployedCorpus, apply, ragcorpus
from tests.e2e.documents import configmap
from tests.e2e.test_model_examples import manifest_of, pod_specs, secret_envs, sources

MODEL = "oozo-test/minilm"
TOKEN = "hf_oozo_e2e_token_0123456789"  # a test value; must never be printed
DOCS = {
    "leave.md": b"# Leave\n\nEvery employee has 27 days of paid leave a year.\n",
    "travel.md": b"# Travel\n\nBook trains for trips under 600 km; flights need approval.\n",
    "security.md": b"# Security\n\nLaptops lock after five minutes; badges are worn at all times.\n",
}


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TokenGate, str]]:
    """olah with the bundled MiniLM as a gated `oozo-test/minilm`, behind the token gate: the
    gate and the commit olah serves."""
    server = HubServer(tmp_path_factory.mktemp("hub")).start()
    commit = server.add_model(MODEL, Path(resolve_model_path(DEFAULT_MODEL)))
    gate = TokenGate(server.url, TOKEN, {MODEL}).start()
    yield gate, commit
    gate.stop()
    server.stop()


@pytest.fixture
def namespace(stack: Cluster) -> Iterator[str]:
    name = f"e2e-hub-{uuid.uuid4().hex[:6]}"
    kubectl(stack.kubeconfig, "create", "namespace", name)
    yield name
    kubectl(stack.kubeconfig, "delete", "namespace", name, "--wait=false", check=False)


def test_a_gated_hub_model_is_downloaded_by_the_index_job_and_served_without_the_token(
    stack: Cluster, hub: tuple[TokenGate, str], namespace: str
) -> None:
    gate, commit = hub
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "hf", "namespace": namespace},
        "stringData": {"token": TOKEN},
    }
    embedding = {"model": MODEL, "hub": {"endpoint": gate.url, "tokenSecret": {"name": "hf", "key": "token"}}}
    seen = len(gate.requests)
    apply(
        stack.kubeconfig,
        secret,
        configmap("hub-docs", namespace, DOCS),
        ragcorpus("hub", namespace, "hub-docs", embedding=embedding),
    )
    corpus = DeployedCorpus("hub", namespace, stack)
    corpus.ready_seconds = corpus.wait_ready()

    # The index Job really went to the hub, with the token (the gate refuses a gated repo without).
    asked = gate.requests[seen:]
    fetched = [path for _, path, _ in asked if "/resolve/" in path]
    assert fetched and all(with_token for _, _, with_token in asked), asked

    status = corpus.get()["status"]
    assert (status["index"]["documents"], status["index"]["embeddingModel"]) == (3, MODEL), status
    reply = corpus.query("How many days of paid leave does an employee have?", top_k=2)
    assert sources(reply)[0].endswith("leave.md") and "27 days" in json.dumps(reply), reply

    # The version records the commit olah serves; the snapshot sits in the corpus volume's cache.
    index_dir, manifest = manifest_of(corpus)
    assert manifest["embedding"]["modelRevision"] == commit, manifest["embedding"]
    assert corpus.get()["status"]["index"]["modelRevision"] == commit  # and status says so
    assert (index_dir / "models" / "hub" / "models--oozo-test--minilm" / "snapshots" / commit).is_dir()

    # The token reaches the index Job by reference only; the server gets neither it nor the hub.
    assert all(secret_envs(spec, "hf") == {"HF_TOKEN"} for spec in pod_specs(corpus, "jobs"))
    for spec in pod_specs(corpus, "deployments"):
        text = json.dumps(spec)
        assert '"hf"' not in text and gate.url not in text and TOKEN not in text, spec
        names = {e["name"] for c in spec["containers"] for e in c.get("env") or []}
        assert not {"HF_TOKEN", "OOZO_HUB_ENDPOINT", "OOZO_HUB_REVISION"} & names, names
    told = json.dumps(corpus.get()) + corpus.kubectl("get", "events", "-o", "json").stdout
    assert TOKEN not in told

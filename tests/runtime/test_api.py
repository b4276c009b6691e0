"""The query API through FastAPI's TestClient: the contract, limits with reasons, readiness,
auth, metrics, info, the HTML page and the OpenAI-compatible path (against a protocol double)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from oozo_contract.serve_settings import ServeSettings
from oozo_runtime.server.app import create_app
from tests.runtime.conftest import Built
from tests.runtime.llm_double import ChatCompletionsDouble

KEY = "test-key-0123456789"


def make_client(built: Built, retriever: Any, **settings: Any) -> TestClient:
    app = create_app(ServeSettings(index_dir=built.index_dir, **settings), retriever=retriever)
    return TestClient(app)


@pytest.fixture
def client(built: Built, retriever: Any) -> Iterator[TestClient]:
    with make_client(built, retriever) as c:
        yield c


def test_query_contract(client: TestClient, built: Built) -> None:
    fact = built.corpus.facts[0]
    r = client.post("/api/query", json={"question": fact.question, "top_k": 3})
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"answer", "sources", "index_version", "mode", "timings"}
    assert body["mode"] == "hybrid"  # the default mode answered, and the response says so
    assert fact.answer in body["answer"]
    assert len(body["sources"]) == 3
    assert set(body["sources"][0]) == {"document", "chunk", "score", "text", "heading"}
    assert body["sources"][0]["document"] == fact.document
    assert body["index_version"] == built.result.version
    assert {"embed_ms", "search_ms", "retrieval_ms", "generation_ms", "total_ms"} <= set(body["timings"])


def test_sources_can_be_left_out(client: TestClient) -> None:
    r = client.post("/api/query", json={"question": "budget", "return_sources": False})
    assert r.status_code == 200 and r.json()["sources"] == []


@pytest.mark.parametrize(
    ("payload", "status", "reason"),
    [
        ('{"question": "unterminated', 400, "invalid JSON"),
        ("[1, 2]", 422, "body"),
        ('{"top_k": 5}', 422, "question: Field required"),
        ('{"question": ""}', 422, "question: String should have at least 1 character"),
        ('{"question": "   "}', 422, "blank"),
        ('{"question": 42}', 422, "question: Input should be a valid string"),
        ('{"question": "q", "top_k": 0}', 422, "top_k: Input should be greater than or equal to 1"),
        ('{"question": "q", "top_k": 51}', 422, "top_k: Input should be less than or equal to 50"),
        ('{"question": "q", "top_k": "five"}', 422, "top_k"),
        ('{"question": "q", "top_k": 2.5}', 422, "top_k"),
        ('{"question": "q", "return_sources": "yes"}', 422, "return_sources"),
        ('{"question": "q", "mode": "semantic"}', 422, "mode: Input should be 'hybrid', 'dense' or"),
        ('{"question": "q", "mode": 1}', 422, "mode"),
        ('{"question": "' + "x" * 4001 + '"}', 422, "question: String should have at most 4000 characters"),
    ],
    ids=lambda v: str(v)[:30],
)
def test_bad_requests_get_4xx_with_a_reason(
    client: TestClient, payload: str, status: int, reason: str
) -> None:
    r = client.post("/api/query", content=payload, headers={"content-type": "application/json"})
    assert r.status_code == status, r.text
    assert reason in r.json()["error"]


def test_oversize_body_is_refused_before_parsing(client: TestClient) -> None:
    big = b'{"question": "' + b"x" * 70_000 + b'"}'
    r = client.post("/api/query", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert "larger than 65536 bytes" in r.json()["error"]


def test_oversize_streamed_body_without_content_length_is_refused(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"question": "'
        for _ in range(100):
            yield b"x" * 1000
        yield b'"}'

    r = client.post("/api/query", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413


def test_not_ready_before_the_index_is_loaded(built: Built) -> None:
    app = create_app(ServeSettings(index_dir=built.index_dir), load=False)
    with TestClient(app) as c:
        assert c.get("/health").status_code == 200
        r = c.get("/ready")
        assert r.status_code == 503 and r.headers["retry-after"] == "2"
        assert c.post("/api/query", json={"question": "q"}).status_code == 503


def test_ready_turns_200_after_background_load(built: Built) -> None:
    import time

    app = create_app(ServeSettings(index_dir=built.index_dir))
    with TestClient(app) as c:
        deadline = time.monotonic() + 120
        while c.get("/ready").status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert c.get("/ready").json()["index_version"] == built.result.version


def test_model_mismatch_keeps_the_app_unready_with_both_names(built: Built) -> None:
    import time

    app = create_app(ServeSettings(index_dir=built.index_dir, model="intfloat/e5-small-v2"))
    with TestClient(app) as c:
        deadline = time.monotonic() + 30
        while "built with" not in c.get("/ready").json()["error"]:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        error = c.get("/ready").json()["error"]
        assert "intfloat/e5-small-v2" in error and "all-MiniLM-L6-v2" in error


def test_auth(built: Built, retriever: Any, tmp_path: Path) -> None:
    keys_file = tmp_path / "keys"
    keys_file.write_text("file-key-abcdef\n")
    with make_client(built, retriever, auth_enabled=True, api_keys=[KEY], api_keys_file=keys_file) as c:
        r = c.post("/api/query", json={"question": "budget"})
        assert r.status_code == 401
        assert r.headers["www-authenticate"].startswith('Bearer realm="oozo"')
        assert (
            c.post("/api/query", json={"question": "q"}, headers={"Authorization": "Bearer nope"}).status_code
            == 401
        )
        assert c.get("/api/info").status_code == 401
        for key in (KEY, "file-key-abcdef"):
            ok = c.post("/api/query", json={"question": "budget"}, headers={"Authorization": f"Bearer {key}"})
            assert ok.status_code == 200
        for open_path in ("/health", "/ready", "/metrics", "/"):
            assert c.get(open_path).status_code == 200, open_path


def test_metrics_names(client: TestClient, built: Built) -> None:
    client.post("/api/query", json={"question": "budget"})
    client.post("/api/query", json={"question": ""})
    text = client.get("/metrics").text
    for name in (
        'rag_requests_total{endpoint="/api/query",status="200"}',
        'rag_requests_total{endpoint="/api/query",status="422"}',
        "rag_request_duration_seconds_bucket",
        "rag_active_connections",
        f"rag_documents_total {float(built.result.documents)}",
        f"rag_chunks_total {float(built.result.chunks)}",
        "rag_retrieval_duration_seconds_bucket",
        "rag_generation_duration_seconds_bucket",
        "rag_llm_tokens_total",
    ):
        assert name in text, name
    built_at = datetime.fromisoformat(built.result.built_at.replace("Z", "+00:00")).timestamp()
    # Compared as a number: the exposition writes 1795551510.0 as 1.79555151e+09.
    samples = {s.name: s.value for f in text_string_to_metric_families(text) for s in f.samples}
    assert samples["rag_index_built_timestamp_seconds"] == built_at


def test_two_apps_in_one_process_have_separate_registries(built: Built, retriever: Any) -> None:
    with make_client(built, retriever) as a, make_client(built, retriever) as b:
        a.post("/api/query", json={"question": "budget"})
        assert 'endpoint="/api/query"' not in b.get("/metrics").text


def test_info(client: TestClient, built: Built) -> None:
    info = client.get("/api/info").json()
    assert info["index_version"] == built.result.version
    assert info["model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert (info["documents"], info["chunks"], info["dimensions"]) == (30, built.result.chunks, 384)
    assert info["skipped_documents"] == 3 and info["generation_provider"] == "extractive"


def test_home_page_is_self_contained_html(client: TestClient) -> None:
    r = client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "api/query" in r.text and "<script src" not in r.text


@pytest.fixture
def llm() -> Iterator[ChatCompletionsDouble]:
    with ChatCompletionsDouble() as double:
        yield double


def openai_client(built: Built, retriever: Any, llm: ChatCompletionsDouble) -> TestClient:
    return make_client(
        built,
        retriever,
        generation_provider="openai",
        openai_base_url=llm.base_url,
        openai_api_key="sk-test-secret",
        openai_model="test-model",
        temperature=0.1,
        max_tokens=64,
        llm_timeout_seconds=1,
    )


def test_openai_answer_and_token_counters(built: Built, retriever: Any, llm: ChatCompletionsDouble) -> None:
    fact = built.corpus.facts[2]
    with openai_client(built, retriever, llm) as c:
        r = c.post("/api/query", json={"question": fact.question, "top_k": 2})
        assert r.status_code == 200, r.text
        assert r.json()["answer"] == f"Grounded answer to: {fact.question} [1]"
        assert len(r.json()["sources"]) == 2
        metrics = c.get("/metrics").text
    sent = llm.requests[0]
    assert sent["model"] == "test-model" and sent["temperature"] == 0.1 and sent["max_tokens"] == 64
    assert sent["messages"][0]["role"] == "system" and "only" in sent["messages"][0]["content"]
    assert fact.document in sent["messages"][1]["content"]
    assert llm.headers[0]["authorization"] == "Bearer sk-test-secret"
    assert 'rag_llm_tokens_total{kind="prompt"} 120.0' in metrics
    assert 'rag_llm_tokens_total{kind="completion"} 12.0' in metrics


def test_openai_upstream_error_is_502_with_sources(
    built: Built, retriever: Any, llm: ChatCompletionsDouble
) -> None:
    llm.mode = "error"
    with openai_client(built, retriever, llm) as c:
        r = c.post("/api/query", json={"question": "budget", "return_sources": False})
    assert r.status_code == 502
    body = r.json()
    assert "HTTP 500" in body["error"] and body["sources"] and body["answer"]


def test_openai_timeout_is_504_with_sources(built: Built, retriever: Any, llm: ChatCompletionsDouble) -> None:
    llm.mode = "slow"
    with openai_client(built, retriever, llm) as c:
        r = c.post("/api/query", json={"question": "budget"})
    assert r.status_code == 504
    assert "within 1s" in r.json()["error"] and r.json()["sources"]

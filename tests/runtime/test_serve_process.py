"""`oozo serve` as a real uvicorn process: readiness, auth, limits over real HTTP, JSON logs
without secrets."""

from __future__ import annotations

import json
import socket
from typing import Any

import httpx

from tests.runtime.conftest import Built

API_KEY = "srv-key-7f3a9c2e41"
OPENAI_KEY = "sk-never-log-me-5b8d"


def raw_request(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(data)
        chunks = []
        while True:
            part = s.recv(65536)
            if not part:
                break
            chunks.append(part)
    return b"".join(chunks)


def test_served_over_http_with_auth_limits_and_clean_logs(built: Built, serve: Any) -> None:
    server = serve(
        built.index_dir,
        {
            "OOZO_AUTH_ENABLED": "true",
            "OOZO_API_KEYS": f"other-key-1234,{API_KEY}",
            "OPENAI_API_KEY": OPENAI_KEY,
            "OOZO_LOG_LEVEL": "DEBUG",
        },
    )
    server.wait_ready()
    url, auth = server.url, {"Authorization": f"Bearer {API_KEY}"}
    fact = built.corpus.facts[6]

    assert httpx.get(url + "/health").json() == {"status": "ok"}
    r = httpx.post(url + "/api/query", json={"question": fact.question})
    assert r.status_code == 401 and "Bearer" in r.headers["www-authenticate"]
    r = httpx.post(url + "/api/query", json={"question": fact.question}, headers=auth, timeout=30)
    assert r.status_code == 200, r.text
    assert r.json()["sources"][0]["document"] == fact.document
    assert httpx.get(url + "/api/info", headers=auth).json()["index_version"] == built.result.version

    r = httpx.post(url + "/api/query", content=b"{nope", headers={**auth, "content-type": "application/json"})
    assert r.status_code == 400 and "invalid JSON" in r.json()["error"]
    r = httpx.post(url + "/api/query", json={"question": "q", "top_k": 99}, headers=auth)
    assert r.status_code == 422 and "top_k" in r.json()["error"]
    # a huge declared body is refused from the headers alone, before any byte of it is sent
    head = (
        f"POST /api/query HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {API_KEY}\r\n"
        "Content-Type: application/json\r\nContent-Length: 10000000\r\nConnection: close\r\n\r\n"
    )
    reply = raw_request(server.port, head.encode())
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]

    metrics = httpx.get(url + "/metrics").text
    assert 'rag_requests_total{endpoint="/api/query",status="401"}' in metrics

    server.stop()
    logs = server.logs()
    assert API_KEY not in logs and OPENAI_KEY not in logs and "other-key-1234" not in logs
    lines = [line for line in logs.splitlines() if line.strip()]
    parsed = [json.loads(line) for line in lines]  # every line is one JSON object
    assert any(p.get("message") == "index loaded" for p in parsed)
    assert any(p.get("message") == "request" and p.get("status") == 401 for p in parsed)


def test_serve_before_any_index_is_unready_then_picks_the_first_version_up(
    tmp_path: Any, serve: Any, embedder: Any
) -> None:
    import time

    from oozo_contract.index_settings import IndexSettings
    from oozo_runtime.indexing.build import build
    from tests.runtime.corpus import make_corpus

    index_dir = tmp_path / "index"
    index_dir.mkdir()
    server = serve(index_dir)
    deadline = time.monotonic() + 120
    reason = ""
    while "oozo index" not in reason:  # "index not loaded yet" until the loader has looked
        assert time.monotonic() < deadline, server.logs()
        time.sleep(0.3)
        try:
            r = httpx.get(server.url + "/ready", timeout=2)
        except httpx.HTTPError:
            continue
        assert r.status_code == 503
        reason = r.json()["error"]
    assert httpx.get(server.url + "/health").status_code == 200
    assert httpx.post(server.url + "/api/query", json={"question": "q"}).status_code == 503

    corpus = make_corpus(tmp_path / "docs", 2)
    result = build(IndexSettings(source=str(corpus.root), index_dir=index_dir), embedder=embedder)
    server.wait_ready()
    assert httpx.get(server.url + "/ready").json()["index_version"] == result.version

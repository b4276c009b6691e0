"""The real server bounds every connection (issue 13, Serving): slow-header connections are
closed within the head timeout while a normal query still succeeds; every response carries the
security headers; /docs and /openapi.json are off by default; the page loads nothing from a CDN."""

from __future__ import annotations

import re
import socket
import time
from typing import Any

import httpx

from tests.runtime.conftest import Built

KEY = "hardening-key-77c2d1"
AUTH = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
HEAD_SECONDS = 2


def test_fifty_slow_header_connections_are_closed_while_a_normal_query_succeeds(
    built: Built, serve: Any
) -> None:
    server = serve(
        built.index_dir,
        {
            "OOZO_AUTH_ENABLED": "true",
            "OOZO_API_KEYS": KEY,
            "OOZO_REQUEST_HEAD_SECONDS": str(HEAD_SECONDS),
            "OOZO_MAX_CONNECTIONS": "64",
        },
    )
    server.wait_ready()
    slow = []
    for _ in range(50):
        s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        s.sendall(b"GET /api/info HTTP/1.1\r\nHost: x\r\nX-Slow: ")  # and never the end of the head
        slow.append(s)
    try:
        fact = built.corpus.facts[0]
        r = httpx.post(server.url + "/api/query", json={"question": fact.question}, headers=AUTH, timeout=30)
        assert r.status_code == 200, r.text
        assert r.json()["sources"][0]["document"] == fact.document
        # Each slow connection is closed by the server (EOF), not left for the client to give up:
        # a recv that outlasts the head timeout by far would raise socket.timeout instead.
        for s in slow:
            s.settimeout(HEAD_SECONDS + 15)
            assert s.recv(1024) == b""
    finally:
        for s in slow:
            s.close()
    # Slots freed: the server still answers at once.
    assert httpx.get(server.url + "/health", timeout=10).status_code == 200


def test_a_request_head_over_the_size_limit_is_refused(built: Built, serve: Any) -> None:
    server = serve(built.index_dir, {"OOZO_MAX_HEADER_BYTES": "4096"})
    server.wait_ready()
    r = httpx.get(server.url + "/health", headers={"X-Big": "a" * 8000}, timeout=10)
    assert r.status_code == 431 and "4096" in r.json()["error"]
    # A head trickling in past the limit is not buffered either (h11's incomplete-event cap).
    with socket.create_connection(("127.0.0.1", server.port), timeout=15) as s:
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 8000)
        assert s.recv(1024).startswith(b"HTTP/1.1 400")
    assert httpx.get(server.url + "/health", timeout=10).status_code == 200


def test_security_headers_docs_off_and_no_cdn(built: Built, serve: Any) -> None:
    server = serve(built.index_dir, {"OOZO_AUTH_ENABLED": "true", "OOZO_API_KEYS": KEY})
    server.wait_ready()
    for path in ("/", "/health", "/ready", "/metrics", "/api/info", "/docs", "/nope"):
        r = httpx.get(server.url + path, timeout=10)
        h = r.headers
        assert h["x-content-type-options"] == "nosniff", path
        assert h["x-frame-options"] == "DENY", path
        assert "frame-ancestors 'none'" in h["content-security-policy"], path
        assert h["referrer-policy"] == "no-referrer", path
        assert "server" not in h, path  # no version banner
    for path in ("/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect"):
        assert httpx.get(server.url + path, timeout=10).status_code == 404, path
    page = httpx.get(server.url + "/", timeout=10)
    policy = page.headers["content-security-policy"]
    assert "script-src 'sha256-" in policy and "connect-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page.text)  # nothing from elsewhere
    assert "cdn" not in page.text.lower()


def test_openapi_when_enabled_is_behind_the_key(built: Built, serve: Any) -> None:
    server = serve(
        built.index_dir, {"OOZO_AUTH_ENABLED": "true", "OOZO_API_KEYS": KEY, "OOZO_OPENAPI_ENABLED": "true"}
    )
    server.wait_ready()
    assert httpx.get(server.url + "/openapi.json", timeout=10).status_code == 401
    doc = httpx.get(server.url + "/openapi.json", headers=AUTH, timeout=10).json()
    assert doc["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    responses = doc["paths"]["/api/query"]["post"]["responses"]
    assert {"200", "400", "401", "413", "422", "502", "503", "504"} <= set(responses)
    assert httpx.get(server.url + "/docs", timeout=10).status_code == 404


def test_ready_reason_names_no_path_before_an_index_exists(tmp_path: Any, serve: Any) -> None:
    index_dir = tmp_path / "empty-index"
    index_dir.mkdir()
    server = serve(index_dir)
    deadline = time.monotonic() + 120
    reason = ""
    while "IndexNotFound" not in reason:
        assert time.monotonic() < deadline, server.logs()
        time.sleep(0.3)
        try:
            reason = httpx.get(server.url + "/ready", timeout=2).json()["error"]
        except httpx.HTTPError:
            continue
    assert str(tmp_path) not in reason and "/" not in reason.replace("`oozo index`", "")

"""Agents reach a corpus over the Model Context Protocol (issue 17): a real `oozo serve` (real
model, real index) serves /mcp, and the official SDK's own client (streamable HTTP transport +
ClientSession) lists the tools, searches, asks, and gets the tool's reason for a bad argument;
without the key the endpoint answers 401 like the rest of the API."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx
import httpx2
import pytest
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from prometheus_client.parser import text_string_to_metric_families

from tests.runtime.conftest import Built, Server

KEY = "mcp-key-5d0e7b"


@pytest.fixture(scope="module")
def server(built: Built, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    env = {"OOZO_AUTH_ENABLED": "true", "OOZO_API_KEYS": KEY, "OOZO_MAX_QUESTION_CHARS": "200"}
    server = Server(built.index_dir, tmp_path_factory.mktemp("mcp") / "serve.log", env)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


@asynccontextmanager
async def session(
    server: Server, key: str = KEY, statuses: list[int] | None = None
) -> AsyncIterator[ClientSession]:
    """The SDK's client over its streamable HTTP transport, with the bearer key; `statuses`
    collects the HTTP status of every response it gets."""

    async def record(response: httpx2.Response) -> None:
        if statuses is not None:
            statuses.append(response.status_code)

    # As the SDK's docs say: headers go on an httpx2 client handed to the transport.
    http = httpx2.AsyncClient(
        headers={"Authorization": f"Bearer {key}"}, timeout=60, event_hooks={"response": [record]}
    )
    url = server.url + "/mcp"
    async with (
        http,
        streamable_http_client(url, http_client=http) as (read, write),
        ClientSession(read, write) as client,
    ):
        await client.initialize()
        yield client


def run(server: Server, work: Any) -> Any:
    async def main() -> Any:
        async with session(server) as client:
            return await work(client)

    return anyio.run(main)


def test_the_sdk_client_lists_search_and_ask_with_their_schemas(server: Server) -> None:
    async def work(client: ClientSession) -> Any:
        return (await client.list_tools()).tools

    tools = {tool.name: tool for tool in run(server, work)}
    assert set(tools) == {"search", "ask"}
    for tool in tools.values():
        assert tool.description and "question" in tool.input_schema["required"]
        question = tool.input_schema["properties"]["question"]
        assert question["maxLength"] == 200 and question["description"]  # this server's bound
        assert tool.input_schema["properties"]["top_k"]["maximum"] == 50
        assert tool.annotations is not None and tool.annotations.read_only_hint
        assert tool.output_schema is not None and "sources" in tool.output_schema["properties"]


def test_search_finds_the_document_that_holds_the_answer(server: Server, built: Built) -> None:
    fact = built.corpus.facts[0]

    async def work(client: ClientSession) -> Any:
        return await client.call_tool("search", {"question": fact.question, "top_k": 3})

    result = run(server, work)
    assert not result.is_error, result.content
    found = result.structured_content
    assert found["index_version"] == built.result.version
    assert len(found["sources"]) == 3
    best = found["sources"][0]
    assert best["document"] == fact.document and fact.answer in best["text"]
    assert {"document", "heading", "text", "score", "chunk"} <= set(best)


def test_ask_answers_from_the_corpus_with_its_sources(server: Server, built: Built) -> None:
    fact = built.corpus.facts[1]

    async def work(client: ClientSession) -> Any:
        return await client.call_tool("ask", {"question": fact.question})

    result = run(server, work)
    assert not result.is_error, result.content
    answered = result.structured_content
    assert fact.answer in answered["answer"]
    assert answered["sources"][0]["document"] == fact.document
    assert answered["index_version"] == built.result.version
    assert fact.answer in result.content[0].text  # the same result as text, for clients without structure


@pytest.mark.parametrize(
    ("arguments", "reason"),
    [
        ({"question": "x" * 201}, "question"),
        ({"question": "   "}, "blank"),
        ({"question": "budget", "top_k": 0}, "top_k"),
        ({"question": "budget", "top_k": 51}, "top_k"),
        ({"top_k": 3}, "question"),
    ],
)
def test_a_bad_argument_is_a_tool_error_with_its_reason(
    server: Server, arguments: dict[str, Any], reason: str
) -> None:
    async def work(client: ClientSession) -> Any:
        refused = await client.call_tool("search", arguments)
        answered = await client.call_tool("search", {"question": "budget"})  # the session goes on
        return refused, answered

    refused, answered = run(server, work)
    assert refused.is_error
    assert reason in refused.content[0].text, refused.content[0].text
    assert not answered.is_error


def test_without_the_key_the_endpoint_answers_401(server: Server) -> None:
    initialize = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "t", "version": "1"},
        },
    }
    headers = {"Accept": "application/json, text/event-stream"}
    for auth in ({}, {"Authorization": "Bearer wrong-key"}):
        r = httpx.post(server.url + "/mcp", json=initialize, headers={**headers, **auth}, timeout=10)
        assert r.status_code == 401, r.text
        assert "API key" in r.json()["error"] and r.headers["www-authenticate"].startswith("Bearer")
        assert r.headers["x-content-type-options"] == "nosniff"  # the security headers stay on

    statuses: list[int] = []

    async def with_wrong_key() -> None:
        async with session(server, key="wrong-key", statuses=statuses):
            pass

    with pytest.raises(ExceptionGroup) as refused:  # the SDK's task groups wrap its MCPError
        anyio.run(with_wrong_key)
    assert refused.group_contains(MCPError)
    assert statuses == [401]  # refused at the first request, before any session existed


def test_mcp_requests_are_counted_on_metrics(server: Server) -> None:
    async def work(client: ClientSession) -> Any:
        return await client.call_tool("search", {"question": "budget"})

    run(server, work)
    assert httpx.post(server.url + "/mcp", json={}, timeout=10).status_code == 401
    text = httpx.get(server.url + "/metrics", timeout=10).text
    counted = {
        s.labels["status"]: s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "rag_requests_total" and s.labels["endpoint"] == "/mcp"
    }
    assert counted.get("200", 0) >= 2 and counted.get("401", 0) >= 1  # initialize + call; refusals
    retrievals = next(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "rag_retrieval_duration_seconds_count"
    )
    assert retrievals >= 1

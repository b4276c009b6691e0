"""Every example of docs/agents.md works as written against a real `oozo serve` (real model, an
index of a small handbook): the MCP client configuration, the Python MCP client, the `openai`
client, the curl line, the answer and the error it shows. Only the documented host is swapped
for the test server's."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import pytest
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client

from tests.doc_commands import documented
from tests.runtime.conftest import Server

DOC = Path(__file__).resolve().parents[2] / "docs" / "agents.md"
HOST = "http://handbook.docs.svc"
KEY = "docs-agents-key-8b21"
QUESTION = "How many days of paid leave?"


def blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", DOC.read_text(), flags=re.S | re.M)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, embedder: Any) -> Iterator[Server]:
    from oozo_contract.index_settings import IndexSettings
    from oozo_runtime.indexing.build import build

    docs = tmp_path_factory.mktemp("handbook")
    (docs / "hr").mkdir()
    (docs / "hr" / "leave.md").write_text("# Leave policy\n\nEmployees get 27 days of paid leave per year.\n")
    (docs / "it").mkdir()
    (docs / "it" / "laptops.md").write_text(
        "# Laptops\n\nEvery employee gets a new laptop every four years.\n"
    )
    (docs / "travel.md").write_text(
        "# Travel\n\nTrain journeys under six hours are booked in second class.\n"
    )
    index_dir = tmp_path_factory.mktemp("handbook-index")
    build(IndexSettings(source=str(docs), index_dir=index_dir), embedder=embedder)
    env = {"OOZO_AUTH_ENABLED": "true", "OOZO_API_KEYS": KEY}
    server = Server(index_dir, tmp_path_factory.mktemp("logs") / "serve.log", env)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


def swapped(text: str, server: Server) -> str:
    return text.replace(HOST, server.url)


def run(command: list[str], server: Server) -> str:
    done = subprocess.run(
        command, env={**os.environ, "OOZO_API_KEY": KEY}, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_mcp_client_configuration_connects(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    [config] = [json.loads(b) for b in blocks("json") if "mcpServers" in b]
    entry = config["mcpServers"]["handbook"]
    assert entry["type"] == "http"
    monkeypatch.setenv("OOZO_API_KEY", KEY)
    headers = {k: os.path.expandvars(v) for k, v in entry["headers"].items()}  # as the client expands them

    async def ask() -> Any:
        async with (
            httpx2.AsyncClient(headers=headers, timeout=60) as http,
            streamable_http_client(swapped(entry["url"], server), http_client=http) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            return await session.call_tool("ask", {"question": QUESTION})

    result = anyio.run(ask)
    assert not result.is_error and "27 days" in result.structured_content["answer"]


def test_the_python_examples_print_the_answer_and_its_source(server: Server) -> None:
    examples = blocks("python")
    assert len(examples) == 2  # the MCP client and the openai client
    for example in examples:
        printed = run([sys.executable, "-c", swapped(example, server)], server)
        assert "27 days" in printed and "hr/leave.md" in printed, printed
    assert printed.count("According to hr/leave.md") == 2  # the openai example: answered, then streamed


def test_the_curl_example_answers(server: Server) -> None:
    curl = documented("docs/agents.md", startswith="curl", contains="/v1/chat/completions")
    reply = json.loads(run(["bash", "-c", swapped(curl, server)], server))
    assert reply["object"] == "chat.completion"
    assert reply["sources"][0]["document"] == "hr/leave.md"


def test_the_answer_shown_is_the_real_one(server: Server) -> None:
    [shown] = blocks("text")
    r = httpx.post(
        server.url + "/v1/chat/completions",
        json={"model": "oozo", "messages": [{"role": "user", "content": QUESTION}], "top_k": 1},
        headers={"Authorization": f"Bearer {KEY}"},
        timeout=60,
    )
    assert r.json()["choices"][0]["message"]["content"] == shown.strip()


def test_the_error_shown_is_the_real_one(server: Server) -> None:
    [shown] = [json.loads(b) for b in blocks("json") if '"error"' in b]
    r = httpx.post(
        server.url + "/v1/chat/completions",
        json={"model": "oozo", "messages": [{"role": "system", "content": "Be brief."}]},
        headers={"Authorization": f"Bearer {KEY}"},
        timeout=60,
    )
    assert r.status_code == 400 and r.json() == shown

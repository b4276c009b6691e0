"""The MCP tools and the chat replies, built without a model: the tools state this server's
bounds to agents, the first /mcp request (which builds the SDK's server) leaves the process's
logging alone (the SDK would configure it), and a chat reply lists its sources in the order an
LLM cites them."""

from __future__ import annotations

import logging
from typing import Any

import anyio
import pytest
from fastapi.testclient import TestClient

from oozo_contract.serve_settings import ServeSettings
from oozo_runtime.server import openai_shapes
from oozo_runtime.server.app import create_app
from oozo_runtime.server.routes.mcp_endpoint import build_server

KEY = "agent-key-3f9a1c"
MCP_HEADERS = {
    "Authorization": f"Bearer {KEY}",
    "Accept": "application/json, text/event-stream",
    "Content-Type": "application/json",
}
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "unit-test", "version": "1"},
    },
}


def test_the_tools_state_the_configured_bounds() -> None:
    app = create_app(ServeSettings(max_question_chars=123, max_top_k=7), load=False)
    tools = anyio.run(build_server(app.state.oozo).list_tools)
    assert {t.name for t in tools} == {"search", "ask"}
    for tool in tools:
        properties = tool.input_schema["properties"]
        assert properties["question"]["maxLength"] == 123 and properties["top_k"]["maximum"] == 7


def test_the_first_mcp_request_leaves_the_root_logger_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """The SDK's server is built (MCPServer() calls logging.basicConfig) on the first
    authenticated /mcp request, not when the app is built: that request is where the root
    logger must come through untouched."""
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])
    monkeypatch.setattr(root, "level", logging.ERROR)
    settings = ServeSettings(auth_enabled=True, api_keys=[KEY])
    with TestClient(create_app(settings, load=False)) as client:
        response = client.post("/mcp", json=INITIALIZE, headers=MCP_HEADERS)
    assert response.status_code == 200, response.text
    assert response.json()["result"]["serverInfo"]["name"] == "oozo"  # the SDK answered
    assert root.handlers == [] and root.level == logging.ERROR


def test_a_reply_lists_its_sources_numbered_as_cited() -> None:
    sources: list[dict[str, Any]] = [
        {"document": "hr/leave.md", "heading": "Leave policy"},
        {"document": "travel.md", "heading": None},
    ]
    assert openai_shapes.with_citations("27 days [1].", sources) == (
        "27 days [1].\n\nSources:\n[1] hr/leave.md — Leave policy\n[2] travel.md"
    )
    assert openai_shapes.with_citations("No indexed passage matches the question.", []) == (
        "No indexed passage matches the question."
    )

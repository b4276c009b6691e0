"""The MCP tools and the chat replies, built without a model: the tools state this server's
bounds to agents, building the app leaves the process's logging alone (the SDK would configure
it), and a chat reply lists its sources in the order an LLM cites them."""

from __future__ import annotations

import logging
from typing import Any

import anyio
import pytest

from oozo_contract.settings import ServeSettings
from oozo_runtime.server import openai_shapes
from oozo_runtime.server.app import create_app
from oozo_runtime.server.routes.mcp_endpoint import build_server


def test_the_tools_state_the_configured_bounds() -> None:
    app = create_app(ServeSettings(max_question_chars=123, max_top_k=7), load=False)
    tools = anyio.run(build_server(app.state.oozo).list_tools)
    assert {t.name for t in tools} == {"search", "ask"}
    for tool in tools:
        properties = tool.input_schema["properties"]
        assert properties["question"]["maxLength"] == 123 and properties["top_k"]["maximum"] == 7


def test_building_the_app_leaves_the_root_logger_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])
    monkeypatch.setattr(root, "level", logging.ERROR)
    create_app(ServeSettings(), load=False)
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

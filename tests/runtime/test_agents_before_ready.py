"""Before an index version is loaded, the agent and chat interfaces say so instead of failing:
the MCP tools answer with a tool error naming the reason, chat with OpenAI's 503 shape and a
Retry-After (the `openai` client retries on it), against a real `oozo serve` with no index yet."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client

KEY = "before-ready-key-3c7d"
AUTH = {"Authorization": f"Bearer {KEY}"}


def test_before_an_index_is_loaded_tools_and_chat_say_why(tmp_path: Path, serve: Any) -> None:
    index_dir = tmp_path / "empty-index"
    index_dir.mkdir()
    server = serve(index_dir, {"OOZO_AUTH_ENABLED": "true", "OOZO_API_KEYS": KEY})
    deadline = time.monotonic() + 120
    while True:  # up and waiting for an index (not ready)
        assert time.monotonic() < deadline, server.logs()
        try:
            if "IndexNotFound" in httpx.get(server.url + "/ready", timeout=2).json()["error"]:
                break
        except httpx.HTTPError:
            time.sleep(0.3)

    r = httpx.post(
        server.url + "/v1/chat/completions",
        json={"model": "oozo", "messages": [{"role": "user", "content": "budget"}]},
        headers=AUTH,
        timeout=10,
    )
    assert r.status_code == 503 and r.headers["retry-after"] == "2"
    assert r.json()["error"]["code"] == "index_not_loaded" and "IndexNotFound" in r.json()["error"]["message"]

    async def search() -> Any:
        async with (
            httpx2.AsyncClient(headers=AUTH, timeout=60) as http,
            streamable_http_client(server.url + "/mcp", http_client=http) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            return await session.call_tool("search", {"question": "budget"})

    result = anyio.run(search)
    assert result.is_error and "not loaded yet" in result.content[0].text
    assert "IndexNotFound" in result.content[0].text

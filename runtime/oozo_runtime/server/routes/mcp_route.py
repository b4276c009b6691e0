"""The `/mcp` route, without the MCP SDK: importing the SDK takes about 1.5 s, which would be
half of the server's start to `/ready`. The route is a small ASGI shim that checks the bearer key,
then on the first request that passes imports mcp_endpoint.py (in a worker thread, so the event
loop keeps answering probes and queries), builds the SDK's app once and starts its session
manager inside the app's lifespan; every later request goes straight to the built app.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import AsyncIterator
from typing import Any

import anyio
import anyio.abc
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from oozo_runtime.server.auth import bearer_token
from oozo_runtime.server.middleware import send_json
from oozo_runtime.server.state import AppState

PATH = "/mcp"
SDK_MODULE = "oozo_runtime.server.routes.mcp_endpoint"


class BearerGate:
    """The API's bearer check in front of an ASGI app: 401 with the same body and challenge as
    /api/query, before the request reaches the SDK (or makes this process import it)."""

    def __init__(self, app: ASGIApp, state: AppState) -> None:
        self.app, self.state = app, state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.state.settings.auth_enabled:
            headers = dict(scope.get("headers", []))
            token = bearer_token(headers.get(b"authorization", b"").decode("latin-1") or None)
            if not self.state.keys.check(token):
                await _refuse(send, "invalid_token" if token else "invalid_request")
                return
        await self.app(scope, receive, send)


async def _refuse(send: Send, error: str) -> None:
    challenge = f'Bearer realm="oozo", error="{error}"'.encode()
    body = {"error": "missing or invalid API key (send 'Authorization: Bearer <key>')"}

    async def with_challenge(message: Any) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message["headers"], (b"www-authenticate", challenge)]}
        await send(message)

    await send_json(with_challenge, 401, body)


class LazyMCP:
    """The SDK's ASGI app, built on the first request. Its session manager owns a task group
    that must outlive requests: `running()`, entered by the app's lifespan, holds a task group
    the manager is started in (once, by the first request), and stops it at shutdown."""

    def __init__(self, state: AppState) -> None:
        self.state = state
        self.app: ASGIApp | None = None
        self._lock: anyio.Lock | None = None
        self._lifespan: anyio.abc.TaskGroup | None = None
        self._stop: anyio.Event | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        app = self.app or await self._build()
        await app(scope, receive, send)

    async def _build(self) -> ASGIApp:
        if self._lock is None:  # no await since the check: one lock per app
            self._lock = anyio.Lock()
        async with self._lock:
            if self.app is None:
                sdk = await anyio.to_thread.run_sync(importlib.import_module, SDK_MODULE)
                app, manager = sdk.asgi_app(self.state)
                if self._lifespan is not None and self._stop is not None:
                    await self._lifespan.start(_run_manager, manager, self._stop)
                # Without a running lifespan (an app served without one) the SDK refuses the
                # request itself, as it did when it was built at import.
                self.app = app
            return self.app

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        async with anyio.create_task_group() as group:
            self._lifespan, self._stop = group, anyio.Event()
            try:
                yield
            finally:
                self._stop.set()  # the manager's task (if started) leaves its run() and ends
                self._lifespan = None


async def _run_manager(
    manager: Any, stop: anyio.Event, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
) -> None:
    async with manager.run():
        task_status.started()
        await stop.wait()


def install(app_routes: list[Any], state: AppState) -> contextlib.AbstractAsyncContextManager[None]:
    """Add the /mcp route and return what the app's lifespan must run (the task group the SDK's
    session manager runs in once the first request has built it)."""
    lazy = LazyMCP(state)
    app_routes.append(Route(PATH, endpoint=BearerGate(lazy, state)))
    return lazy.running()

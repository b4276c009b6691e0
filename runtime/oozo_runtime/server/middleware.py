"""One pure-ASGI middleware for every HTTP request: body size limit, security headers, metrics
and an access log.

The body limit is enforced before the route parses anything: a Content-Length above the limit is
refused at once with 413, and a body streamed without Content-Length (chunked) is counted as it
arrives and refused as soon as it passes the limit.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from oozo_runtime.server.headers import with_security_headers
from oozo_runtime.server.metrics import Metrics, endpoint_label

log = logging.getLogger("oozo_runtime.access")


class BodyTooLarge(HTTPException):
    """An HTTPException so that FastAPI's body parsing re-raises it (as a 413) instead of wrapping
    it into a generic 400."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body larger than {limit} bytes")


async def send_json(send: Send, status: int, body: dict[str, Any]) -> None:
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


class RequestMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics, max_body_bytes: int, max_header_bytes: int) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body = max_body_bytes
        self.max_header = max_header_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        endpoint = endpoint_label(scope["path"])
        started = time.perf_counter()
        status = {"code": 500, "sent": False}
        self.metrics.active.inc()

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"], status["sent"] = message["status"], True
                message = {**message, "headers": with_security_headers(list(message.get("headers", [])))}
            await send(message)

        received = 0

        async def receive_wrapper() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    raise BodyTooLarge(self.max_body)
            return message

        try:
            too_big = self._declared_too_big(scope)
            if too_big:
                await send_json(send_wrapper, too_big[0], {"error": too_big[1]})
            else:
                await self.app(scope, receive_wrapper, send_wrapper)
        except BodyTooLarge as exc:
            if not status["sent"]:
                await send_json(send_wrapper, 413, {"error": exc.detail})
        finally:
            elapsed = time.perf_counter() - started
            self.metrics.active.dec()
            self.metrics.requests.labels(endpoint, str(status["code"])).inc()
            self.metrics.request_duration.labels(endpoint).observe(elapsed)
            log.info(
                "request",
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status["code"],
                    "duration_ms": round(elapsed * 1000, 2),
                },
            )

    def _limit_message(self) -> str:
        return f"request body larger than {self.max_body} bytes"

    def _declared_too_big(self, scope: Scope) -> tuple[int, str] | None:
        # uvicorn's h11_max_incomplete_event_size bounds what it buffers of a head still
        # arriving; a head that arrives whole in one read is measured here.
        head = len(scope.get("raw_path") or b"") + sum(len(k) + len(v) + 4 for k, v in scope["headers"])
        if head > self.max_header:
            return 431, f"request headers larger than {self.max_header} bytes"
        for name, value in scope["headers"]:
            if name == b"content-length":
                if not value.isdigit():
                    return 400, "invalid Content-Length header"
                if int(value) > self.max_body:
                    return 413, self._limit_message()
        return None

"""A small real HTTP proxy on loopback, in a thread of the test process, in front of a real
server: the shared part of the hub's token gate (`hubserver.TokenGate`) and the embeddings
fault injector (`embeddings_server.FaultProxy`).

A subclass says which methods it takes (`methods`) and what to do with one request
(`handle`): answer it itself (`reply`) or pass it on (`forward`). This class binds a free port,
serves in a daemon thread, forwards without the client's Authorization header (the upstream
never needs it, and a key must not travel further than the proxy that checks it) and streams
the upstream's answer through as it comes: a model's weights are large, and a client times out
when no byte arrives for a while.

    proxy = SomeProxy("http://127.0.0.1:9000").start()
    proxy.url                      # http://127.0.0.1:PORT
    proxy.stop()
"""

from __future__ import annotations

import http.client
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import urlsplit

# hop-by-hop or recomputed: the proxy sets its own Content-Length and keeps its connection
_NOT_PASSED_ON = ("transfer-encoding", "connection", "content-length")


class LoopbackProxy:
    methods: tuple[str, ...] = ("GET",)
    thread_name = "loopback-proxy"
    upstream_timeout = 120.0
    chunk_bytes = 1024 * 1024

    def __init__(self, upstream: str) -> None:
        self.upstream = urlsplit(upstream)
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, f"{type(self).__name__} has not been started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        """Answer one request: `reply` or `forward`."""
        raise NotImplementedError

    def start(self) -> Self:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def dispatch(self) -> None:
                proxy.handle(self)

        # only the methods the subclass takes: any other gets http.server's own 501
        for method in self.methods:
            setattr(Handler, f"do_{method}", Handler.dispatch)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, name=self.thread_name, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @staticmethod
    def reply(
        request: BaseHTTPRequestHandler, status: int, body: bytes, headers: dict[str, str] | None = None
    ) -> None:
        """A JSON answer of the proxy's own (a refusal, an injected failure)."""
        request.send_response(status)
        for name, value in {**(headers or {}), "Content-Type": "application/json"}.items():
            request.send_header(name, value)
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        if request.command != "HEAD":
            request.wfile.write(body)

    def forward(self, request: BaseHTTPRequestHandler, body: bytes | None = None) -> None:
        """Pass the request on to the upstream (with `body`, already read from the client) and
        its answer back, a Location pointing at the upstream rewritten to point at the proxy."""
        conn = http.client.HTTPConnection(
            self.upstream.hostname or "127.0.0.1", self.upstream.port, timeout=self.upstream_timeout
        )
        headers = {"Accept-Encoding": "identity"}
        if content_type := request.headers.get("Content-Type"):
            headers["Content-Type"] = content_type
        try:
            conn.request(request.command, request.path, body, headers)
            response = conn.getresponse()
            length = response.getheader("Content-Length")
            # without a length (chunked), read it whole to tell the client one
            whole = b"" if length is not None or request.command == "HEAD" else response.read()
            request.send_response(response.status)
            for name, value in response.getheaders():
                if name.lower() in _NOT_PASSED_ON:
                    continue
                if name.lower() == "location":
                    value = value.replace(f"{self.upstream.scheme}://{self.upstream.netloc}", self.url)
                request.send_header(name, value)
            request.send_header("Content-Length", length if length is not None else str(len(whole)))
            request.end_headers()
            if request.command == "HEAD":
                return
            if length is None:
                request.wfile.write(whole)
                return
            while chunk := response.read(self.chunk_bytes):
                request.wfile.write(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout, a resumed download): nothing to answer
        finally:
            conn.close()

"""A real HTTP document server on loopback (stdlib http.server in a thread) for the HTTP fetcher:
ETag and Last-Modified with 304s, redirects, a slow body, bodies bigger than they say (or than
the cap), and a page that needs an Authorization header. It records what it was asked."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Generator
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOKEN = "Bearer s3cr3t-t0ken-value"


@dataclass
class Doc:
    body: bytes
    etag: bool = True  # False: only Last-Modified
    modified: float = 0.0


@dataclass
class DocServer:
    docs: dict[str, Doc] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    port: int = 0
    clock: float = 1_700_000_000.0  # Last-Modified has whole seconds: each put is a minute later

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def put(self, path: str, body: bytes, *, etag: bool = True) -> None:
        self.clock += 60
        self.docs[path] = Doc(body, etag, self.clock)

    def asked(self, path: str) -> list[dict[str, str]]:
        return [headers for p, headers in self.requests if p == path]


def _handler(server: DocServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_: object) -> None:  # keep the test output clean
            pass

        def do_GET(self) -> None:
            server.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
            route = getattr(self, "route_" + self.path.split("/")[1].split("?")[0].replace("-", "_"), None)
            if route is not None:
                route()
            elif self.path.split("?")[0] in server.docs:
                self.serve_doc(server.docs[self.path.split("?")[0]])
            else:
                self.reply(404, b"not found")

        def reply(self, status: int, body: bytes = b"", **headers: str) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name.replace("_", "-"), value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def serve_doc(self, doc: Doc) -> None:
            etag = '"' + hashlib.sha256(doc.body).hexdigest()[:16] + '"'
            modified = formatdate(doc.modified, usegmt=True)
            if doc.etag and self.headers.get("If-None-Match") == etag:
                return self.reply(304, ETag=etag)
            if not doc.etag and self.headers.get("If-Modified-Since") == modified:
                return self.reply(304, Last_Modified=modified)
            validators = {"ETag": etag} if doc.etag else {"Last_Modified": modified}
            self.reply(200, doc.body, Content_Type="text/markdown", **validators)

        def route_redirect(self) -> None:  # /redirect/N/PATH: N more hops, then PATH
            _, _, hops, target = self.path.split("/", 3)
            nxt = f"/redirect/{int(hops) - 1}/{target}" if int(hops) > 1 else "/" + target
            self.reply(302, Location=nxt)

        def route_loop(self) -> None:
            self.reply(302, Location="/loop")

        def route_to_metadata(self) -> None:
            self.reply(302, Location="http://169.254.169.254/latest/meta-data/iam.md")

        def route_to_other_origin(self) -> None:  # same server under another host name
            self.reply(302, Location=f"http://localhost:{server.port}/secret/report.md")

        def route_secret(self) -> None:
            if self.headers.get("Authorization") != TOKEN:
                return self.reply(401, b"who are you")
            self.reply(200, b"# Secret report\n\nOnly for those with the token.\n")

        def route_slow(self) -> None:  # a drip that never ends in time
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            for _ in range(100):
                self.wfile.write(b"x")
                self.wfile.flush()
                time.sleep(0.1)

        def route_declared_big(self) -> None:  # says 10 GB
            self.send_response(200)
            self.send_header("Content-Length", str(10 * 1024**3))
            self.end_headers()
            self.wfile.write(b"y" * 1024)

        def route_undeclared_big(self) -> None:  # no length, then more bytes than any cap here
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            for _ in range(64):
                self.wfile.write(b"z" * 16 * 1024)

    return Handler


def serve_docs() -> Generator[DocServer, None, None]:
    """Start a DocServer on a free loopback port; stop it when the generator is closed."""
    state = DocServer()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    httpd.daemon_threads = True
    state.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()

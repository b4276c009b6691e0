"""A real Git server on loopback for tests: Git's own `git http-backend` (smart HTTP, protocol
v0 and v2) run as a CGI program behind a small standard-library HTTP server.

    server = GitServer(root_dir)              # root_dir holds bare repositories (NAME.git)
    server.start()                            # a free port on 127.0.0.1, served from a thread
    server.url("docs.git")                    # http://127.0.0.1:PORT/docs.git
    server.stop()

`GitServer(root, username="u", password="p")` answers 401 (with a Basic challenge) to every
request without those credentials, the way a hosted Git server guards a private repository;
`forbidden=("x.git",)` answers 403 for those repositories even to valid credentials (a token
without access to them).

Why a CGI runner of our own instead of `http.server.CGIHTTPRequestHandler`: that handler is
deprecated (removed in Python 3.15), maps URLs to scripts in folders rather than one program,
and does not decode a chunked request body, which Git clients send for large negotiations.
`python -m devcluster.gitserver ROOT [PORT]` serves ROOT in the foreground for poking at by hand.
"""

from __future__ import annotations

import base64
import hmac
import os
import shutil
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

from devcluster.ports import free_port

HTTP_BACKEND = Path("/usr/lib/git-core/git-http-backend")


def http_backend() -> Path:
    """The git-http-backend program of the installed Git (Debian's `git` package; `make tools`
    installs it). Asks git itself where its helpers live when the Debian path is not there."""
    if HTTP_BACKEND.exists():
        return HTTP_BACKEND
    git = shutil.which("git")
    if git is None:
        raise RuntimeError("git is not installed: run `make tools` (hack/tools/git.sh)")
    exec_path = subprocess.run([git, "--exec-path"], capture_output=True, text=True, check=True)
    backend = Path(exec_path.stdout.strip()) / "git-http-backend"
    if not backend.exists():
        raise RuntimeError(f"git-http-backend not found in {backend.parent}")
    return backend


class _GitHttpHandler(BaseHTTPRequestHandler):
    server: _GitHttpServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self._run_backend()

    def do_POST(self) -> None:
        self._run_backend()

    def log_message(self, format: str, *args: object) -> None:  # keep test output clean
        return

    def _authorized(self) -> bool:
        expected = self.server.basic_auth
        if expected is None:
            return True
        header = self.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        try:
            given = base64.b64decode(header[len("Basic ") :], validate=True)
        except ValueError:
            return False
        return hmac.compare_digest(given, expected)

    def _request_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    self.rfile.readline()  # the blank line after the last chunk
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _run_backend(self) -> None:
        body = self._request_body()
        self.server.requests += 1
        if self.path.split("?")[0].endswith("/git-upload-pack") and b"want " in body:
            self.server.pack_requests += 1  # a fetch negotiation, not a ref listing
        if not self._authorized():
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="oozo-test-git"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        url = urlsplit(self.path)
        if url.path.strip("/").split("/")[0] in self.server.forbidden:
            self.send_response(403)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "GIT_PROJECT_ROOT": str(self.server.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "GATEWAY_INTERFACE": "CGI/1.1",
            "REQUEST_METHOD": self.command,
            "PATH_INFO": url.path,
            "QUERY_STRING": url.query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_ADDR": self.client_address[0],
            "SERVER_PROTOCOL": self.request_version,
            # git reads the wanted protocol version (v2) from this header
            "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
            "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
        }
        if self.server.basic_auth is not None:
            env["REMOTE_USER"] = self.server.basic_auth.split(b":", 1)[0].decode()
        done = subprocess.run(
            [str(self.server.backend)], input=body, capture_output=True, env=env, check=False
        )
        head, payload = _split_cgi_output(done.stdout)
        status, headers = 200, []
        for line in head.decode("latin-1").splitlines():
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.split()[0])
            elif name:
                headers.append((name, value.strip()))
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def _split_cgi_output(output: bytes) -> tuple[bytes, bytes]:
    """CGI output is headers, a blank line, then the body; git writes CRLF line ends."""
    for separator in (b"\r\n\r\n", b"\n\n"):
        head, found, body = output.partition(separator)
        if found:
            return head, body
    return output, b""


class _GitHttpServer(ThreadingHTTPServer):
    daemon_threads = True
    root: Path
    backend: Path
    basic_auth: bytes | None
    forbidden: frozenset[str]
    requests: int
    pack_requests: int


class GitServer:
    """Serves the bare repositories under `root` over smart HTTP on 127.0.0.1."""

    def __init__(
        self,
        root: Path,
        *,
        username: str | None = None,
        password: str | None = None,
        forbidden: tuple[str, ...] = (),
        port: int | None = None,
    ) -> None:
        self.root = Path(root)
        self.forbidden = frozenset(forbidden)
        self.username = username
        self.password = password
        self.port = port
        self._server: _GitHttpServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        if self.port is None:
            raise RuntimeError("the server has not been started")
        return f"http://127.0.0.1:{self.port}"

    def url(self, repository: str) -> str:
        return f"{self.base_url}/{repository}"

    @property
    def requests(self) -> int:
        """How many HTTP requests the server answered so far (tests: did a fetch talk to it?)."""
        return self._server.requests if self._server is not None else 0

    @property
    def pack_requests(self) -> int:
        """How many fetch requests (ones that want objects) it answered: 0 more after a fetch
        means no pack was transferred."""
        return self._server.pack_requests if self._server is not None else 0

    def start(self) -> GitServer:
        self.root.mkdir(parents=True, exist_ok=True)
        if self.port is None:
            self.port = free_port()
        server = _GitHttpServer(("127.0.0.1", self.port), _GitHttpHandler)
        server.root = self.root
        server.backend = http_backend()
        server.forbidden = self.forbidden
        server.requests = 0
        server.pack_requests = 0
        server.basic_auth = (
            f"{self.username}:{self.password or ''}".encode() if self.username is not None else None
        )
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="gitserver", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None


def main(argv: list[str]) -> None:
    root = Path(argv[0])
    server = GitServer(root, port=int(argv[1]) if len(argv) > 1 else None).start()
    print(f"serving {root} at {server.base_url}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main(sys.argv[1:])

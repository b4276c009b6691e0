"""A protocol test double for OpenAI-compatible chat completions: a tiny stdlib HTTP server on
loopback that speaks `POST /v1/chat/completions` the way OpenAI, vLLM or Ollama do. It is not a
mock of our code: the runtime talks to it through the real `openai` client over real HTTP.

Modes: "ok" (answers, with usage; word by word as SSE chunks when the request streams), "error"
(HTTP 500), "slow" (sleeps past the client timeout).
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class ChatCompletionsDouble:
    def __init__(self) -> None:
        self.mode = "ok"
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.streamed_pieces: list[str] = []  # what the last streamed answer was sent as
        double = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
                double.requests.append(body)
                double.headers.append({k.lower(): v for k, v in self.headers.items()})
                if double.mode == "slow":
                    time.sleep(3)
                if double.mode == "error":
                    return self._send(
                        500, {"error": {"message": "upstream exploded", "type": "server_error"}}
                    )
                question = body["messages"][-1]["content"].rsplit("Question:", 1)[-1].strip()
                if body.get("stream"):
                    return self._stream(body, f"Grounded answer to: {question} [1]")
                return self._send(
                    200,
                    {
                        "id": "chatcmpl-test",
                        "object": "chat.completion",
                        "created": int(time.time()),
                        "model": body["model"],
                        "choices": [
                            {
                                "index": 0,
                                "message": {
                                    "role": "assistant",
                                    "content": f"Grounded answer to: {question} [1]",
                                },
                                "finish_reason": "stop",
                            }
                        ],
                        "usage": {"prompt_tokens": 120, "completion_tokens": 12, "total_tokens": 132},
                    },
                )

            def _stream(self, body: dict[str, Any], answer: str) -> None:
                """The answer word by word as `chat.completion.chunk` events, the usage last
                when asked for (stream_options.include_usage), then [DONE]."""
                words = answer.split(" ")
                pieces = [w if i == 0 else " " + w for i, w in enumerate(words)]
                events: list[dict[str, Any]] = [
                    {"choices": [{"index": 0, "delta": {"content": p}, "finish_reason": None}]}
                    for p in pieces
                ]
                events.append({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
                if (body.get("stream_options") or {}).get("include_usage"):
                    usage = {
                        "prompt_tokens": 120,
                        "completion_tokens": len(pieces),
                        "total_tokens": 120 + len(pieces),
                    }
                    events.append({"choices": [], "usage": usage})
                double.streamed_pieces = pieces
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.end_headers()
                for event in events:
                    chunk = {"id": "chatcmpl-test", "object": "chat.completion.chunk", "created": 0, **event}
                    chunk["model"] = body["model"]
                    self.wfile.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
                    self.wfile.flush()
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()
                self.close_connection = True

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> ChatCompletionsDouble:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

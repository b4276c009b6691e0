"""A protocol test double for OpenAI-compatible chat completions: a tiny stdlib HTTP server on
loopback that speaks `POST /v1/chat/completions` the way OpenAI, vLLM or Ollama do. It is not a
mock of our code: the runtime talks to it through the real `openai` client over real HTTP.

Modes: "ok" (answers, with usage), "error" (HTTP 500), "slow" (sleeps past the client timeout).
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

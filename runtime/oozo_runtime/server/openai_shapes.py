"""The bodies of the OpenAI-compatible chat API (routes/chat.py): what a chat client sends, what
it gets back (`chat.completion`, `chat.completion.chunk`, `list` of `model`), and the error shape
`{"error": {"message", "type", "param", "code"}}` the `openai` client reads its reason from.

Only what Oozo uses is modelled; every other request field (temperature, max_tokens, tools, ...)
is accepted and ignored, since the server's own settings decide how answers are made."""

from __future__ import annotations

import time
import uuid
from typing import Any, Literal

from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from oozo_runtime.server.schemas import TopK

MODEL_ID = "oozo"  # the one model /v1/models lists; a request may name any model


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: str
    # A string, or content parts ([{"type": "text", "text": ...}, {"type": "image_url", ...}]).
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            parts = [p.get("text") for p in self.content if p.get("type") == "text"]
            return "\n".join(p for p in parts if isinstance(p, str))
        return self.content or ""


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    model: str | None = None
    messages: list[ChatMessage] = Field(min_length=1)
    stream: StrictBool = False
    # Oozo's own: how many passages to retrieve (the openai client sends it with extra_body).
    top_k: TopK | None = None


def error(status: int, message: str, code: str, param: str | None = None, **headers: str) -> JSONResponse:
    kind = {401: "authentication_error", 503: "server_error"}.get(status, "invalid_request_error")
    body = {"error": {"message": message, "type": kind, "param": param, "code": code}}
    return JSONResponse(status_code=status, content=body, headers=headers or None)


def completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex}"


def served_model(index_version: str) -> str:
    """The `model` of a response: the one model at the index version that answered, the way
    OpenAI answers a request for `gpt-4o` with the dated snapshot that served it."""
    return f"{MODEL_ID}@{index_version}"


def with_citations(answer: str, sources: list[dict[str, Any]]) -> str:
    """The answer with a numbered list of its sources, so a chat UI that shows only the message
    shows where it came from; the numbers are the ones an LLM answer cites as [1], [2]."""
    return answer + citations(sources)


def citations(sources: list[dict[str, Any]]) -> str:
    if not sources:
        return ""
    lines = [
        f"[{i}] {s['document']}" + (f" — {s['heading']}" if s.get("heading") else "")
        for i, s in enumerate(sources, start=1)
    ]
    return "\n\nSources:\n" + "\n".join(lines)


def completion(answer: str, content: dict[str, Any]) -> dict[str, Any]:
    """A `chat.completion` with Oozo's extra top-level fields: `sources` (as /api/query returns
    them), `index_version`, and `generation_error` when the language model failed and the answer is
    extractive instead. No `usage`: it is optional in OpenAI's shape, and the LLM's token
    counts are on /metrics (rag_llm_tokens_total)."""
    body: dict[str, Any] = {
        "id": completion_id(),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": served_model(content["index_version"]),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": with_citations(answer, content["sources"])},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "sources": content["sources"],
        "index_version": content["index_version"],
    }
    if content.get("error"):
        body["generation_error"] = content["error"]
    return body


def usage_of(usage: dict[str, int]) -> dict[str, int]:
    prompt, completion_tokens = usage.get("prompt", 0) or 0, usage.get("completion", 0) or 0
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt + completion_tokens,
    }


def chunk(
    chunk_id: str,
    created: int,
    model: str,
    delta: dict[str, Any],
    finish_reason: Literal["stop"] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "id": chunk_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}],
        **extra,
    }


def models(created: int) -> dict[str, Any]:
    return {
        "object": "list",
        "data": [{"id": MODEL_ID, "object": "model", "created": created, "owned_by": "oozo"}],
    }

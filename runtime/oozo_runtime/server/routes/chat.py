"""OpenAI-compatible chat: `POST /v1/chat/completions` answers the last user message from the
corpus, `GET /v1/models` lists the one model, so any OpenAI client or chat UI can talk to a corpus.

The answer takes the same path as `POST /api/query` (routes/query.py): the same bounds on the
question and top_k, the bounded query pool, the metrics and the configured generator (extractive, or the
LLM). With `stream: true` the answer comes as `chat.completion.chunk` events ending with
`data: [DONE]`, the LLM's tokens as it sends them (one piece for an extractive answer).

Every refusal is in OpenAI's error shape (openai_shapes.error), 401 included, so a client shows
the reason. A failing LLM does not lose the answer: the reply is the extractive one, with the
reason in `generation_error`. The routes stay out of /openapi.json on purpose: their contract is
OpenAI's API, described by OpenAI, and that document describes Oozo's own API.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import ValidationError

from oozo_runtime.answers import extractive_answer
from oozo_runtime.errors import OozoError
from oozo_runtime.generation import GenerationError
from oozo_runtime.retrieval import Retriever
from oozo_runtime.server import openai_shapes as shapes
from oozo_runtime.server.auth import bearer_token
from oozo_runtime.server.routes.query import cached_answer_content, retrieve
from oozo_runtime.server.schemas import QueryRequest, limited_to
from oozo_runtime.server.state import AppState

router = APIRouter(prefix="/v1", tags=["openai"], include_in_schema=False)


@router.get("/models")
async def list_models(request: Request) -> JSONResponse:
    state: AppState = request.app.state.oozo
    refused = _refused(request, state)
    if refused:
        return refused
    return JSONResponse(shapes.models(_built_at(state)))


@router.post("/chat/completions")
async def chat_completions(request: Request) -> Any:
    state: AppState = request.app.state.oozo
    refused = _refused(request, state)
    if refused:
        return refused
    checked = await _checked_request(request, state)
    if isinstance(checked, JSONResponse):
        return checked
    chat, question = checked
    retriever = state.retriever
    if retriever is None:
        reason = state.load_error or "loading"
        return shapes.error(
            503, f"index not loaded yet: {reason}", "index_not_loaded", None, **{"Retry-After": "2"}
        )
    if chat.stream:
        return StreamingResponse(
            _events(question, state, retriever),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache"},
        )
    _, content = await cached_answer_content(question, state, retriever)
    if "answer" not in content:  # the retrieval itself failed (a remote embeddings server)
        return shapes.error(502, content["error"], content.get("reason", "retrieval_failed"))
    return JSONResponse(shapes.completion(content["answer"], content))


def _refused(request: Request, state: AppState) -> JSONResponse | None:
    """The API's bearer check, answered in OpenAI's shape (the client raises AuthenticationError)."""
    if not state.settings.auth_enabled:
        return None
    token = bearer_token(request.headers.get("authorization"))
    if state.keys.check(token):
        return None
    challenge = f'Bearer realm="oozo", error="{"invalid_token" if token else "invalid_request"}"'
    return shapes.error(
        401,
        "missing or invalid API key (send 'Authorization: Bearer <key>')",
        "invalid_api_key",
        None,
        **{"WWW-Authenticate": challenge},
    )


async def _checked_request(
    request: Request, state: AppState
) -> tuple[shapes.ChatRequest, QueryRequest] | JSONResponse:
    """The request and the question it asks, each refused with a reason: malformed JSON, wrong
    fields, no user message, a question blank or longer than OOZO_MAX_QUESTION_CHARS, a top_k
    outside 1..OOZO_MAX_TOP_K."""
    try:
        raw = json.loads(await request.body())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        return shapes.error(400, f"invalid JSON body: {exc}", "invalid_json")
    try:
        chat = shapes.ChatRequest.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        param = ".".join(str(p) for p in first["loc"]) or None
        return shapes.error(400, f"{param or 'body'}: {first['msg']}", "invalid_value", param)
    users = [m for m in chat.messages if m.role == "user"]
    if not users:
        return shapes.error(
            400, "messages: no message with role 'user' to answer", "no_user_message", "messages"
        )
    settings = state.settings
    bounded = limited_to(settings.max_question_chars, settings.max_top_k)
    fields: dict[str, Any] = {"question": users[-1].text()}
    if chat.top_k is not None:
        fields["top_k"] = chat.top_k
    try:
        return chat, bounded.model_validate(fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = "the last user message" if first["loc"][0] == "question" else "top_k"
        return shapes.error(
            400, f"{where}: {first['msg']}", "invalid_value", "messages" if where != "top_k" else "top_k"
        )


async def _events(question: QueryRequest, state: AppState, retriever: Retriever) -> AsyncIterator[bytes]:
    """The SSE stream: a first chunk with the role and the sources, the answer's pieces, the
    citations, a last chunk with finish_reason, then [DONE]."""
    chunk_id, created = shapes.completion_id(), int(time.time())
    model = shapes.served_model(retriever.index.version)
    try:
        hits, _ = await retrieve(question.question, question.top_k, state, retriever)
    except OozoError as exc:
        yield _sse(
            {"error": {"message": exc.message, "type": "server_error", "param": None, "code": exc.reason}}
        )
        yield b"data: [DONE]\n\n"
        return
    sources = [h.as_dict() for h in hits]
    first = {"role": "assistant", "content": ""}
    extra: dict[str, Any] = {"sources": sources, "index_version": retriever.index.version}
    yield _sse(shapes.chunk(chunk_id, created, model, first, **extra))

    started, usage, failure = time.perf_counter(), dict[str, int](), None
    sent_any = False
    try:
        async for piece in state.generator.stream(question.question, hits, usage):
            sent_any = True
            yield _sse(shapes.chunk(chunk_id, created, model, {"content": piece}))
    except GenerationError as exc:
        failure = str(exc)
        state.metrics.llm_errors.labels(str(exc.status)).inc()
        if not sent_any:  # as /api/query does: the retrieval still answers
            yield _sse(
                shapes.chunk(
                    chunk_id, created, model, {"content": extractive_answer(question.question, hits)}
                )
            )
    state.metrics.generation.labels(state.generator.provider).observe(time.perf_counter() - started)
    for kind, count in usage.items():
        state.metrics.llm_tokens.labels(kind).inc(count or 0)

    yield _sse(shapes.chunk(chunk_id, created, model, {"content": shapes.citations(sources)}))
    last: dict[str, Any] = {"generation_error": failure} if failure else {}
    if usage:
        last["usage"] = shapes.usage_of(usage)
    yield _sse(shapes.chunk(chunk_id, created, model, {}, "stop", **last))
    yield b"data: [DONE]\n\n"


def _sse(payload: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(payload, ensure_ascii=False).encode() + b"\n\n"


def _built_at(state: AppState) -> int:
    """/v1/models' `created`: when the served version was built (0 before one is loaded)."""
    if state.retriever is None or not state.retriever.index.manifest.built_at:
        return 0
    return int(
        datetime.fromisoformat(state.retriever.index.manifest.built_at.replace("Z", "+00:00")).timestamp()
    )

"""`POST /api/query`: retrieve (in a worker thread, bounded by a limiter) then answer."""

from __future__ import annotations

import time

import anyio
from fastapi import APIRouter
from fastapi.responses import JSONResponse

from oozo_contract.settings import ServeSettings
from oozo_runtime.answers import extractive_answer
from oozo_runtime.errors import OozoError
from oozo_runtime.generation import GenerationError
from oozo_runtime.retrieval import Retriever
from oozo_runtime.server import responses
from oozo_runtime.server.deps import AuthDep, RetrieverDep, StateDep
from oozo_runtime.server.schemas import QueryRequest, QueryResponse, limited_to
from oozo_runtime.server.state import AppState


def router_for(settings: ServeSettings) -> APIRouter:
    """The query route, its body validated against the configured limits."""
    router = APIRouter(prefix="/api", tags=["query"])

    async def query(_: AuthDep, body: QueryRequest, state: StateDep, retriever: RetrieverDep) -> JSONResponse:
        return await answer(body, state, retriever)

    # FastAPI reads the body model from the signature: this route's is the bounded one.
    query.__annotations__["body"] = limited_to(settings.max_question_chars, settings.max_top_k)
    router.post("/query", response_model=QueryResponse, responses=responses.QUERY)(query)
    return router


async def answer(body: QueryRequest, state: AppState, retriever: Retriever) -> JSONResponse:
    started = time.perf_counter()
    mode = body.mode or state.settings.retrieval_mode
    try:
        hits, timings = await anyio.to_thread.run_sync(
            retriever.retrieve, body.question, body.top_k, mode, limiter=state.limiter
        )
    except OozoError as exc:  # a remote embeddings server failed: its host and why, never the key
        return JSONResponse(status_code=502, content={"error": exc.message, "reason": exc.reason})
    retrieved = time.perf_counter()
    state.metrics.retrieval.observe(retrieved - started)

    status, error = 200, None
    try:
        generated = await state.generator.generate(body.question, hits)
        answer = generated.answer
        for kind, count in generated.usage.items():
            state.metrics.llm_tokens.labels(kind).inc(count or 0)
    except GenerationError as exc:
        status, error = exc.status, str(exc)
        state.metrics.llm_errors.labels(str(exc.status)).inc()
        answer = extractive_answer(body.question, hits)  # the retrieval still helps the caller
    finished = time.perf_counter()
    state.metrics.generation.labels(state.generator.provider).observe(finished - retrieved)

    timings.update(
        retrieval_ms=(retrieved - started) * 1000,
        generation_ms=(finished - retrieved) * 1000,
        total_ms=(finished - started) * 1000,
    )
    content = {
        "answer": answer,
        "sources": [h.as_dict() for h in hits] if body.return_sources or error else [],
        "index_version": retriever.index.version,
        "mode": mode,
        "timings": {k: round(v, 3) for k, v in timings.items()},
    }
    if error:
        content["error"] = error
    return JSONResponse(status_code=status, content=content)

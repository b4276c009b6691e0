"""`POST /api/query`: retrieve (in the bounded query pool, server/pool.py) then answer."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from oozo_contract.defaults import RetrievalMode
from oozo_contract.serve_settings import ServeSettings
from oozo_runtime.answers import extractive_answer
from oozo_runtime.errors import OozoError
from oozo_runtime.generation import GenerationError
from oozo_runtime.rerank import Reranked
from oozo_runtime.retrieval import Hit, Retriever
from oozo_runtime.server import responses
from oozo_runtime.server.deps import AuthDep, RetrieverDep, StateDep
from oozo_runtime.server.encode_batcher import QueryEncodeError
from oozo_runtime.server.schemas import QueryRequest, QueryResponse, limited_to
from oozo_runtime.server.state import AppState


def router_for(settings: ServeSettings) -> APIRouter:
    """The query route, its body validated against the configured limits."""
    router = APIRouter(prefix="/api", tags=["query"])

    async def query(_: AuthDep, body: QueryRequest, state: StateDep, retriever: RetrieverDep) -> JSONResponse:
        status, content = await cached_answer_content(body, state, retriever)
        return JSONResponse(status_code=status, content=content)

    # FastAPI reads the body model from the signature: this route's is the bounded one.
    query.__annotations__["body"] = limited_to(settings.max_question_chars, settings.max_top_k)
    router.post("/query", response_model=QueryResponse, responses=responses.QUERY)(query)
    return router


async def cached_answer_content(
    body: QueryRequest, state: AppState, retriever: Retriever
) -> tuple[int, dict[str, Any]]:
    """answer_content() through the answer cache: the same question against the same version is
    answered once (answer_cache.py), whichever interface asks it."""
    return await state.answer_cache.answered(
        body, retriever.index.version, lambda: answer_content(body, state, retriever)
    )


async def retrieve(
    question: str, top_k: int, state: AppState, retriever: Retriever, mode: RetrievalMode | None = None
) -> tuple[list[Hit], dict[str, float]]:
    """The hits and timings of a question (in `mode`, else the server's), reranked when a
    reranker is configured; raises OozoError when a remote embeddings server fails."""
    hits, timings, _ = await retrieve_ranked(question, top_k, state, retriever, mode)
    return hits, timings


async def retrieve_ranked(
    question: str, top_k: int, state: AppState, retriever: Retriever, mode: RetrievalMode | None = None
) -> tuple[list[Hit], dict[str, float], Reranked | None]:
    """retrieve(), with what the reranker did (None when none is configured). The fused top
    max(top_k, top N) go to the reranker, so every returned source carries its score; searched in
    the bounded query pool, reranked on the event loop (the wait is the reranker's, not ours)."""
    reranker = state.reranker
    depth = max(top_k, reranker.top_n) if reranker else top_k
    started = time.perf_counter()
    batcher = state.encode_batcher
    if batcher is not None and (mode or retriever.mode) != "lexical":
        # encoded in a batch with the questions asked meanwhile, searched in the pool
        vector = await batcher.encode_query(question)
        encoded = time.perf_counter()
        hits, timings = await state.pool.run(retriever.retrieve, question, depth, mode, vector)
        timings["embed_ms"] = (encoded - started) * 1000
    else:
        hits, timings = await state.pool.run(retriever.retrieve, question, depth, mode)
    state.metrics.retrieval.observe(time.perf_counter() - started)
    if reranker is None:
        return hits, timings, None
    reranked = await reranker.rerank(question, hits)
    state.metrics.rerank.labels(reranked.outcome).inc()
    state.metrics.rerank_duration.observe(reranked.seconds)
    timings["rerank_ms"] = reranked.seconds * 1000
    return reranked.hits[:top_k], timings, reranked


async def answer_content(
    body: QueryRequest, state: AppState, retriever: Retriever
) -> tuple[int, dict[str, Any]]:
    """The status and body of a query: /api/query sends them as they are, and the MCP tools and
    the OpenAI-compatible chat route (mcp_endpoint.py, chat.py) reshape the same answer."""
    started = time.perf_counter()
    mode = body.mode or state.settings.retrieval_mode
    try:
        hits, timings, reranked = await retrieve_ranked(body.question, body.top_k, state, retriever, mode)
    except QueryEncodeError as exc:  # this server's encoder failed on the question
        return 500, {"error": exc.message, "reason": exc.reason}
    except OozoError as exc:  # a remote embeddings server failed: its host and why, never the key
        return 502, {"error": exc.message, "reason": exc.reason}
    retrieved = time.perf_counter()

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
    content: dict[str, Any] = {
        "answer": answer,
        "sources": [h.as_dict() for h in hits] if body.return_sources or error else [],
        "index_version": retriever.index.version,
        "mode": mode,
        "timings": {k: round(v, 3) for k, v in timings.items()},
    }
    if reranked is not None:
        content["rerank"] = reranked.as_dict()
    if error:
        content["error"] = error
    return status, content

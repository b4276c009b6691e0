"""The app factory. `create_app(settings)` builds a fresh app with its own metrics registry;
the index loads in a background thread at start-up unless a retriever is given (tests)."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from oozo_contract.serve_settings import ServeSettings
from oozo_runtime import __version__
from oozo_runtime.generation import make_generator
from oozo_runtime.rerank import OUTCOMES, Reranker
from oozo_runtime.retrieval import Retriever
from oozo_runtime.server import errors, openapi
from oozo_runtime.server.answer_cache import AnswerCache
from oozo_runtime.server.auth import KeyStore
from oozo_runtime.server.metrics import Metrics
from oozo_runtime.server.middleware import RequestMiddleware
from oozo_runtime.server.pool import QueryPool
from oozo_runtime.server.routes import chat, health, info, mcp_route, query, ui
from oozo_runtime.server.state import AppState, ReadyGate, default_concurrency


def create_app(
    settings: ServeSettings | None = None,
    retriever: Retriever | None = None,
    load: bool = True,
    ready_gate: ReadyGate | None = None,
) -> FastAPI:
    """`ready_gate`: this app is one of several server workers (server/workers.py)."""
    settings = settings or ServeSettings()
    metrics = Metrics()
    workers = ready_gate.workers if ready_gate else 1
    state = AppState(
        settings=settings,
        metrics=metrics,
        keys=KeyStore([k.get_secret_value() for k in settings.api_keys], settings.api_keys_file),
        generator=make_generator(settings),
        pool=QueryPool(default_concurrency(settings, workers), metrics),
        ready_gate=ready_gate,
        answer_cache=AnswerCache(settings, metrics),
        reranker=Reranker(settings) if settings.rerank_endpoint else None,
    )
    if state.reranker is not None:
        for outcome in OUTCOMES:  # every series exists from the start: rates need no absent()
            metrics.rerank.labels(outcome)
    if retriever is not None:
        state.set_retriever(retriever)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if state.retriever is None and load:
            threading.Thread(target=state.load, name="index-loader", daemon=True).start()
        async with mcp_running:
            yield
        state.stopping.set()
        if state.encode_batcher is not None:
            state.encode_batcher.stop()
        await state.generator.aclose()
        await state.answer_cache.aclose()
        if state.reranker is not None:
            await state.reranker.aclose()

    # No /docs, /redoc or default /openapi.json: the document is ours to serve (openapi.py).
    app = FastAPI(
        title="Oozo query API",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.oozo = state
    errors.install(app)
    for router in (health.router, query.router_for(settings), info.router, ui.router, chat.router):
        app.include_router(router)
    mcp_running = mcp_route.install(app.router.routes, state)
    openapi.install(app, settings.openapi_enabled, settings.auth_enabled)
    app.add_middleware(
        RequestMiddleware,
        metrics=metrics,
        max_body_bytes=settings.max_body_bytes,
        max_header_bytes=settings.max_header_bytes,
    )
    return app

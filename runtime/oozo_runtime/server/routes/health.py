"""Probes and metrics: always open, even with auth on."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from oozo_runtime.server import responses, worker_metrics
from oozo_runtime.server.deps import StateDep
from oozo_runtime.server.schemas import Health, Ready

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health)
async def health() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get("/ready", response_model=Ready, responses=responses.READY)
async def ready(state: StateDep) -> JSONResponse:
    """Readiness: 200 once every worker has loaded the index version, 503 (with the reason) before."""
    if state.retriever is None:
        return JSONResponse(
            status_code=503,
            content={"status": "loading", "error": state.load_error or "index not loaded yet"},
            headers={"Retry-After": "2"},
        )
    waiting = state.ready_gate.reason() if state.ready_gate else None
    if waiting:  # this worker has loaded, another of the pod's has not: a query could land there
        return JSONResponse(
            status_code=503, content={"status": "loading", "error": waiting}, headers={"Retry-After": "1"}
        )
    return JSONResponse({"status": "ready", "index_version": state.retriever.index.version})


@router.get("/metrics", response_class=PlainTextResponse)
async def metrics(state: StateDep) -> Response:
    """Prometheus text exposition: with several workers, all of them summed."""
    if worker_metrics.enabled():
        return Response(worker_metrics.exposition(), media_type=CONTENT_TYPE_LATEST)
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)

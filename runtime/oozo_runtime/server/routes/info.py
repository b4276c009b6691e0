"""`GET /api/info`: what is being served."""

from __future__ import annotations

import sys
from typing import Any

from fastapi import APIRouter

from oozo_runtime import __version__
from oozo_runtime.rerank import Reranker
from oozo_runtime.server import responses
from oozo_runtime.server.deps import AuthDep, RetrieverDep, StateDep
from oozo_runtime.server.schemas import Info

router = APIRouter(prefix="/api", tags=["info"])


@router.get("/info", response_model=Info, responses=responses.INFO)
async def info(_: AuthDep, state: StateDep, retriever: RetrieverDep) -> dict[str, Any]:
    index = retriever.index
    manifest = index.manifest
    return {
        "index_version": index.version,
        "model": index.model,
        "dimensions": manifest.dimension,
        "documents": index.document_count,
        "chunks": len(index.chunks),
        "skipped_documents": len(manifest.skipped),
        "built_at": manifest.built_at,
        "index_type": manifest.index.type,
        "chunking": manifest.chunking.model_dump() if manifest.chunking else None,
        "generation_provider": state.generator.provider,
        "retrieval_mode": state.settings.retrieval_mode,
        "lexical_index": "stored" if index.lexical.stored else "built at load",
        # which engine encodes questions, and why torch when it is torch (no or a broken graph)
        "encoder": state.encoder_backend or getattr(retriever.embedder, "backend", "torch"),
        "encoder_fallback_reason": state.encoder_fallback_reason or None,
        # a promise /api/info can show from the live process: the ONNX path never loads torch
        "torch_loaded": "torch" in sys.modules,
        "rerank": rerank_info(state.reranker),
        "runtime_version": __version__,
    }


def rerank_info(reranker: Reranker | None) -> dict[str, Any] | None:
    """Where the reranker is and how it is asked; its host only (no path, no user:password), never
    the API key."""
    if reranker is None:
        return None
    return {
        "host": reranker.host,
        "api": reranker.api,
        "model": reranker.model,
        "top_n": reranker.top_n,
        "timeout_seconds": reranker.timeout,
    }

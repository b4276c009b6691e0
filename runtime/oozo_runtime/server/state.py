"""What the app holds at run time: settings, metrics, auth, the generator and, once loaded, the
retriever. Loading happens in a background thread so /health answers at once and /ready turns
200 when the index is in memory."""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime

import anyio

from oozo_contract.settings import ServeSettings
from oozo_runtime.generation import Generator
from oozo_runtime.retrieval import LoadedIndex, ModelMismatch, Retriever
from oozo_runtime.server.auth import KeyStore
from oozo_runtime.server.metrics import Metrics
from oozo_runtime.versions import IndexCorrupt, VersionNotFound

log = logging.getLogger(__name__)


@dataclass
class AppState:
    settings: ServeSettings
    metrics: Metrics
    keys: KeyStore
    generator: Generator
    limiter: anyio.CapacityLimiter
    retriever: Retriever | None = None
    load_error: str | None = None
    stopping: threading.Event = field(default_factory=threading.Event)

    def set_retriever(self, retriever: Retriever) -> None:
        index = retriever.index
        self.metrics.documents.set(index.document_count)
        self.metrics.chunks.set(len(index.chunks))
        self.metrics.index_info.labels(index.version, index.model).set(1)
        self.metrics.ready.set(1)
        built_at = index.manifest.built_at
        if built_at:
            self.metrics.index_built.set(datetime.fromisoformat(built_at.replace("Z", "+00:00")).timestamp())
        self.retriever = retriever
        self.load_error = None
        log.info(
            "index loaded",
            extra={"version": index.version, "model": index.model, "chunks": len(index.chunks)},
        )

    def load(self) -> None:
        """Load the model and the index version; waits for a missing version to appear, gives
        up on a model mismatch (a configuration error no wait will fix)."""
        import faiss
        import torch

        from oozo_runtime.embedding import Embedder

        s = self.settings
        torch.set_num_threads(s.torch_threads)
        faiss.omp_set_num_threads(1)  # single-query searches: OpenMP start-up costs more than it saves
        try:
            index = self._wait_for_index()
            if index is None:
                return
            embedder = Embedder(s.model, str(s.model_cache_dir) if s.model_cache_dir else None)
            embedder.encode_query("warm up")
            self.set_retriever(Retriever(embedder, index))
        except (ModelMismatch, IndexCorrupt) as exc:  # no wait fixes these: say why, stay unready
            # Both messages name the version, the models or the files, never a path.
            self.load_error = f"{type(exc).__name__}: {exc}"
            log.error("refusing index version", extra={"reason": str(exc)})
        except Exception:
            # /ready is open to anyone who reaches the port: it says what kind of failure this
            # is; the exception's text and traceback (paths, library internals) go to the log.
            self.load_error = LOAD_FAILED
            log.exception("index load failed")

    def _wait_for_index(self, retry_seconds: float = 2.0) -> LoadedIndex | None:
        """The manifest is checked (model!) before the model is loaded, so a mismatch is reported
        at once and never triggers a download of the wrong model."""
        s = self.settings
        while not self.stopping.is_set():
            try:
                return LoadedIndex.load(s.index_dir, s.index_version, s.model)
            except VersionNotFound as exc:
                reason = waiting_reason(s.index_version)
                if self.load_error != reason:
                    log.warning("waiting for index", extra={"reason": str(exc)})  # the log may name paths
                self.load_error = reason
                time.sleep(retry_seconds)
        return None


LOAD_FAILED = "IndexLoadFailed: the index version or the model could not be loaded (see the server log)"


def waiting_reason(version: str | None) -> str:
    """Why /ready is 503 while no version can be loaded, without the index directory's path."""
    if version:
        return f"IndexNotFound: index version {version} is not published (yet)"
    return "IndexNotFound: no index version is published yet (run `oozo index` first)"


def default_concurrency(settings: ServeSettings) -> int:
    return settings.query_concurrency or max(1, os.cpu_count() or 1)

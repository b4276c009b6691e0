"""What the app holds at run time: settings, metrics, auth, the generator and, once loaded, the
retriever. Loading happens in a background thread so /health answers at once and /ready turns
200 when the index is in memory."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from oozo_contract.serve_settings import ServeSettings
from oozo_runtime.embedding import expected_fingerprint
from oozo_runtime.errors import OozoError
from oozo_runtime.generation import Generator
from oozo_runtime.rerank import Reranker
from oozo_runtime.retrieval import LoadedIndex, ModelMismatch, Retriever, check_dimension
from oozo_runtime.server import memory
from oozo_runtime.server.answer_cache import AnswerCache
from oozo_runtime.server.auth import KeyStore
from oozo_runtime.server.cpus import cpu_limit
from oozo_runtime.server.encode_batcher import EncodeBatcher
from oozo_runtime.server.metrics import Metrics
from oozo_runtime.server.pool import QueryPool
from oozo_runtime.versions import IndexCorrupt, VersionNotFound

log = logging.getLogger(__name__)


class ReadyGate:
    """How many of a pod's server workers (server/workers.py) have loaded the index, counted in
    memory the forked workers share: the pod is ready when all have."""

    def __init__(self, workers: int) -> None:
        import multiprocessing

        self.workers = workers
        self._loaded = multiprocessing.get_context("fork").Value("i", 0)

    def loaded(self) -> None:
        with self._loaded.get_lock():
            self._loaded.value += 1

    @property
    def count(self) -> int:
        return int(self._loaded.value)

    def reason(self) -> str | None:
        """Why the pod is not ready yet, or None when every worker has loaded the index."""
        if self.count >= self.workers:
            return None
        return f"WorkersLoading: {self.count} of {self.workers} server workers have loaded the index"


@dataclass
class AppState:
    settings: ServeSettings
    metrics: Metrics
    keys: KeyStore
    generator: Generator
    pool: QueryPool
    answer_cache: AnswerCache
    retriever: Retriever | None = None
    load_error: str | None = None
    encoder_backend: str | None = None  # "onnx" or "torch" once loaded
    encoder_fallback_reason: str = ""  # why torch, when it is torch
    stopping: threading.Event = field(default_factory=threading.Event)
    ready_gate: ReadyGate | None = None  # several workers: ready once all have loaded
    reranker: Reranker | None = None  # spec.retrieval.rerank; None: off
    # ONNX: questions are encoded in dynamic batches by one thread; None: each query encodes
    # its own question in the pool (torch, a remote embeddings server, a test's retriever)
    encode_batcher: EncodeBatcher | None = None

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
        if self.ready_gate is not None:
            self.ready_gate.loaded()
        log.info(
            "index loaded",
            extra={"version": index.version, "model": index.model, "chunks": len(index.chunks)},
        )

    def load(self) -> None:
        """Load the model and the index version; waits for a missing version to appear, gives
        up on a model mismatch (a configuration error no wait will fix)."""
        from oozo_runtime.onnx_encoder import choose_query_encoder

        s = self.settings
        try:
            index = self._wait_for_index()
            if index is None:
                return
            if s.embedding_provider == "local":
                # ONNX Runtime when the version has a checked graph (torch is then never
                # imported), torch otherwise. ONNX encodes in batches on one thread, which may
                # use all of this worker's CPUs; torch encodes each question in the pool with
                # torch_threads, as it always has.
                chosen = choose_query_encoder(
                    Path(s.index_dir),
                    index.manifest,
                    s.model,
                    str(s.model_cache_dir) if s.model_cache_dir else None,
                    s.torch_threads,
                    onnx_threads=encoder_threads(self.ready_gate.workers if self.ready_gate else 1),
                    onnx_spin_us=ENCODER_SPIN_US,
                )
                encoder, backend, reason = chosen.encoder, chosen.backend, chosen.reason
            else:  # a remote embeddings server encodes the questions too
                encoder = self._connect_embedder()
                if encoder is None:
                    return
                backend, reason = "remote", ""
            check_dimension(index.manifest, encoder.dimension)
            # One dense search before /ready: the mapped index's search structures (IVF
            # centroids, the HNSW entry point) are read once, and a file the kernel cannot page
            # in fails here instead of on a user's question.
            index.warm_up(encoder.encode_query("warm up"))
            self.encoder_backend, self.encoder_fallback_reason = backend, reason
            if backend == "onnx":
                self.encode_batcher = EncodeBatcher(encoder.encode_queries, self.metrics)
                self.encode_batcher.start()
            self.metrics.query_encoder.labels(backend).set(1)
            self.set_retriever(Retriever(encoder, index, s.retrieval_mode))
            memory.trim()  # what parsing the version and the graph freed goes back to the kernel
        except (ModelMismatch, IndexCorrupt) as exc:  # no wait fixes these: say why, stay unready
            # Both messages name the version, the models or the files, never a path.
            self.load_error = f"{type(exc).__name__}: {exc}"
            log.error("refusing index version", extra={"reason": str(exc)})
        except OozoError as exc:  # an embeddings server refusing us (key, request): names its host only
            self.load_error = f"{exc.reason}: {exc.message}"
            log.error("refusing index version", extra={"reason": exc.message})
        except Exception:
            # /ready is open to anyone who reaches the port: it says what kind of failure this
            # is; the exception's text and traceback (paths, library internals) go to the log.
            self.load_error = LOAD_FAILED
            log.exception("index load failed")

    def _connect_embedder(self, retry_seconds: float = 5.0) -> Any:
        """The configured embedder. A remote server that is down or overloaded (after the
        client's own retries) is tried again until it answers: the pod stays unready with the
        reason meanwhile, and turns ready without a restart once the server is back."""
        from oozo_runtime.embedding import make_embedder
        from oozo_runtime.remote_embedding import SERVER_ERROR, UNREACHABLE, EmbeddingError

        while not self.stopping.is_set():
            try:
                return make_embedder(self.settings)
            except EmbeddingError as exc:
                if exc.reason not in (UNREACHABLE, SERVER_ERROR):
                    raise
                self.load_error = exc.message
                log.warning("waiting for the embeddings server", extra={"reason": exc.message})
                self.stopping.wait(retry_seconds)
        return None

    def _wait_for_index(self, retry_seconds: float = 2.0) -> LoadedIndex | None:
        """The manifest is checked (model!) before the model is loaded, so a mismatch is reported
        at once and never triggers a download of the wrong model."""
        s = self.settings
        while not self.stopping.is_set():
            try:
                return LoadedIndex.load(s.index_dir, s.index_version, expected_fingerprint(s))
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


# How long ONNX Runtime's intra-op threads busy-wait for the next operator before they sleep.
# Sleeping at once made every operator of an encode pay a futex wake-up (about 300 kernels
# a question); spinning as long as ONNX Runtime does by default took the CPU the searches and
# the HTTP handling share with the encoder. Ten microseconds bridges the gap between operators
# and sleeps between questions: one question's encode 4.1 to 4.5 ms against 5.2 to 6.5 ms
# sleeping, at no more CPU (7.7 to 8.3 against 8.4 to 9.9 ms); see docs/benchmarks.md, serving.
ENCODER_SPIN_US = 10


def encoder_threads(workers: int = 1) -> int:
    """ONNX Runtime threads of the one encoder thread of a worker: its share of the pod's CPUs."""
    return max(1, cpu_limit() // workers)


def default_concurrency(settings: ServeSettings, workers: int = 1) -> int:
    """Queries encoded and searched at once by one worker: the setting, else its share of the
    CPUs the pod may use."""
    return settings.query_concurrency or max(1, cpu_limit() // workers)

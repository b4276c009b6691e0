"""`oozo index`: parse → chunk → embed (reusing cached vectors) → FAISS → publish a version →
prune old versions.

A build whose inputs (the documents' sha256, chunking, model, index type) are those of the
current version publishes nothing and reports the current version (`unchanged`), so an hourly
refresh of a quiet source does not fill the volume. Cheaper still, for a fetched source: when
the fetch was skipped because the source is still at the revision the current version records
(`oozo fetch --unless-revision`), the build publishes nothing without reading a document or
loading the model. After every successful build, retention keeps
the newest `keep_versions` versions plus the current one, the one that was current when the build
started (the one the server is pinned to until the operator rolls it forward) and any pinned one;
the embedding cache keeps only what the current version uses (docs/runtime.md, "Retention").

The result is an `IndexBuildResult`, which the operator reads back into `status.index`; failures
raise BuildError with a machine-readable reason ("NoDocuments", "InvalidSettings", ...).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from oozo_contract.fetch import FetchResult
from oozo_contract.index_settings import IndexSettings
from oozo_contract.manifest import (
    ChunkingInfo,
    Counts,
    EmbeddingInfo,
    IndexFileInfo,
    Manifest,
    OnnxGraphInfo,
    model_cache_identity,
)
from oozo_contract.results import IndexBuildResult
from oozo_runtime import versions
from oozo_runtime.errors import OozoError
from oozo_runtime.indexing import quality_gate
from oozo_runtime.indexing.chunking import ChunkingError, validate
from oozo_runtime.indexing.documents import (
    DocumentSet,
    current_version,
    previous_chunks,
    read_documents,
)
from oozo_runtime.indexing.index_plan import IndexPlan, IndexPlanError, plan_index
from oozo_runtime.indexing.retention import retain
from oozo_runtime.indexing.tokens import build_counter, chunking_info, count_truncated
from oozo_runtime.indexing.unchanged import (
    index_facts,
    model_revision_of,
    same_inputs,
    same_revision,
    unchanged,
    unchanged_source,
)
from oozo_runtime.indexing.vector_index import build_vector_index, memory_needed
from oozo_runtime.model_files import settings_models_root

log = logging.getLogger(__name__)


class BuildError(OozoError):
    """An index build that cannot finish: NoDocuments, InvalidSettings, ..."""


@dataclass
class Progress:
    """Hooks for a progress display; all optional."""

    on_stage: Callable[[str, int], None] = lambda stage, total: None
    on_advance: Callable[[int], None] = lambda n: None


def build(
    settings: IndexSettings,
    progress: Progress | None = None,
    embedder: Any = None,
    fetched: FetchResult | None = None,
    read: Callable[..., DocumentSet] = read_documents,
) -> IndexBuildResult:
    """Build and publish one index version; returns what it published. `fetched`: the fetch
    that brought SOURCE, whose revision the manifest records. `read`: where the chunks come
    from, called under the build lock like `read_documents` (the merge of a parallel build
    reads the shards' staged results instead: indexing/merge.py)."""
    progress = progress or Progress()
    started = time.monotonic()
    if not settings.source:
        raise BuildError("InvalidSettings", "no source folder given")
    source = Path(settings.source)
    if not source.is_dir():
        raise BuildError("InvalidSettings", f"source {source} is not a folder")
    try:
        validate(settings.chunk_size, settings.chunk_overlap)
    except ChunkingError as exc:
        raise BuildError("InvalidSettings", str(exc)) from exc
    quality_gate.check_questions(settings)
    from oozo_runtime.model_files import model_revision, pin_hub_commit

    # of copied model files (s3://), a model folder, or the hub commit; None for the bundled model
    revision = model_revision(settings)
    settings = pin_hub_commit(settings, revision)
    counter = build_counter(settings)
    chunking = chunking_info(settings, counter)
    root = Path(settings.index_dir)
    with versions.build_lock(root):
        stale = versions.clean_stale_tmp(root)
        if stale:
            log.info("removed leftovers of interrupted builds", extra={"removed": stale})
        # Everything of this build lives in tmp until the final rename; a failed build removes
        # it, a killed one leaves it for the next build to clean.
        with versions.scratch_dir(root) as tmp:
            current = current_version(root)
            if (
                current is not None
                and fetched is not None
                and same_revision(current.manifest, settings, fetched, chunking)
                and model_revision_of(current.manifest) == revision
            ):
                result = unchanged_source(current, started)
                # nothing new at the source: no retention run is needed either
                return result.model_copy(update={"available": versions.available(root)})
            previous, dimension = previous_chunks(current, settings, chunking)
            if embedder is None and dimension is None:
                # A full build will need the model: import torch and load it in the background
                # while the documents are parsed, instead of after.
                embedder = _Prefetched(settings)
            docs = read(source, settings, progress.on_stage, progress.on_advance, previous, counter)
            if not docs.chunks:
                detail = f"; {len(docs.skipped)} skipped" if docs.skipped else ""
                raise BuildError(
                    "NoDocuments",
                    f"no usable document in {source} matching {settings.include}{detail}",
                )
            truncated = count_truncated(counter, [c.text for c in docs.chunks])
            if (
                current is not None
                and same_inputs(current.manifest, settings, docs, chunking)
                and model_revision_of(current.manifest) == revision
            ):
                result = unchanged(current, docs, started).model_copy(update={"chunks_truncated": truncated})
            else:
                source_revision = fetched.revision if fetched is not None else None
                inputs = _BuildInputs(docs, chunking, truncated, source_revision, revision)
                result = _embed_and_publish(
                    settings, root, tmp, inputs, progress, embedder, dimension, started
                )
        keep = set(settings.pinned_versions)
        if current is not None:  # what the server is pinned to until the operator rolls forward
            keep.add(current.manifest.version)
        pruned = retain(root, settings.keep_versions, keep, settings_models_root(settings))
        return result.model_copy(
            update={"pruned_versions": len(pruned), "available": versions.available(root)}
        )


def _plan(settings: IndexSettings, chunks: int, dimension: int) -> IndexPlan:
    try:
        return plan_index(settings, chunks, dimension)
    except IndexPlanError as exc:
        raise BuildError(exc.reason, exc.message) from exc


class _Prefetched:
    """A model being loaded in a background thread; `get()` waits for it."""

    def __init__(self, settings: IndexSettings) -> None:
        from concurrent.futures import ThreadPoolExecutor

        from oozo_runtime.embedding import make_embedder

        self._pool = ThreadPoolExecutor(1, thread_name_prefix="model-load")
        self._future = self._pool.submit(make_embedder, settings)
        self._pool.shutdown(wait=False)

    def get(self) -> Any:
        return self._future.result()


# Why a version built with a remote embeddings server has no ONNX graph (manifest onnxError).
REMOTE_ENCODER = "questions are encoded by the remote embeddings server"


def _query_graph(
    root: Path, embedder: Any, model_id: str, load_model: Callable[[], Any]
) -> tuple[OnnxGraphInfo | None, str | None]:
    """The ONNX graph the server will encode questions with: the current version's when this
    build loaded no model and that graph still checks out, else this model revision's (cached
    or exported now)."""
    from oozo_runtime.indexing.onnx_export import graph_for_build, reusable_graph

    if embedder is not None and embedder.fingerprint.provider != "local":
        return None, REMOTE_ENCODER
    if embedder is None:
        name = versions.current_version(root)
        current = versions.read_manifest(root / versions.VERSIONS / name) if name else None
        reused = reusable_graph(root, current, model_id)
        if reused is not None:
            return reused, None
        embedder = load_model()
    return graph_for_build(root, embedder)


@dataclass(frozen=True)
class _BuildInputs:
    """What a new version is built from, and what the manifest records about it."""

    docs: DocumentSet
    chunking: ChunkingInfo
    chunks_truncated: int | None
    source_revision: str | None
    model_revision: str | None  # of model files Oozo copied (s3://, a folder) or the hub commit


def _embed_and_publish(
    settings: IndexSettings,
    root: Path,
    tmp: Path,
    inputs: _BuildInputs,
    progress: Progress,
    embedder: Any,
    dimension: int | None,
    started: float,
) -> IndexBuildResult:
    import numpy as np

    from oozo_runtime.embedding import expected_fingerprint, make_embedder
    from oozo_runtime.indexing.cache import EmbeddingCache
    from oozo_runtime.lexical import LexicalIndex
    from oozo_runtime.prefixes import Prefixes, prefixes_for

    def load_model() -> Any:
        return make_embedder(settings)

    docs = inputs.docs
    if isinstance(embedder, _Prefetched):
        embedder = embedder.get()
    # The model is loaded only when some chunk is not in the cache (and its dimension unknown):
    # a rebuild with nothing new never imports torch (nor calls a remote server).
    fingerprint = embedder.fingerprint if embedder else expected_fingerprint(settings)
    model_id = fingerprint.model
    if embedder:
        prefixes = embedder.prefixes
    else:  # a server that adds the prefixes itself gets the raw text
        prefixes = Prefixes() if fingerprint.server_prefixes else prefixes_for(model_id)
    if embedder is None and dimension is None:
        embedder = load_model()
    dimension = embedder.dimension if embedder else dimension
    assert dimension is not None
    plan = _plan(settings, len(docs.chunks), dimension)  # before hours of embedding, not after
    identity = model_cache_identity(fingerprint, inputs.model_revision)
    cache = EmbeddingCache(root / versions.CACHE, identity, prefixes.passage, dimension)
    hashes = [c.content_hash for c in docs.chunks]
    found, cached = cache.lookup(hashes)
    vectors = np.zeros((len(hashes), dimension), dtype=np.float32)
    vectors[found] = cached
    missing = np.flatnonzero(~found)
    progress.on_stage("embedding", len(missing))
    if len(missing):
        embedder = embedder or load_model()
        vectors[missing] = embedder.encode_passages(
            [docs.chunks[i].text for i in missing], settings.batch_size, progress.on_advance
        )
    progress.on_stage("publishing", 1)
    onnx, onnx_error = _query_graph(root, embedder, model_id, load_model)
    import faiss

    vector_index, facts = build_vector_index(vectors, plan)
    faiss.write_index(vector_index, str(tmp / versions.INDEX_FILE))
    del vector_index
    with open(tmp / versions.CHUNKS_FILE, "w", encoding="utf-8") as fh:
        for c in docs.chunks:
            record = {"document": c.document, "chunk": c.ordinal, "heading": c.heading, "text": c.text}
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    lexical = LexicalIndex.build([c.text for c in docs.chunks]).save(tmp)  # hybrid's BM25 half
    digest = hashlib.sha256(
        json.dumps([identity, *inputs.chunking.model_dump().values(), docs.documents]).encode()
    ).hexdigest()
    built_at = datetime.now(UTC).replace(microsecond=0)
    built_at_text = built_at.isoformat().replace("+00:00", "Z")
    version = versions.version_name(digest, built_at)
    while (root / versions.VERSIONS / version).exists():  # same content rebuilt within a second
        version = versions.version_name(digest, datetime.now(UTC))
        time.sleep(0.2)
    manifest = Manifest(
        version=version,
        built_at=built_at_text,
        embedding=EmbeddingInfo(
            model=model_id,
            dimension=dimension,
            normalized=True,
            metric="inner_product",
            query_prefix=prefixes.query,
            passage_prefix=prefixes.passage,
            provider=None if fingerprint.provider == "local" else fingerprint.provider,
            host=fingerprint.host,
            server_prefixes=fingerprint.server_prefixes or None,
            onnx=onnx,
            onnx_error=onnx_error,
            model_revision=inputs.model_revision,
        ),
        chunking=inputs.chunking,
        index=IndexFileInfo(
            type=facts.type,
            file=versions.INDEX_FILE,
            params=facts.params or None,
            recall_at10=facts.recall_at10,
            recall_queries=facts.recall_queries or None,
            size_bytes=(tmp / versions.INDEX_FILE).stat().st_size,
            memory_bytes=memory_needed(tmp, versions.INDEX_FILE, versions.CHUNKS_FILE, lexical.file),
        ),
        lexical=lexical,
        documents=docs.documents,
        skipped=docs.skipped,
        counts=Counts(
            documents=len(docs.documents), chunks=len(docs.chunks), chunks_truncated=inputs.chunks_truncated
        ),
        source_revision=inputs.source_revision,
    )
    versions.write_manifest(tmp, manifest)
    evaluation = quality_gate.evaluate(settings, root, tmp, manifest, embedder)  # before cache, current move
    cache.replace(hashes, vectors)
    published = versions.publish(root, tmp, version)
    progress.on_advance(1)
    size = sum(p.stat().st_size for p in published.iterdir() if p.is_file())
    return IndexBuildResult(
        version=version,
        documents=len(docs.documents),
        chunks=len(docs.chunks),
        skipped_documents=len(docs.skipped),
        skipped=docs.skipped,
        embedding_model=model_id,
        dimensions=dimension,
        size_bytes=size,
        built_at=built_at_text,
        build_seconds=round(time.monotonic() - started, 3),
        reused_embeddings=int(found.sum()),
        chunks_truncated=inputs.chunks_truncated,
        evaluation=evaluation,
        **index_facts(manifest),
    )

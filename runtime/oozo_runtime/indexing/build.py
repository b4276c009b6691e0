"""`oozo index`: parse → chunk → embed (reusing cached vectors) → FAISS → publish a version.

The result is an `IndexBuildResult`, which the operator reads back into `status.index`; failures
raise BuildError with a machine-readable reason ("NoDocuments", "InvalidSettings", ...).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from oozo_contract.manifest import ChunkingInfo, Counts, EmbeddingInfo, IndexFileInfo, Manifest
from oozo_contract.results import IndexBuildResult, SkippedDocument
from oozo_contract.settings import IndexSettings
from oozo_runtime import versions
from oozo_runtime.errors import OozoError
from oozo_runtime.indexing.chunking import Chunk, ChunkingError, chunk_blocks, validate
from oozo_runtime.indexing.parsing import SUPPORTED_SUFFIXES, UnusableDocument, parse_file

log = logging.getLogger(__name__)


class BuildError(OozoError):
    """An index build that cannot finish: NoDocuments, InvalidSettings, ..."""


@dataclass
class Progress:
    """Hooks for a progress display; all optional."""

    on_stage: Callable[[str, int], None] = lambda stage, total: None
    on_advance: Callable[[int], None] = lambda n: None


@dataclass
class DocumentSet:
    """The documents read from the source: their chunks, the sha256 of each one read, and the
    ones skipped with the reason."""

    chunks: list[Chunk] = field(default_factory=list)
    documents: dict[str, str] = field(default_factory=dict)  # relative path -> sha256 of bytes
    skipped: list[SkippedDocument] = field(default_factory=list)


def discover(source: Path, include: list[str]) -> list[Path]:
    """Files under `source` matching any include glob, in a stable order; Word lock files and
    hidden files are ignored."""
    found: set[Path] = set()
    for pattern in include:
        for path in source.glob(pattern):
            rel = path.relative_to(source)
            if path.is_file() and not any(p.startswith((".", "~$")) for p in rel.parts):
                found.add(path)
    return sorted(found, key=lambda p: p.relative_to(source).as_posix())


def previous_chunks(
    root: Path, settings: IndexSettings
) -> tuple[dict[str, tuple[str, list[Chunk]]], int | None]:
    """Chunks of the current version by document, with the document's sha256, when it was
    chunked with the same parameters; and its embedding dimension when built with the same model.
    An unchanged document (same bytes) then needs no parsing at all."""
    try:
        path = versions.resolve(root)
        manifest = versions.read_manifest(path)
    except (versions.VersionNotFound, OSError, ValueError):
        return {}, None
    dimension = manifest.dimension if manifest.model == settings.model else None
    if manifest.chunking != ChunkingInfo(size=settings.chunk_size, overlap=settings.chunk_overlap):
        return {}, dimension
    by_doc: dict[str, list[Chunk]] = {}
    with open(path / versions.CHUNKS_FILE, encoding="utf-8") as fh:
        for line in fh:
            c = json.loads(line)
            by_doc.setdefault(c["document"], []).append(
                Chunk(c["document"], c["chunk"], c["text"], c["heading"])
            )
    docs = manifest.documents
    return {name: (docs[name], chunks) for name, chunks in by_doc.items() if name in docs}, dimension


def read_documents(
    source: Path,
    settings: IndexSettings,
    progress: Progress,
    previous: dict[str, tuple[str, list[Chunk]]] | None = None,
) -> DocumentSet:
    docs = DocumentSet()
    previous = previous or {}
    files = discover(source, settings.include)
    progress.on_stage("parsing", len(files))
    for path in files:
        name = path.relative_to(source).as_posix()
        try:
            if path.suffix.lower() not in SUPPORTED_SUFFIXES:
                raise UnusableDocument(f"unsupported file type {path.suffix or '(none)'}")
            digest = versions.sha256_file(path)
            if name in previous and previous[name][0] == digest:
                chunks = previous[name][1]
            else:
                blocks = parse_file(path)
                chunks = chunk_blocks(name, blocks, settings.chunk_size, settings.chunk_overlap)
            if not chunks:
                raise UnusableDocument("no text")
        except UnusableDocument as exc:
            docs.skipped.append(SkippedDocument(document=name, reason=str(exc)))
            log.warning("skipped document", extra={"document": name, "reason": str(exc)})
        else:
            docs.documents[name] = digest
            docs.chunks.extend(chunks)
        progress.on_advance(1)
    return docs


def build_faiss(vectors: Any, index_type: str) -> Any:
    import faiss

    dim = vectors.shape[1]
    index: Any
    if index_type == "hnsw":
        index = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
        index.hnsw.efSearch = 64
    else:
        index = faiss.IndexFlatIP(dim)
    index.add(vectors)
    return index


def build(
    settings: IndexSettings, progress: Progress | None = None, embedder: Any = None
) -> IndexBuildResult:
    """Build and publish one index version; returns what it published."""
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
    root = Path(settings.index_dir)
    with versions.build_lock(root):
        stale = versions.clean_stale_tmp(root)
        if stale:
            log.info("removed leftovers of interrupted builds", extra={"removed": stale})
        # Everything of this build lives in tmp until the final rename; a failed build removes
        # it, a killed one leaves it for the next build to clean.
        with versions.scratch_dir(root) as tmp:
            previous, dimension = previous_chunks(root, settings)
            if embedder is None and dimension is None:
                # A full build will need the model: import torch and load it in the background
                # while the documents are parsed, instead of after.
                embedder = _Prefetched(settings)
            docs = read_documents(source, settings, progress, previous)
            if not docs.chunks:
                detail = f"; {len(docs.skipped)} skipped" if docs.skipped else ""
                raise BuildError(
                    "NoDocuments",
                    f"no usable document in {source} matching {settings.include}{detail}",
                )
            return _embed_and_publish(settings, root, tmp, docs, progress, embedder, dimension, started)


class _Prefetched:
    """A model being loaded in a background thread; `get()` waits for it."""

    def __init__(self, settings: IndexSettings) -> None:
        from concurrent.futures import ThreadPoolExecutor

        from oozo_runtime.embedding import Embedder

        self._pool = ThreadPoolExecutor(1, thread_name_prefix="model-load")
        self._future = self._pool.submit(
            Embedder, settings.model, str(settings.model_cache_dir or "") or None
        )
        self._pool.shutdown(wait=False)

    def get(self) -> Any:
        return self._future.result()


def _embed_and_publish(
    settings: IndexSettings,
    root: Path,
    tmp: Path,
    docs: DocumentSet,
    progress: Progress,
    embedder: Any,
    dimension: int | None,
    started: float,
) -> IndexBuildResult:
    import numpy as np

    from oozo_runtime.embedding import Embedder, prefixes_for
    from oozo_runtime.indexing.cache import EmbeddingCache

    def load_model() -> Any:
        return Embedder(settings.model, str(settings.model_cache_dir or "") or None)

    if isinstance(embedder, _Prefetched):
        embedder = embedder.get()
    # The model is loaded only when some chunk is not in the cache (and its dimension unknown):
    # a rebuild with nothing new never imports torch.
    model_id = embedder.model_id if embedder else settings.model
    prefixes = embedder.prefixes if embedder else prefixes_for(model_id)
    if embedder is None and dimension is None:
        embedder = load_model()
    dimension = embedder.dimension if embedder else dimension
    assert dimension is not None
    cache = EmbeddingCache(root / versions.CACHE, model_id, prefixes.passage, dimension)
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
    versions_index = build_faiss(vectors, settings.index_type)
    import faiss

    faiss.write_index(versions_index, str(tmp / versions.INDEX_FILE))
    with open(tmp / versions.CHUNKS_FILE, "w", encoding="utf-8") as fh:
        for c in docs.chunks:
            record = {"document": c.document, "chunk": c.ordinal, "heading": c.heading, "text": c.text}
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    digest = hashlib.sha256(
        json.dumps([model_id, settings.chunk_size, settings.chunk_overlap, docs.documents]).encode()
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
        ),
        chunking=ChunkingInfo(size=settings.chunk_size, overlap=settings.chunk_overlap),
        index=IndexFileInfo(type=settings.index_type, file=versions.INDEX_FILE),
        documents=docs.documents,
        skipped=docs.skipped,
        counts=Counts(documents=len(docs.documents), chunks=len(docs.chunks)),
    )
    versions.write_manifest(tmp, manifest)
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
        index_type=settings.index_type,
    )

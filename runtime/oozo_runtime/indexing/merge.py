"""`oozo index --merge --shards N`: the last step of a parallel build (docs/index.md, "Parallel
builds").

It waits for nothing: every shard's result must be staged already (indexing/shards.py), and a
missing one fails the merge naming the shard. It then runs the one-pod build (indexing/build.py)
with the staged chunks in place of parsing: documents in the order a one-pod build reads them
(sorted by path), each document's chunks in order, so `--shards 3` publishes the same chunks and
vectors as one pod. The staged vectors go into the embedding cache first, so the build finds
every chunk there and embeds nothing; FAISS, BM25, the quality gate, the manifest, the atomic
publish and retention are the one-pod build's own. On success the build's staging folder is
removed; on failure it stays, so a retried merge (or a shard's retry) redoes nothing.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from oozo_contract.fetch import FetchResult
from oozo_contract.results import IndexBuildResult
from oozo_contract.settings import IndexSettings
from oozo_runtime.indexing.build import BuildError, Progress, build
from oozo_runtime.indexing.chunking import Chunk
from oozo_runtime.indexing.documents import DocumentSet
from oozo_runtime.indexing.shards import (
    StagedShard,
    build_key,
    embedding_cache,
    load_shard,
    staging_folder,
)


def merge(
    settings: IndexSettings,
    progress: Progress | None = None,
    fetched: FetchResult | None = None,
    embedder: Any = None,
) -> IndexBuildResult:
    from oozo_runtime.indexing.tokens import build_counter, chunking_info

    source = Path(settings.source or "")
    if not settings.source or not source.is_dir():
        raise BuildError("InvalidSettings", f"source {settings.source} is not a folder")
    key = build_key(settings, source, chunking_info(settings, build_counter(settings)))
    reused: list[int] = []

    def read_shards(
        source: Path, settings: IndexSettings, on_stage: Callable[[str, int], None], *_: Any
    ) -> DocumentSet:
        staged = [load_shard(settings, key, shard) for shard in range(settings.shards)]
        on_stage("merging", len(staged))
        docs = merged_documents(staged)
        if docs.chunks:
            import numpy as np

            vectors = np.concatenate([s.vectors for s in staged if len(s.chunks)])
            order = _chunk_order(staged, docs)
            embedding_cache(settings, vectors.shape[1]).add(
                [c.content_hash for c in docs.chunks], vectors[order]
            )
        reused.append(sum(s.result.reused_embeddings for s in staged))
        return docs

    result = build(settings, progress, embedder, fetched, read=read_shards)
    shutil.rmtree(staging_folder(settings, key), ignore_errors=True)
    update: dict[str, Any] = {"shards": settings.shards}
    if not result.unchanged and reused:
        update["reused_embeddings"] = reused[0]  # what the shards took from the cache
    return result.model_copy(update=update)


def merged_documents(staged: list[StagedShard]) -> DocumentSet:
    """One DocumentSet from the shards, ordered as a one-pod build reads the source: by document
    path, each document's chunks in their order. Skipped documents keep their shard."""
    by_document: dict[str, list[Chunk]] = {}
    documents: dict[str, str] = {}
    for shard in staged:
        documents.update(shard.documents)
        for chunk in shard.chunks:
            by_document.setdefault(chunk.document, []).append(chunk)
    docs = DocumentSet()
    for name in sorted(documents):
        docs.documents[name] = documents[name]
        docs.chunks.extend(by_document.get(name, []))
    docs.skipped = sorted((s for shard in staged for s in shard.skipped), key=lambda s: s.document)
    return docs


def _chunk_order(staged: list[StagedShard], docs: DocumentSet) -> Any:
    """Positions in the shards' concatenated vectors of the merged chunks, in merged order."""
    import numpy as np

    position: dict[tuple[str, int], int] = {}
    offset = 0
    for shard in staged:
        for i, chunk in enumerate(shard.chunks):
            position[(chunk.document, chunk.ordinal)] = offset + i
        offset += len(shard.chunks)
    return np.array([position[(c.document, c.ordinal)] for c in docs.chunks], dtype=np.int64)

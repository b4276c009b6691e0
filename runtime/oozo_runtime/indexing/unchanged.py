"""Whether a build would publish nothing new, and what it reports then: the current version
(the one `current` names) is what these inputs would build when its documents' sha256, chunking,
embedding fingerprint, model revision and planned index are the same (`same_inputs`), or, for a
fetched source skipped as unchanged, when the source revision and the settings are
(`same_revision`); the build then returns the current version as its result (`unchanged`,
`unchanged_source`) instead of a copy of it under a new name. Pure reads of the manifest and the
version's files: no model is loaded and nothing is written.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from oozo_contract.fetch import FetchResult
from oozo_contract.index_settings import IndexSettings
from oozo_contract.manifest import ChunkingInfo, Manifest
from oozo_contract.results import IndexBuildResult, VectorIndexReport
from oozo_runtime.indexing.documents import CurrentVersion, DocumentSet
from oozo_runtime.indexing.index_plan import IndexPlanError, plan_index

log = logging.getLogger(__name__)


def index_facts(manifest: Manifest) -> dict[str, Any]:
    """The index fields of a build result, from the version's manifest: the vector index and the
    revision of the model files (a hub commit or a digest) the vectors came from."""
    info = manifest.index
    report = None
    if info.recall_at10 is not None:  # measured: built by an Oozo that reports it
        report = VectorIndexReport(
            type=info.type,
            recall_at10=info.recall_at10,
            size_bytes=info.size_bytes,
            memory_bytes=info.memory_bytes,
        )
    return {"index_type": info.type, "vector_index": report, "model_revision": model_revision_of(manifest)}


def model_revision_of(manifest: Manifest) -> str | None:
    return manifest.embedding.model_revision if manifest.embedding else None


def same_inputs(
    manifest: Manifest, settings: IndexSettings, docs: DocumentSet, chunking: ChunkingInfo
) -> bool:
    """Whether the current version was built from exactly these inputs: then a new version would
    hold the same index under another name."""
    from oozo_runtime.embedding import expected_fingerprint

    built = manifest.embedding.fingerprint() if manifest.embedding else None
    return (
        built == expected_fingerprint(settings)
        and manifest.chunking == chunking
        and _same_index(manifest, settings, len(docs.chunks))
        and manifest.documents == docs.documents
        and _has_query_graph(settings, manifest)
    )


def _has_query_graph(settings: IndexSettings, manifest: Manifest) -> bool:
    """Whether the version has its ONNX graph (or a recorded reason it cannot have one): a
    version from before ONNX graphs, or whose graph folder went missing, is rebuilt once."""
    from oozo_runtime.indexing.onnx_export import reusable_graph

    embedding = manifest.embedding
    if embedding is None or embedding.onnx_error or embedding.provider:
        return embedding is not None  # a remote provider encodes questions itself: no graph
    return reusable_graph(Path(settings.index_dir), manifest, embedding.model) is not None


def same_revision(
    manifest: Manifest, settings: IndexSettings, fetched: FetchResult, chunking: ChunkingInfo
) -> bool:
    """The fetch found the source at the revision the current version was built from, and the
    version was built with these settings: its documents are the ones in SOURCE already."""
    from oozo_runtime.embedding import expected_fingerprint

    built = manifest.embedding.fingerprint() if manifest.embedding else None
    return (
        fetched.skipped_because_unchanged
        and manifest.source_revision == fetched.revision
        and built == expected_fingerprint(settings)
        and _has_query_graph(settings, manifest)
        and manifest.chunking == chunking
        and _same_index(manifest, settings, manifest.counts.chunks if manifest.counts else 0)
    )


def _same_index(manifest: Manifest, settings: IndexSettings, chunks: int) -> bool:
    """Whether the version's index is the one these settings plan for its chunks: the type and
    every parameter. A version built before parameters were recorded had the fixed ones of its
    type (HNSW: m 32, efConstruction 80, efSearch 64)."""
    if manifest.dimension is None:
        return False
    try:
        plan = plan_index(settings, chunks, manifest.dimension)
    except IndexPlanError:
        return False  # the build itself reports what is wrong with the settings
    built = manifest.index.params
    if built is None and manifest.index.type == "hnsw":
        built = {"m": 32, "efConstruction": 80, "efSearch": 64}
    return manifest.index.type == plan.type and (built or {}) == plan.params


def unchanged_source(current: CurrentVersion, started: float) -> IndexBuildResult:
    """The current version as this build's result, from its manifest alone."""
    manifest = current.manifest
    log.info(
        "source unchanged since the current version: nothing read, nothing published",
        extra={"version": manifest.version, "sourceRevision": manifest.source_revision},
    )
    chunks = manifest.counts.chunks if manifest.counts else 0
    truncated = manifest.counts.chunks_truncated if manifest.counts else None
    result = _current_as_result(current, len(manifest.documents), chunks, manifest.skipped, started)
    return result.model_copy(update={"chunks_truncated": truncated})


def unchanged(current: CurrentVersion, docs: DocumentSet, started: float) -> IndexBuildResult:
    """The current version, reported as this build's result. The skipped list is this run's: a
    file that became unusable since is named even though the index did not change."""
    log.info("inputs unchanged: nothing published", extra={"version": current.manifest.version})
    return _current_as_result(current, len(docs.documents), len(docs.chunks), docs.skipped, started)


def _current_as_result(
    current: CurrentVersion, documents: int, chunks: int, skipped: list[Any], started: float
) -> IndexBuildResult:
    """The result of a build that published nothing: the current version, with the counts given."""
    manifest = current.manifest
    return IndexBuildResult(
        version=manifest.version,
        documents=documents,
        chunks=chunks,
        skipped_documents=len(skipped),
        skipped=skipped,
        embedding_model=manifest.model or "",
        dimensions=manifest.dimension or 0,
        size_bytes=sum(p.stat().st_size for p in current.path.iterdir() if p.is_file()),
        built_at=manifest.built_at or "",
        build_seconds=round(time.monotonic() - started, 3),
        reused_embeddings=chunks,
        unchanged=True,
        **index_facts(manifest),
        evaluation=manifest.evaluation,
    )

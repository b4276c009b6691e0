"""`oozo index SOURCE --shard K/N --staging STAGING`: one pod of a parallel build (docs/runtime.md,
"Parallel builds").

Shard K reads the documents whose stable hash of their relative path, mod N, is K; parses and
chunks them (an unchanged document reuses the current version's chunks, as a one-pod build
does); embeds only the chunks the embedding cache does not hold; and leaves chunks, vectors,
documents, skipped documents and the build's inputs in STAGING/<build>/shard-K for the merge
(indexing/merge.py). STAGING is a folder or an s3://BUCKET/PREFIX (indexing/staging.py). A shard
never writes the index's cache nor publishes: N shards run at once, and only the merge, which
runs alone under the build lock, may. (With OOZO_STAGING_EMBEDDING_CACHE a shard keeps its own
vectors in the S3 staging instead, read and replaced by it alone: indexing/shard_cache.py.)

<build> is a hash of the build's inputs: the documents (path and sha256 of the bytes), the
chunking, the embedding model and N. Every shard computes it from the same source folder, so
they meet under one name without being told it, and a changed document starts a fresh staging
area instead of mixing old and new results. A shard is staged whole or not at all: a shard
killed mid-way leaves no result, and its retry redoes its own documents only; a retry that finds
its result staged already returns it.

With `--merge` too (the operator's Indexed Job), the shard that finds every shard staged after
its own claims the merge (`claim_merge`) and publishes: no pod waits for another, and no second
Job is needed.
"""

from __future__ import annotations

import hashlib
import json
import time
from functools import partial
from pathlib import Path
from typing import Any

from oozo_contract.index_settings import IndexSettings
from oozo_contract.manifest import ChunkingInfo, model_cache_identity
from oozo_contract.results import ShardResult, SkippedDocument
from oozo_runtime.indexing import shard_cache
from oozo_runtime.indexing.chunking import Chunk
from oozo_runtime.indexing.documents import DocumentSet, current_version, discover, previous_chunks
from oozo_runtime.indexing.staging import Staging, open_staging
from oozo_runtime.indexing.staging_layout import (
    CHUNKS_FILE,
    DOCUMENTS_FILE,
    INPUTS_FILE,
    RESULT_FILE,
    VECTORS_FILE,
    ShardMissing,
)

__all__ = ["ShardMissing", "build_key", "build_shard", "claim_merge", "load_shard", "shard_of"]


def shard_of(document: str, shards: int) -> int:
    """The shard that reads `document` (its path relative to the source): stable across pods,
    runs and Python versions (a sha256, not Python's salted `hash`), and spread evenly."""
    digest = hashlib.sha256(document.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % shards


def build_inputs(settings: IndexSettings, chunking: ChunkingInfo) -> dict[str, Any]:
    """What, besides the documents, makes a build: staged beside each shard (INPUTS_FILE), so a
    merge given other settings (another model, chunk size or N) refuses instead of publishing
    vectors under the wrong model."""
    from oozo_runtime.embedding import expected_fingerprint

    return {
        "chunking": chunking.model_dump(mode="json"),
        "embedding": expected_fingerprint(settings).cache_identity(),
        "limits": [settings.max_document_chars, settings.max_document_pages, settings.max_document_chunks],
        "shards": settings.shards,
    }


def build_key(settings: IndexSettings, source: Path, chunking: ChunkingInfo) -> str:
    """The staging folder's name for this build. Every shard hashes every document's bytes:
    neither modification times nor inodes are shared by pods (each pod gets its own copy of a
    ConfigMap volume), and a size can stay the same while the content changes. Reading the
    corpus once per shard costs far less than embedding it."""
    from oozo_runtime import versions

    files, refused = discover(source, settings.include)
    listing = []
    for path in files:
        try:
            digest = versions.sha256_file(path)
        except OSError as exc:  # skipped by its shard with the reason; the same in every pod
            digest = f"unreadable: {exc.strerror or exc}"
        listing.append([path.relative_to(source).as_posix(), digest])
    inputs = {"files": listing, "refused": sorted(refused), **build_inputs(settings, chunking)}
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def staging_folder(settings: IndexSettings, key: str) -> Path:
    return settings.resolved_staging_dir() / key


def shard_folder(settings: IndexSettings, key: str, shard: int) -> Path:
    return staging_folder(settings, key) / f"shard-{shard}"


def cache_identity(settings: IndexSettings, embedder: Any = None) -> tuple[str, str]:
    """(model identity, passage prefix) the embedding cache of these settings is keyed by."""
    from oozo_runtime.embedding import expected_fingerprint
    from oozo_runtime.model_files import model_revision
    from oozo_runtime.prefixes import Prefixes, prefixes_for

    fingerprint = embedder.fingerprint if embedder else expected_fingerprint(settings)
    if embedder:
        prefixes = embedder.prefixes
    else:  # as build.py: a server that adds the prefixes itself gets the raw text
        prefixes = Prefixes() if fingerprint.server_prefixes else prefixes_for(fingerprint.model)
    return model_cache_identity(fingerprint, model_revision(settings)), prefixes.passage


def embedding_cache(
    settings: IndexSettings, dimension: int, embedder: Any = None, root: Path | None = None
) -> Any:
    """The cache a one-pod build with these settings would use (indexing/build.py); `root`: the
    same cache in another folder (a shard's S3 pack, indexing/shard_cache.py)."""
    from oozo_runtime import versions
    from oozo_runtime.indexing.cache import EmbeddingCache

    identity, passage = cache_identity(settings, embedder)
    return EmbeddingCache(root or Path(settings.index_dir) / versions.CACHE, identity, passage, dimension)


def build_shard(settings: IndexSettings, embedder: Any = None, staging: Staging | None = None) -> ShardResult:
    """Stage shard `settings.shard` of `settings.shards`; see the module's docstring."""
    return stage_shard(settings, embedder, staging)[0]


def stage_shard(
    settings: IndexSettings, embedder: Any = None, staging: Staging | None = None
) -> tuple[ShardResult, Any]:
    """`build_shard`, and the embedder it loaded (None when every chunk came from the cache):
    the merge that may follow in the same pod reuses it instead of loading the model again (on
    a fresh volume the merge exports the ONNX graph from it)."""
    from oozo_runtime.indexing.build import BuildError
    from oozo_runtime.indexing.chunking import ChunkingError, validate
    from oozo_runtime.indexing.documents import read_documents
    from oozo_runtime.indexing.tokens import build_counter, chunking_info

    started = time.monotonic()
    assert settings.shard is not None, "a shard build needs its shard"
    shard, shards = settings.shard, settings.shards
    source = Path(settings.source or "")
    if not settings.source or not source.is_dir():
        raise BuildError("InvalidSettings", f"source {settings.source} is not a folder")
    try:
        validate(settings.chunk_size, settings.chunk_overlap)
    except ChunkingError as exc:
        raise BuildError("InvalidSettings", str(exc)) from exc
    staging = staging or open_staging(settings)
    counter = build_counter(settings)
    chunking = chunking_info(settings, counter)
    key = build_key(settings, source, chunking)
    staged = staging.read_file(key, shard, RESULT_FILE)
    if staged is not None:  # staged by an earlier try that was not told it succeeded
        result = ShardResult.model_validate_json(staged)
        return result.model_copy(update={"reused_result": True, "seconds": _since(started)}), embedder
    previous, dimension = previous_chunks(current_version(Path(settings.index_dir)), settings, chunking)
    docs = read_documents(
        source,
        settings,
        lambda stage, total: None,
        lambda n: None,
        previous,
        counter,
        select=lambda name: shard_of(name, shards) == shard,
    )
    vectors, reused, embedder = _embed(settings, docs, dimension, embedder, staging)
    skipped = [s.model_copy(update={"shard": shard}) for s in docs.skipped]
    result = ShardResult(
        shard=shard,
        shards=shards,
        build=key,
        documents=len(docs.documents),
        chunks=len(docs.chunks),
        embedded=len(docs.chunks) - reused,
        reused_embeddings=reused,
        skipped_documents=len(skipped),
        skipped=skipped,
        seconds=_since(started),
    )
    with staging.writing(key, shard) as folder:
        _write_shard(folder, result, docs, vectors, build_inputs(settings, chunking))
    if len(vectors) and settings.staging_embedding_cache:  # staged: what its next build reuses
        cache_at = partial(embedding_cache, settings, vectors.shape[1], embedder)
        shard_cache.save(staging, cache_at, shard, shards, [c.content_hash for c in docs.chunks], vectors)
    return result, embedder


def _embed(
    settings: IndexSettings, docs: DocumentSet, dimension: int | None, embedder: Any, staging: Staging
) -> Any:
    """(vectors in chunk order, how many came from the caches, the embedder if one was loaded):
    the volume's cache, then (S3 staging) this shard's pack in the bucket. The model is loaded
    only when a chunk is missing from both or its dimension unknown."""
    import numpy as np

    from oozo_runtime.embedding import make_embedder

    if not docs.chunks:
        return np.empty((0, dimension or 0), dtype=np.float32), 0, embedder
    if embedder is None and dimension is None:
        embedder = make_embedder(settings)
    dimension = embedder.dimension if embedder else dimension
    assert dimension is not None
    hashes = [c.content_hash for c in docs.chunks]
    found, cached = embedding_cache(settings, dimension, embedder).lookup(hashes)
    vectors = np.zeros((len(docs.chunks), dimension), dtype=np.float32)
    vectors[found] = cached
    missing = np.flatnonzero(~found)
    if len(missing) and settings.staging_embedding_cache:
        assert settings.shard is not None
        cache_at = partial(embedding_cache, settings, dimension, embedder)
        packed, from_pack = shard_cache.lookup(
            staging, cache_at, settings.shard, settings.shards, [hashes[i] for i in missing]
        )
        vectors[missing[packed]] = from_pack
        found[missing[packed]] = True
        missing = missing[~packed]
    if len(missing):
        embedder = embedder or make_embedder(settings)
        texts = [docs.chunks[i].text for i in missing]
        vectors[missing] = embedder.encode_passages(texts, settings.batch_size)
    return vectors, int(found.sum()), embedder


def _write_shard(
    folder: Path, result: ShardResult, docs: DocumentSet, vectors: Any, inputs: dict[str, Any]
) -> None:
    """The shard's files; the staging area makes them appear all at once (indexing/staging.py)."""
    import numpy as np

    with open(folder / CHUNKS_FILE, "w", encoding="utf-8") as fh:
        for c in docs.chunks:
            record = {"document": c.document, "chunk": c.ordinal, "heading": c.heading, "text": c.text}
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    np.save(folder / VECTORS_FILE, np.ascontiguousarray(vectors, dtype=np.float32))
    (folder / DOCUMENTS_FILE).write_text(json.dumps(docs.documents), encoding="utf-8")
    (folder / INPUTS_FILE).write_text(json.dumps(inputs, sort_keys=True), encoding="utf-8")
    (folder / RESULT_FILE).write_text(result.model_dump_json(by_alias=True), encoding="utf-8")


def claim_merge(settings: IndexSettings, key: str, staging: Staging | None = None) -> bool:
    """Whether this shard merges: when every shard is staged, the first to create the claim (an
    atomic create: O_EXCL in a folder, a conditional put on S3) does, and so does its retry (an
    Indexed Job retries a pod under the same index), so a merger killed mid-way is not left
    without a successor. The others end with their shard result."""
    assert settings.shard is not None
    staging = staging or open_staging(settings)
    if not all(staging.has_shard(key, k) for k in range(settings.shards)):
        return False
    return staging.claim_merge(key, str(settings.shard))


class StagedShard:
    """A shard's staged result, as the merge reads it."""

    def __init__(self, folder: Path) -> None:
        import numpy as np

        self.result = ShardResult.model_validate_json((folder / RESULT_FILE).read_text(encoding="utf-8"))
        self.inputs: dict[str, Any] = json.loads((folder / INPUTS_FILE).read_text(encoding="utf-8"))
        self.documents: dict[str, str] = json.loads((folder / DOCUMENTS_FILE).read_text(encoding="utf-8"))
        self.chunks: list[Chunk] = []
        with open(folder / CHUNKS_FILE, encoding="utf-8") as fh:
            for line in fh:
                c = json.loads(line)
                self.chunks.append(Chunk(c["document"], c["chunk"], c["text"], c["heading"]))
        self.vectors = np.load(folder / VECTORS_FILE, allow_pickle=False)
        if len(self.vectors) != len(self.chunks):
            raise ValueError(f"{len(self.vectors)} vectors for {len(self.chunks)} chunks")

    @property
    def skipped(self) -> list[SkippedDocument]:
        return self.result.skipped


def load_shard(settings: IndexSettings, key: str, shard: int, staging: Staging | None = None) -> StagedShard:
    staging = staging or open_staging(settings)
    where = staging.where(key, shard)
    try:
        with staging.reading(key, shard) as folder:
            return StagedShard(folder)
    except ShardMissing as exc:
        raise ShardMissing(
            "ShardMissing",
            f"shard {shard} of {settings.shards} has no result ({exc.message}): run "
            f"`oozo index SOURCE --shard {shard}/{settings.shards} --staging {staging}` on the same "
            "source first",
        ) from exc
    except (OSError, ValueError, KeyError) as exc:
        raise ShardMissing(
            "ShardMissing", f"shard {shard} of {settings.shards}: unreadable result in {where}: {exc}"
        ) from exc


def _since(started: float) -> float:
    return round(time.monotonic() - started, 3)

"""`oozo index --shard K --shards N`: one pod of a parallel build (docs/index.md, "Parallel
builds").

Shard K reads the documents whose stable hash of their relative path, mod N, is K; parses and
chunks them (an unchanged document reuses the current version's chunks, as a one-pod build
does); embeds only the chunks the embedding cache does not hold; and leaves chunks, vectors,
documents and skipped documents in STAGING/<build>/shard-K for the merge (indexing/merge.py).
It never writes the cache nor publishes: N shards run at once, and only the merge, which runs
alone under the build lock, may.

<build> is a hash of the build's inputs: the documents (path and sha256 of the bytes), the
chunking, the embedding model and N. Every shard and the merge compute it from the same source
folder, so they meet in one folder without being told its name, and a changed document starts
a fresh staging folder instead of mixing old and new results. Shard K's folder appears by an
atomic rename of a temporary one: a shard killed mid-way leaves no result, and its retry redoes
its own documents only; a retry that finds its result staged already returns it.

With `--merge` too (the operator's Indexed Job), the shard that finds every shard staged after
its own claims the merge (`claim_merge`) and publishes: no pod waits for another, and no second
Job is needed.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

from oozo_contract.manifest import ChunkingInfo, model_cache_identity
from oozo_contract.results import ShardResult, SkippedDocument
from oozo_contract.settings import IndexSettings
from oozo_runtime.errors import OozoError
from oozo_runtime.indexing.chunking import Chunk
from oozo_runtime.indexing.documents import DocumentSet, current_version, discover, previous_chunks

RESULT_FILE = "shard.json"
DOCUMENTS_FILE = "documents.json"
CHUNKS_FILE = "chunks.jsonl"
VECTORS_FILE = "vectors.npy"
TMP_PREFIX = ".tmp-"
MERGE_CLAIM = "merge-claim"  # which shard merges, when the shards merge themselves (`--merge`)


def shard_of(document: str, shards: int) -> int:
    """The shard that reads `document` (its path relative to the source): stable across pods,
    runs and Python versions (a sha256, not Python's salted `hash`), and spread evenly."""
    digest = hashlib.sha256(document.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % shards


def build_key(settings: IndexSettings, source: Path, chunking: ChunkingInfo) -> str:
    """The staging folder's name for this build. Every shard hashes every document's bytes:
    neither modification times nor inodes are shared by pods (each pod gets its own copy of a
    ConfigMap volume), and a size can stay the same while the content changes. Reading the
    corpus once per shard costs far less than embedding it."""
    from oozo_runtime import versions
    from oozo_runtime.embedding import expected_fingerprint

    files, refused = discover(source, settings.include)
    listing = []
    for path in files:
        try:
            digest = versions.sha256_file(path)
        except OSError as exc:  # skipped by its shard with the reason; the same in every pod
            digest = f"unreadable: {exc.strerror or exc}"
        listing.append([path.relative_to(source).as_posix(), digest])
    inputs = {
        "files": listing,
        "refused": sorted(refused),
        "chunking": chunking.model_dump(mode="json"),
        "embedding": expected_fingerprint(settings).cache_identity(),
        "limits": [settings.max_document_chars, settings.max_document_pages, settings.max_document_chunks],
        "shards": settings.shards,
    }
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def staging_folder(settings: IndexSettings, key: str) -> Path:
    return settings.resolved_staging_dir() / key


def shard_folder(settings: IndexSettings, key: str, shard: int) -> Path:
    return staging_folder(settings, key) / f"shard-{shard}"


def embedding_cache(settings: IndexSettings, dimension: int, embedder: Any = None) -> Any:
    """The cache a one-pod build with these settings would use (indexing/build.py)."""
    from oozo_runtime import versions
    from oozo_runtime.embedding import expected_fingerprint
    from oozo_runtime.indexing.cache import EmbeddingCache
    from oozo_runtime.model_files import model_revision
    from oozo_runtime.prefixes import Prefixes, prefixes_for

    fingerprint = embedder.fingerprint if embedder else expected_fingerprint(settings)
    if embedder:
        prefixes = embedder.prefixes
    else:  # as build.py: a server that adds the prefixes itself gets the raw text
        prefixes = Prefixes() if fingerprint.server_prefixes else prefixes_for(fingerprint.model)
    identity = model_cache_identity(fingerprint, model_revision(settings))
    return EmbeddingCache(Path(settings.index_dir) / versions.CACHE, identity, prefixes.passage, dimension)


def build_shard(settings: IndexSettings, embedder: Any = None) -> ShardResult:
    """Stage shard `settings.shard` of `settings.shards`; see the module's docstring."""
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
    counter = build_counter(settings)
    chunking = chunking_info(settings, counter)
    key = build_key(settings, source, chunking)
    target = shard_folder(settings, key, shard)
    if (target / RESULT_FILE).is_file():  # staged by an earlier try that was not told it succeeded
        staged = read_result(target)
        return staged.model_copy(update={"reused_result": True, "seconds": _since(started)})
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
    vectors, reused, embedder = _embed(settings, docs, dimension, embedder)
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
    _stage(target, result, docs, vectors)
    return result


def _embed(settings: IndexSettings, docs: DocumentSet, dimension: int | None, embedder: Any) -> Any:
    """(vectors in chunk order, how many came from the cache, the embedder if one was loaded).
    The model is loaded only when a chunk is missing from the cache or its dimension unknown."""
    import numpy as np

    from oozo_runtime.embedding import make_embedder

    if not docs.chunks:
        return np.empty((0, dimension or 0), dtype=np.float32), 0, embedder
    if embedder is None and dimension is None:
        embedder = make_embedder(settings)
    dimension = embedder.dimension if embedder else dimension
    assert dimension is not None
    cache = embedding_cache(settings, dimension, embedder)
    found, cached = cache.lookup([c.content_hash for c in docs.chunks])
    vectors = np.zeros((len(docs.chunks), dimension), dtype=np.float32)
    vectors[found] = cached
    missing = np.flatnonzero(~found)
    if len(missing):
        embedder = embedder or make_embedder(settings)
        texts = [docs.chunks[i].text for i in missing]
        vectors[missing] = embedder.encode_passages(texts, settings.batch_size)
    return vectors, int(found.sum()), embedder


def _stage(target: Path, result: ShardResult, docs: DocumentSet, vectors: Any) -> None:
    """Write the shard's folder beside its place, then rename it there: all of it or nothing."""
    import numpy as np

    target.parent.mkdir(parents=True, exist_ok=True)
    for stale in target.parent.glob(f"{TMP_PREFIX}{target.name}-*"):  # this shard's killed tries
        shutil.rmtree(stale, ignore_errors=True)
    tmp = target.parent / f"{TMP_PREFIX}{target.name}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        with open(tmp / CHUNKS_FILE, "w", encoding="utf-8") as fh:
            for c in docs.chunks:
                record = {"document": c.document, "chunk": c.ordinal, "heading": c.heading, "text": c.text}
                fh.write(json.dumps(record, ensure_ascii=False) + "\n")
        np.save(tmp / VECTORS_FILE, np.ascontiguousarray(vectors, dtype=np.float32))
        (tmp / DOCUMENTS_FILE).write_text(json.dumps(docs.documents), encoding="utf-8")
        (tmp / RESULT_FILE).write_text(result.model_dump_json(by_alias=True), encoding="utf-8")
        for path in tmp.iterdir():
            with open(path, "rb") as fh:
                os.fsync(fh.fileno())
        os.rename(tmp, target)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if not (target / RESULT_FILE).is_file():  # not a twin pod's rename that won the race
            raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def claim_merge(settings: IndexSettings, key: str) -> bool:
    """Whether this shard merges: when every shard is staged, the first to create the claim (an
    atomic O_EXCL create) does, and so does its retry (an Indexed Job retries a pod under the
    same index), so a merger killed mid-way is not left without a successor. The others end
    with their shard result."""
    assert settings.shard is not None
    if not all((shard_folder(settings, key, k) / RESULT_FILE).is_file() for k in range(settings.shards)):
        return False
    claim = staging_folder(settings, key) / MERGE_CLAIM
    try:
        fd = os.open(claim, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return claim.read_text(encoding="utf-8").strip() == str(settings.shard)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(str(settings.shard))
    return True


def read_result(folder: Path) -> ShardResult:
    return ShardResult.model_validate_json((folder / RESULT_FILE).read_text(encoding="utf-8"))


class StagedShard:
    """A shard's staged result, as the merge reads it."""

    def __init__(self, folder: Path) -> None:
        import numpy as np

        self.result = read_result(folder)
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


class ShardMissing(OozoError):
    """The merge found no (readable) result of some shard."""


def load_shard(settings: IndexSettings, key: str, shard: int) -> StagedShard:
    folder = shard_folder(settings, key, shard)
    if not (folder / RESULT_FILE).is_file():
        raise ShardMissing(
            "ShardMissing",
            f"shard {shard} of {settings.shards} has no result in {folder}: run "
            f"`oozo index SOURCE --shard {shard} --shards {settings.shards}` on the same source first",
        )
    try:
        return StagedShard(folder)
    except (OSError, ValueError, KeyError) as exc:
        raise ShardMissing(
            "ShardMissing", f"shard {shard} of {settings.shards}: unreadable result in {folder}: {exc}"
        ) from exc


def _since(started: float) -> float:
    return round(time.monotonic() - started, 3)

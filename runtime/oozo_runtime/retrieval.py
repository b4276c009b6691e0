"""Loading a published index version and searching it. Everything a query needs is in memory
after `load`, so the query path does no disk I/O.

Three modes (`OOZO_RETRIEVAL_MODE`, or per query):
- dense: FAISS inner product of normalised vectors; a source's score is the cosine.
- lexical: BM25 over the chunks (oozo_runtime.lexical); the score is the BM25 score. No question is
  embedded.
- hybrid (default): the dense and the BM25 top CANDIDATES (the BM25 ones scoring at least
  LEXICAL_FLOOR of the best) fused by reciprocal rank (k=60); the
  score is the fused score, sum over the lists of 1/(60 + rank). Dense finds paraphrases, BM25
  finds rare names, codes and words of a language the embedding model does not know; rank fusion
  needs no calibration between a cosine and a BM25 score.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from oozo_contract.defaults import RETRIEVAL_MODE, RetrievalMode
from oozo_contract.manifest import EmbeddingFingerprint, Manifest
from oozo_runtime import versions
from oozo_runtime.lexical import LexicalIndex

log = logging.getLogger(__name__)

RRF_K = 60  # the constant of Cormack et al. (2009): damps the weight of the very first ranks
CANDIDATES = 50  # each list's depth before fusion
# BM25 candidates scoring below this share of the best one match on fewer or commoner words (a
# word every chunk holds scores near 0): they stay out of the fused lists, or a chunk the dense
# list likes would outrank a strong exact match merely by also containing "the fault".
LEXICAL_FLOOR = 0.5


def reciprocal_rank_fusion(rankings: Sequence[Sequence[int]], k: int = RRF_K) -> list[tuple[float, int]]:
    """(fused score, item) best first: each item scores the sum of 1/(k + rank) over the lists
    that hold it (rank 1 is the first). Ties go to the item found earlier in an earlier list,
    so the order is deterministic."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    first_seen = {item: n for n, item in enumerate(dict.fromkeys(i for r in rankings for i in r))}
    return sorted(((score, item) for item, score in scores.items()), key=lambda p: (-p[0], first_seen[p[1]]))


class ModelMismatch(RuntimeError):
    """The version was embedded with another model than the one configured for querying."""


def check_fingerprint(manifest: Manifest, expected: str | EmbeddingFingerprint) -> None:
    """Raise ModelMismatch unless the version was embedded by the configured embedder (provider,
    host, model, who added the prefixes); a bare string is a local model id."""
    if isinstance(expected, str):
        expected = EmbeddingFingerprint(provider="local", model=expected)
    built = manifest.embedding.fingerprint() if manifest.embedding else None
    if built == expected:
        return
    if built is None or (built.provider == expected.provider == "local"):
        built_with = built.model if built else None
        raise ModelMismatch(
            f"index version {manifest.version} was built with embedding model {built_with!r}, "
            f"but this server is configured for {expected.model!r}; rebuild the index or set "
            f"OOZO_MODEL={built_with}"
        )
    raise ModelMismatch(
        f"index version {manifest.version} was built with embeddings from {built.describe()}, "
        f"but this server is configured for {expected.describe()}; rebuild the index or configure "
        "the same embedding provider, host and model"
    )


def check_dimension(manifest: Manifest, dimension: int) -> None:
    """The embedder's vectors must have the size of the version's: a remote server switched to
    another model under the same name shows up here."""
    if manifest.dimension is not None and manifest.dimension != dimension:
        raise ModelMismatch(
            f"index version {manifest.version} holds {manifest.dimension}-dimensional vectors, but the "
            f"configured embedder returns {dimension}-dimensional ones; rebuild the index"
        )


@dataclass(frozen=True)
class Hit:
    document: str
    chunk: int
    score: float
    text: str
    heading: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "document": self.document,
            "chunk": self.chunk,
            "score": round(self.score, 6),
            "text": self.text,
            "heading": self.heading,
        }


def read_vector_index(path: Path) -> Any:
    """The FAISS index, its vectors memory-mapped from the file rather than copied into the
    process (IO_FLAG_MMAP_IFC, FAISS 1.15: flat and HNSW keep their vectors in the mapped file,
    IVF-PQ its inverted lists; the HNSW graph and the IVF centroids are small and read). The pages
    are the kernel's page cache, shared by every worker and replica on the node that maps the same
    version, and not counted as the process's anonymous memory. A version's files never change
    after they are published (a new build is a new folder), so the mapping stays what the
    checksums proved. A filesystem that cannot map the file gets a full read instead."""
    import faiss

    try:
        return faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC)
    except RuntimeError as exc:
        log.warning("index file cannot be memory-mapped, reading it whole", extra={"reason": str(exc)})
        return faiss.read_index(str(path))


_openmp = threading.local()


def one_openmp_thread() -> None:
    """Search a single question with one OpenMP thread, in whichever thread calls. The count is
    a per-thread OpenMP setting: set once in the loader thread, it left the server's worker
    threads at the default team of every core, whose threads spin after each search. Measured
    on the 10,808-chunk index: a top-50 search cost 14 ms of CPU from a worker thread against
    1 ms with one thread, the same as from the thread that set it."""
    if not getattr(_openmp, "single", False):
        import faiss

        faiss.omp_set_num_threads(1)
        _openmp.single = True


class LoadedIndex:
    def __init__(
        self, path: Path, manifest: Manifest, index: Any, chunks: list[dict[str, Any]], lexical: LexicalIndex
    ) -> None:
        self.path = path
        self.manifest = manifest
        self.index = index
        self.chunks = chunks
        self.lexical = lexical

    @property
    def version(self) -> str:
        return self.manifest.version

    @property
    def model(self) -> str:
        return self.manifest.model or ""

    @property
    def document_count(self) -> int:
        return len(self.manifest.documents)

    @classmethod
    def load(cls, root: Path, version: str | None, expected_model: str | EmbeddingFingerprint) -> LoadedIndex:
        """Raises VersionNotFound, ModelMismatch, or IndexCorrupt when a file of the version
        differs from its manifest's checksums: a rewritten chunks.jsonl or a truncated FAISS
        file is never served."""

        path = versions.resolve(root, version)
        manifest = versions.read_manifest(path)
        check_fingerprint(manifest, expected_model)
        versions.check_files(path, manifest)  # before any file is parsed
        index = read_vector_index(path / versions.INDEX_FILE)
        with open(path / versions.CHUNKS_FILE, encoding="utf-8") as fh:
            chunks = [json.loads(line) for line in fh]
        if index.ntotal != len(chunks):
            raise versions.IndexCorrupt(
                f"index version {path.name} is inconsistent: {index.ntotal} vectors, {len(chunks)} chunks"
            )
        lexical = LexicalIndex.load(path, manifest.lexical, [c["text"] for c in chunks])
        return cls(path, manifest, index, chunks, lexical)

    def search(self, vector: Any, top_k: int, question: str = "", mode: RetrievalMode = "dense") -> list[Hit]:
        """The `top_k` best chunks by `mode`; `vector` (the embedded question) is unused by lexical
        and may be None there, `question` is unused by dense."""
        if mode == "dense":
            ranked = self._dense(vector, top_k)
        elif mode == "lexical":
            ranked = self.lexical.search(question, top_k)
        else:
            depth = max(CANDIDATES, top_k)
            dense = [i for _, i in self._dense(vector, depth)]
            found = self.lexical.search(question, depth)
            lexical = [i for score, i in found if score >= LEXICAL_FLOOR * found[0][0]]
            ranked = reciprocal_rank_fusion([dense, lexical])
        hits = []
        for score, idx in ranked[:top_k]:
            c = self.chunks[idx]
            hits.append(Hit(c["document"], int(c["chunk"]), score, c["text"], c.get("heading")))
        return hits

    def warm_up(self, vector: Any) -> None:
        """One search, so what every query needs is paged in before the server says it is ready."""
        self._dense(vector, 1)

    def _dense(self, vector: Any, k: int) -> list[tuple[float, int]]:
        one_openmp_thread()
        scores, ids = self.index.search(vector, min(k, self.index.ntotal))
        return [(float(s), int(i)) for s, i in zip(scores[0], ids[0], strict=True) if i >= 0]


class Retriever:
    """Embedder + loaded index: one question in, hits and timings out. `mode` is the default of
    queries that name none; the embedder may be None for a retriever that only answers lexical."""

    def __init__(self, embedder: Any, index: LoadedIndex, mode: RetrievalMode = RETRIEVAL_MODE) -> None:
        self.embedder = embedder
        self.index = index
        self.mode: RetrievalMode = mode

    def retrieve(
        self, question: str, top_k: int, mode: RetrievalMode | None = None, vector: Any = None
    ) -> tuple[list[Hit], dict[str, float]]:
        """`vector`: the question's, when the caller encoded it already (the server's batches,
        server/encode_batcher.py); timings then count no encode."""
        mode = mode or self.mode
        t0 = time.perf_counter()
        # lexical ranks by the question's words alone: the embedder is not called
        if vector is None and mode != "lexical":
            vector = self.embedder.encode_query(question)
        t1 = time.perf_counter()
        hits = self.index.search(vector, top_k, question, mode)
        t2 = time.perf_counter()
        return hits, {"embed_ms": (t1 - t0) * 1000, "search_ms": (t2 - t1) * 1000}

"""Loading a published index version and searching it. Everything a query needs is in memory
after `load`, so the query path does no disk I/O."""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from oozo_contract.manifest import EmbeddingFingerprint, Manifest
from oozo_runtime import versions
from oozo_runtime.text import terms

# Hybrid ranking: dense retrieval finds candidates; a small bonus for the question's rare words
# found verbatim in a chunk breaks near-ties that small embedding models get wrong on names,
# codes and numbers ("Project Ochre Heron" vs "Project Indigo Heron").
LEXICAL_WEIGHT = 0.15
CANDIDATES_MIN = 20


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


class LoadedIndex:
    def __init__(self, path: Path, manifest: Manifest, index: Any, chunks: list[dict[str, Any]]) -> None:
        self.path = path
        self.manifest = manifest
        self.index = index
        self.chunks = chunks
        self.chunk_terms = [frozenset(terms(c["text"])) for c in chunks]
        df: Counter[str] = Counter()
        for t in self.chunk_terms:
            df.update(t)
        n = max(len(chunks), 1)
        self.idf = {term: math.log(1 + n / count) for term, count in df.items()}
        self.max_idf = math.log(1 + n)

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
        import faiss

        path = versions.resolve(root, version)
        manifest = versions.read_manifest(path)
        check_fingerprint(manifest, expected_model)
        versions.check_files(path, manifest)  # before any file is parsed
        index = faiss.read_index(str(path / versions.INDEX_FILE))
        with open(path / versions.CHUNKS_FILE, encoding="utf-8") as fh:
            chunks = [json.loads(line) for line in fh]
        if index.ntotal != len(chunks):
            raise versions.IndexCorrupt(
                f"index version {path.name} is inconsistent: {index.ntotal} vectors, {len(chunks)} chunks"
            )
        return cls(path, manifest, index, chunks)

    def search(self, vector: Any, top_k: int, question: str | None = None) -> list[Hit]:
        """Top `top_k` chunks. With the question, the dense candidates are re-ranked by
        cosine + LEXICAL_WEIGHT x (idf-weighted share of the question's words in the chunk)."""
        pool = min(max(top_k * 3, CANDIDATES_MIN) if question else top_k, self.index.ntotal)
        scores, ids = self.index.search(vector, pool)
        ranked = [(float(s), int(i)) for s, i in zip(scores[0], ids[0], strict=True) if i >= 0]
        if question:
            weights = {t: self.idf.get(t, self.max_idf) for t in terms(question)}
            total = sum(weights.values())
            if total > 0:
                ranked = [
                    (
                        s
                        + LEXICAL_WEIGHT
                        * sum(w for t, w in weights.items() if t in self.chunk_terms[i])
                        / total,
                        i,
                    )
                    for s, i in ranked
                ]
                ranked.sort(key=lambda pair: -pair[0])
        hits = []
        for score, idx in ranked[:top_k]:
            c = self.chunks[idx]
            hits.append(Hit(c["document"], int(c["chunk"]), score, c["text"], c.get("heading")))
        return hits


class Retriever:
    """Embedder + loaded index: one question in, hits and timings out."""

    def __init__(self, embedder: Any, index: LoadedIndex) -> None:
        self.embedder = embedder
        self.index = index

    def retrieve(self, question: str, top_k: int) -> tuple[list[Hit], dict[str, float]]:
        t0 = time.perf_counter()
        vector = self.embedder.encode_query(question)
        t1 = time.perf_counter()
        hits = self.index.search(vector, top_k, question)
        t2 = time.perf_counter()
        return hits, {"embed_ms": (t1 - t0) * 1000, "search_ms": (t2 - t1) * 1000}

"""Loading a published index version and searching it. Everything a query needs is in memory
after `load`, so the query path does no disk I/O."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from oozo_runtime import versions


class ModelMismatch(RuntimeError):
    """The version was embedded with another model than the one configured for querying."""


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
    def __init__(
        self, path: Path, manifest: dict[str, Any], index: Any, chunks: list[dict[str, Any]]
    ) -> None:
        self.path = path
        self.manifest = manifest
        self.index = index
        self.chunks = chunks

    @property
    def version(self) -> str:
        return str(self.manifest["version"])

    @property
    def model(self) -> str:
        return str(self.manifest["embedding"]["model"])

    @property
    def document_count(self) -> int:
        return len(self.manifest.get("documents", {}))

    @classmethod
    def load(cls, root: Path, version: str | None, expected_model: str) -> LoadedIndex:
        import faiss

        path = versions.resolve(root, version)
        manifest = versions.read_manifest(path)
        built_with = manifest.get("embedding", {}).get("model")
        if built_with != expected_model:
            raise ModelMismatch(
                f"index version {manifest.get('version')} was built with embedding model {built_with!r}, "
                f"but this server is configured for {expected_model!r}; rebuild the index or set "
                f"OOZO_MODEL={built_with}"
            )
        index = faiss.read_index(str(path / versions.INDEX_FILE))
        with open(path / versions.CHUNKS_FILE, encoding="utf-8") as fh:
            chunks = [json.loads(line) for line in fh]
        if index.ntotal != len(chunks):
            raise RuntimeError(
                f"index version {path.name} is inconsistent: {index.ntotal} vectors, {len(chunks)} chunks"
            )
        return cls(path, manifest, index, chunks)

    def search(self, vector: Any, top_k: int) -> list[Hit]:
        scores, ids = self.index.search(vector, min(top_k, self.index.ntotal))
        hits = []
        for score, idx in zip(scores[0], ids[0], strict=True):
            if idx < 0:
                continue
            c = self.chunks[idx]
            hits.append(Hit(c["document"], int(c["chunk"]), float(score), c["text"], c.get("heading")))
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
        hits = self.index.search(vector, top_k)
        t2 = time.perf_counter()
        return hits, {"embed_ms": (t1 - t0) * 1000, "search_ms": (t2 - t1) * 1000}

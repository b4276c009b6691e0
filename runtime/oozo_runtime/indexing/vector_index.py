"""The FAISS index of a version, built from its vectors, and what its approximation costs.

`build_vector_index(vectors, plan)` is the one place an index is constructed (a build, and a
merge of shards, call it): flat (exact inner product), HNSW (a graph over the full vectors),
HNSW over half-precision vectors (hnswfp16: FAISS IndexHNSWSQ with QT_fp16, no training) or
IVF-PQ (product-quantized codes in inverted lists, trained on a seeded sample of the vectors).
An approximate index is then asked for the top 10 of a seeded sample of the corpus's own vectors
and compared with exact search: recall@10, stored in the manifest and shown in status, so a user
sees what the approximation costs. Flat reports 1.0 without measuring.

Every index here is inner product over normalised vectors (cosine), as the server searches it,
and every type loads through a memory map in the server (retrieval.read_vector_index).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from oozo_runtime.indexing.index_plan import IndexPlan, train_sample_size

RECALL_K = 10
# Questions the recall is measured over: enough for ±0.02 at 0.95, and the exact search they
# need stays a few seconds at a million chunks.
RECALL_QUERIES = 256
# Samples (training and recall questions) are drawn with fixed seeds: the same vectors build the
# same index and report the same recall.
TRAIN_SEED = 18
RECALL_SEED = 1818
# What a serving replica holds per chunk beyond the index: the chunks file is parsed into Python
# dicts (about three times its bytes) and the BM25 index is read whole.
CHUNKS_MEMORY_FACTOR = 3


@dataclass(frozen=True)
class VectorIndexFacts:
    """What `build_vector_index` built: the manifest's index fields before the file is written."""

    type: str
    params: dict[str, int] = field(default_factory=dict)
    recall_at10: float = 1.0
    recall_queries: int = 0


def build_vector_index(vectors: Any, plan: IndexPlan) -> tuple[Any, VectorIndexFacts]:
    """`vectors`: float32 (n, dimension), normalised. Returns the FAISS index and its facts."""
    import faiss
    import numpy as np

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    count, dimension = vectors.shape
    params = plan.params
    index: Any
    if plan.type in ("hnsw", "hnswfp16"):
        if plan.type == "hnsw":
            index = faiss.IndexHNSWFlat(dimension, params["m"], faiss.METRIC_INNER_PRODUCT)
        else:  # IndexHNSWSQ with QT_fp16 (the factory: faiss's type stubs misdeclare its constructor)
            index = faiss.index_factory(dimension, f"HNSW{params['m']},SQfp16", faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = params["efConstruction"]
        index.hnsw.efSearch = params["efSearch"]
        index.add(vectors)
    elif plan.type == "ivfpq":
        quantizer = faiss.IndexFlatIP(dimension)
        index = faiss.IndexIVFPQ(
            quantizer, dimension, params["nlist"], params["m"], params["nbits"], faiss.METRIC_INNER_PRODUCT
        )
        picked = _sample(count, train_sample_size(count, params["nlist"]), TRAIN_SEED)
        index.train(vectors[picked])
        index.add(vectors)
        index.nprobe = params["nprobe"]  # written into the file: the server searches with it
    else:
        index = faiss.IndexFlatIP(dimension)
        index.add(vectors)
        return index, VectorIndexFacts("flat")
    recall, queries = measure_recall(index, vectors)
    return index, VectorIndexFacts(plan.type, dict(params), recall, queries)


def measure_recall(
    index: Any, vectors: Any, k: int = RECALL_K, queries: int = RECALL_QUERIES
) -> tuple[float, int]:
    """Mean share of the exact top k (flat search over `vectors`) that `index` returns, over a
    seeded sample of the vectors themselves as questions; rounded to 4 places."""
    import faiss

    count = vectors.shape[0]
    k = min(k, count)
    asked = vectors[_sample(count, min(queries, count), RECALL_SEED)]
    _, truth = faiss.knn(asked, vectors, k, metric=faiss.METRIC_INNER_PRODUCT)  # exact, no copy
    _, found = index.search(asked, k)
    hits = sum(len(set(t.tolist()) & set(f.tolist())) for t, f in zip(truth, found, strict=True))
    return round(float(hits) / (k * len(asked)), 4), len(asked)


def memory_needed(version_dir: Path, index_file: str, chunks_file: str, lexical_file: str | None) -> int:
    """Bytes a serving replica holds for the version: the index file (mapped pages count against
    the pod's memory once touched), the parsed chunks and the BM25 index. The runtime itself (the
    ONNX model, Python) comes on top: the operator adds its base request."""
    total = (version_dir / index_file).stat().st_size
    total += CHUNKS_MEMORY_FACTOR * (version_dir / chunks_file).stat().st_size
    if lexical_file and (version_dir / lexical_file).is_file():
        total += (version_dir / lexical_file).stat().st_size
    return total


def _sample(count: int, size: int, seed: int) -> Any:
    import numpy as np

    if size >= count:
        return np.arange(count)
    return np.sort(np.random.default_rng(seed).choice(count, size=size, replace=False))

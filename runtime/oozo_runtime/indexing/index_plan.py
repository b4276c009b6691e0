"""Which FAISS index a version gets, and with which parameters: a pure function of the number of
chunks, their dimension and the settings (docs/indexes.md). No FAISS here, so the choice is
table-tested without building anything.

- auto: flat (exact) below `AUTO_FLAT_MAX_CHUNKS`; then the first of HNSW over float32 vectors,
  HNSW over float16 vectors (hnswfp16) whose whole index (vectors and graph, `hnsw_index_bytes`)
  fits `AUTO_MAX_INDEX_BYTES`; IVF-PQ only beyond, whose codes are 16-32x smaller than the vectors
  and whose recall is far lower (docs/indexes.md).
- A parameter the user set is used as given; one left unset is chosen for the corpus's size. A
  set value the corpus cannot support (more IVF lists than vectors, sub-quantizers that do not
  divide the dimension) is an InvalidSettings error that says what to change.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from oozo_contract import defaults as d
from oozo_contract.index_settings import IndexSettings
from oozo_runtime.errors import OozoError

# FAISS's k-means wants at least 39 points per centroid (it warns below); IVF lists and PQ
# centroids are sized so the corpus (or the training sample) always has them.
POINTS_PER_CENTROID = 39
# The training sample of an IVF-PQ index: 64 points per list, at least enough for 256 PQ
# centroids, at most 131,072 (k-means on more buys little and costs minutes on 2 cores).
TRAIN_POINTS_PER_LIST = 64
TRAIN_SAMPLE_MIN = 256 * POINTS_PER_CENTROID
TRAIN_SAMPLE_MAX = 131_072
# IVF-PQ without a set nprobe searches this share of the lists (at least 8): about 0.95 recall@10
# on real embeddings, well under a millisecond per question at a million chunks.
NPROBE_SHARE = 1 / 32
NPROBE_MIN = 8
# Sub-quantizers without a set m: one per 8 dimensions (48 bytes a vector at 384 dimensions).
# Finer ones (4 dimensions) recall more but FAISS trains them 30x slower (140 s against 4 s for
# 20,000 vectors on one core, FAISS 1.15).
DIMS_PER_SUBQUANTIZER = 8
# HNSW's candidate list per query grows with the corpus (64 up to 100k chunks, then more), so
# recall holds as the graph gets deeper.
EF_SEARCH_PER_100K = 32
# FAISS's HNSW graph per chunk: 2m neighbour ids (int32) on the base level, about one level above
# it (m ids with probability 1/m, m/(m-1) expected: ~4 bytes), its level (int32) and its offset
# (int64): 8m + 16 bytes. Measured: 272 bytes a chunk at m 32 (1,000,000 chunks: 1,724.4 MiB of
# HNSW file against 1,464.8 MiB of flat vectors, docs/benchmarks.md).
GRAPH_BYTES_PER_NEIGHBOUR = 8
GRAPH_BYTES_PER_CHUNK = 16
VECTOR_BYTES = {"hnsw": 4, "hnswfp16": 2}


class IndexPlanError(OozoError):
    """Index parameters the corpus cannot be built with (reason InvalidSettings)."""


@dataclass(frozen=True)
class IndexPlan:
    """The index to build: its type and every parameter it is built with (none for flat)."""

    type: d.BuiltIndexType
    params: dict[str, int] = field(default_factory=dict)


def plan_index(settings: IndexSettings, chunks: int, dimension: int) -> IndexPlan:
    """The index `settings` ask for, resolved for `chunks` vectors of `dimension` floats."""
    kind = settings.index_type
    if kind == "auto":
        kind = auto_type(chunks, dimension, settings.index_hnsw_m or d.HNSW_M)
    if kind == "flat":
        return IndexPlan("flat")
    if kind in ("hnsw", "hnswfp16"):
        return IndexPlan(kind, _hnsw_params(settings, chunks))
    return IndexPlan("ivfpq", _ivfpq_params(settings, chunks, dimension))


def auto_type(chunks: int, dimension: int, m: int = d.HNSW_M) -> d.BuiltIndexType:
    """flat below the threshold, then the most precise HNSW whose whole index fits the budget."""
    if chunks < d.AUTO_FLAT_MAX_CHUNKS:
        return "flat"
    if hnsw_index_bytes(chunks, dimension, m, "hnsw") <= d.AUTO_MAX_INDEX_BYTES:
        return "hnsw"
    if hnsw_index_bytes(chunks, dimension, m, "hnswfp16") <= d.AUTO_MAX_INDEX_BYTES:
        return "hnswfp16"
    return "ivfpq"


def hnsw_index_bytes(chunks: int, dimension: int, m: int, kind: str) -> int:
    """The size of an HNSW index (its file, and what a replica maps): `VECTOR_BYTES[kind]` per
    dimension plus the graph's 8m + 16 bytes, per chunk."""
    per_chunk = VECTOR_BYTES[kind] * dimension + GRAPH_BYTES_PER_NEIGHBOUR * m + GRAPH_BYTES_PER_CHUNK
    return chunks * per_chunk


def _hnsw_params(settings: IndexSettings, chunks: int) -> dict[str, int]:
    # The defaults up to 100k chunks are those of every HNSW version built before auto, so such
    # a version is not rebuilt for a parameter it already has.
    ef_search = d.HNSW_EF_SEARCH + EF_SEARCH_PER_100K * max(0, math.ceil(chunks / 100_000) - 1)
    return {
        "m": settings.index_hnsw_m or d.HNSW_M,
        "efConstruction": settings.index_hnsw_ef_construction or d.HNSW_EF_CONSTRUCTION,
        "efSearch": settings.index_hnsw_ef_search or min(ef_search, d.HNSW_EF_MAX),
    }


def _ivfpq_params(settings: IndexSettings, chunks: int, dimension: int) -> dict[str, int]:
    if chunks < 2**d.PQ_NBITS_MIN:
        raise IndexPlanError(
            "InvalidSettings",
            f"ivfpq needs at least {2**d.PQ_NBITS_MIN} chunks to train its quantizer; the corpus has "
            f"{chunks}: use type flat (or auto) for a corpus this small",
        )
    most_lists = max(1, chunks // POINTS_PER_CENTROID)
    nlist = settings.index_ivf_nlist
    if nlist is None:
        # About 4·sqrt(n) lists, a power of two: the usual balance of list scans and list sizes.
        nlist = min(2 ** max(0, round(math.log2(4 * math.sqrt(max(chunks, 1))))), most_lists)
    elif nlist > most_lists:
        raise IndexPlanError(
            "InvalidSettings",
            f"ivfpq nlist {nlist} needs at least {nlist * POINTS_PER_CENTROID} chunks to train "
            f"({POINTS_PER_CENTROID} per list); the corpus has {chunks}: lower nlist or leave it unset",
        )
    nbits = settings.index_pq_nbits
    most_bits = max(d.PQ_NBITS_MIN, int(math.log2(max(chunks // POINTS_PER_CENTROID, 1))))
    if nbits is None:
        nbits = min(8, most_bits)
    elif 2**nbits * POINTS_PER_CENTROID > chunks:
        raise IndexPlanError(
            "InvalidSettings",
            f"ivfpq nbits {nbits} needs at least {2**nbits * POINTS_PER_CENTROID} chunks to train; "
            f"the corpus has {chunks}: lower nbits or leave it unset",
        )
    m = settings.index_pq_m
    if m is None:
        m = _largest_divisor_at_most(dimension, max(1, dimension // DIMS_PER_SUBQUANTIZER))
    elif dimension % m:
        raise IndexPlanError(
            "InvalidSettings",
            f"ivfpq m {m} must divide the embedding dimension {dimension}: try "
            f"{_largest_divisor_at_most(dimension, m)}",
        )
    nprobe = settings.index_ivf_nprobe or max(NPROBE_MIN, round(nlist * NPROBE_SHARE))
    return {"nlist": nlist, "nprobe": min(nprobe, nlist), "m": m, "nbits": nbits}


def train_sample_size(chunks: int, nlist: int) -> int:
    """Vectors the IVF-PQ index is trained on: a seeded sample, bounded (module docstring)."""
    wanted = min(max(TRAIN_POINTS_PER_LIST * nlist, TRAIN_SAMPLE_MIN), TRAIN_SAMPLE_MAX)
    return min(chunks, wanted)


def _largest_divisor_at_most(number: int, limit: int) -> int:
    return max(k for k in range(1, max(limit, 1) + 1) if number % k == 0)

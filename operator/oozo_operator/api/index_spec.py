"""spec.index.hnsw and spec.index.ivfpq: the parameters of the approximate FAISS indexes
(docs/indexes.md). Every field is optional: unset ones are chosen by the build for the corpus's
size, so no default lands in stored objects (nor in the index hash of existing corpora)."""

from __future__ import annotations

from pydantic import Field

from oozo_contract import defaults as d
from oozo_operator.api.base import ApiModel


class Hnsw(ApiModel):
    """A graph over the vectors (float32 for hnsw, float16 for hnswfp16): fast, memory of the
    vectors plus the graph."""

    m: int | None = Field(
        None,
        ge=4,
        le=d.HNSW_M_MAX,
        description=f"Neighbours per node (default {d.HNSW_M}); more: better recall, more memory.",
    )
    ef_construction: int | None = Field(
        None,
        ge=8,
        le=d.HNSW_EF_MAX,
        description=f"Candidate list while building (default {d.HNSW_EF_CONSTRUCTION}).",
    )
    ef_search: int | None = Field(
        None,
        ge=8,
        le=d.HNSW_EF_MAX,
        description=f"Candidate list per query (default {d.HNSW_EF_SEARCH}, 32 more per 100k chunks "
        "past the first); more: better recall, slower queries.",
    )


class IvfPq(ApiModel):
    """Product-quantized codes in inverted lists: the smallest index, for the largest corpora."""

    nlist: int | None = Field(
        None, ge=1, le=d.IVF_NLIST_MAX, description="Clusters (default about 4·sqrt(chunks), a power of two)."
    )
    nprobe: int | None = Field(
        None,
        ge=1,
        le=d.IVF_NPROBE_MAX,
        description="Clusters searched per query (default nlist/32, at least 8).",
    )
    m: int | None = Field(
        None,
        ge=1,
        le=d.PQ_M_MAX,
        description="Sub-quantizers, bytes per vector at nbits 8; must divide the embedding dimension "
        "(default: one per 8 dimensions).",
    )
    nbits: int | None = Field(
        None, ge=d.PQ_NBITS_MIN, le=d.PQ_NBITS_MAX, description="Bits per sub-quantizer code (default 8)."
    )

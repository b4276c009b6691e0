"""spec.index.hnsw and spec.index.ivfpq: the parameters of the approximate FAISS indexes
(docs/indexes.md). Every field is optional: unset ones are chosen by the build for the corpus's
size, so no default lands in stored objects (nor in the index hash of existing corpora).
spec.index.build: how the index Job runs (parallel builds, docs/operator.md)."""

from __future__ import annotations

from pydantic import ConfigDict, Field

from oozo_contract import defaults as d
from oozo_operator.api.base import ApiModel, cel, rules
from oozo_operator.api.fields import S3Location


class BuildStaging(ApiModel):
    """Where the shards of a parallel build leave their results for the merge. Default: a folder
    on the corpus volume, which every shard pod must mount (ReadWriteMany, or ReadWriteOnce with
    every pod on one node)."""

    s3: S3Location = Field(
        description="A bucket and prefix the shard pods upload to: they mount no corpus volume and run "
        "on any number of nodes, and a merge Job NAME-merge-<hash> publishes onto the volume once all are "
        "staged. Each corpus stages under PREFIX/NAMESPACE/NAME/; the merge removes its build's objects, "
        "and other builds' after 24 hours. Only objects of the staging layout Oozo writes are ever deleted."
    )


class IndexBuild(ApiModel):
    """How the index Job runs. Not an index input: the same documents give the same version."""

    model_config = ConfigDict(
        json_schema_extra=rules(
            cel(
                "!has(self.staging) || self.parallelism > 1",
                "staging is only used by a parallel build: set parallelism above 1",
                ".staging",
            ),
        )
    )

    parallelism: int = Field(
        d.INDEX_PARALLELISM,
        ge=1,
        le=d.INDEX_PARALLELISM_MAX,
        description="Pods one build is spread over: an Indexed Job whose pods each embed their shard of "
        "the documents; the last to finish merges and publishes (with staging.s3, a merge Job). 1: one "
        "pod, a plain Job.",
    )
    staging: BuildStaging | None = Field(
        None, description="Where shards stage their results; default a folder on the corpus volume."
    )


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

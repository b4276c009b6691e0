"""Which FAISS index a version gets (index_plan.plan_index): auto picks by size, unset parameters
are chosen for the corpus, set ones are kept, and ones the corpus cannot train are refused with
what to change."""

from __future__ import annotations

from typing import Any

import pytest

from oozo_contract.index_settings import IndexSettings
from oozo_runtime.indexing.index_plan import IndexPlan, IndexPlanError, plan_index, train_sample_size


def settings(**values: Any) -> IndexSettings:
    return IndexSettings(source="/docs", **values)


# The auto rows count the whole HNSW index, vectors and graph (8m + 16 bytes a chunk, 272 at m 32),
# against 2 GiB: before, only the float32 vectors were counted, so auto kept HNSW float32 up to
# 1,398,101 chunks at 384 dimensions, whose index (2.35 GiB) outgrew the budget past 1,187,767;
# and IVF-PQ came next, where now HNSW over float16 vectors does.
@pytest.mark.parametrize(
    ("chunks", "dimension", "expected"),
    [
        (1, 384, "flat"),
        (10_808, 384, "flat"),
        (49_999, 384, "flat"),
        (50_000, 384, "hnsw"),
        (1_000_000, 384, "hnsw"),  # 1,808 bytes a chunk: 1.68 GiB (1,724.4 MiB measured)
        (1_187_767, 384, "hnsw"),  # the last count whose float32 index fits 2 GiB at 384 dimensions
        (1_187_768, 384, "hnswfp16"),
        (1_398_102, 384, "hnswfp16"),  # was ivfpq: the first count past 2 GiB of float32 vectors
        (2_064_888, 384, "hnswfp16"),  # the last whose float16 index (1,040 bytes a chunk) fits
        (2_064_889, 384, "ivfpq"),
        (642_190, 768, "hnsw"),  # 3,344 bytes a chunk at 768 dimensions
        (642_191, 768, "hnswfp16"),
        (1_000_000, 768, "hnswfp16"),  # was ivfpq (2.86 GiB of float32 vectors); 1.68 GiB in float16
        (10_000_000, 384, "ivfpq"),
    ],
)
def test_auto_picks_flat_then_hnsw_then_hnswfp16_then_ivfpq_by_whole_index_size(
    chunks: int, dimension: int, expected: str
) -> None:
    assert plan_index(settings(), chunks, dimension).type == expected


@pytest.mark.parametrize(
    ("chunks", "expected"),
    [
        (50_000, {"m": 32, "efConstruction": 80, "efSearch": 64}),  # HNSW as built before auto
        (100_000, {"m": 32, "efConstruction": 80, "efSearch": 64}),
        (100_001, {"m": 32, "efConstruction": 80, "efSearch": 96}),
        (1_000_000, {"m": 32, "efConstruction": 80, "efSearch": 352}),
    ],
)
def test_hnsw_search_depth_grows_with_the_corpus(chunks: int, expected: dict[str, int]) -> None:
    assert plan_index(settings(index_type="hnsw"), chunks, 384).params == expected


def test_auto_counts_the_graph_of_the_m_the_user_set() -> None:
    # m 64: 1,536 + 528 bytes a chunk, so 1,000,000 float32 chunks (1.92 GiB) still fit, 1,100,000 not
    assert plan_index(settings(index_hnsw_m=64), 1_000_000, 384).type == "hnsw"
    assert plan_index(settings(index_hnsw_m=64), 1_100_000, 384).type == "hnswfp16"
    assert plan_index(settings(index_hnsw_m=16), 1_250_000, 384).type == "hnsw"  # 1,680 bytes a chunk


def test_hnswfp16_takes_the_hnsw_parameters() -> None:
    chosen = settings(index_type="hnswfp16", index_hnsw_m=16)
    assert plan_index(chosen, 1_500_000, 384) == IndexPlan(
        "hnswfp16", {"m": 16, "efConstruction": 80, "efSearch": 512}
    )


def test_set_hnsw_parameters_are_kept() -> None:
    chosen = settings(index_type="hnsw", index_hnsw_m=16, index_hnsw_ef_search=500)
    assert plan_index(chosen, 1_000_000, 384).params == {"m": 16, "efConstruction": 80, "efSearch": 500}


@pytest.mark.parametrize(
    ("chunks", "dimension", "expected"),
    [
        (2_000_000, 384, {"nlist": 4096, "nprobe": 128, "m": 48, "nbits": 8}),
        (1_000_000, 384, {"nlist": 4096, "nprobe": 128, "m": 48, "nbits": 8}),
        (100_000, 768, {"nlist": 1024, "nprobe": 32, "m": 96, "nbits": 8}),
        # small corpora: lists and PQ centroids shrink so each has its 39 training points
        (2_000, 384, {"nlist": 51, "nprobe": 8, "m": 48, "nbits": 5}),
        (90, 384, {"nlist": 2, "nprobe": 2, "m": 48, "nbits": 4}),
        (5_000, 100, {"nlist": 128, "nprobe": 8, "m": 10, "nbits": 7}),
    ],
)
def test_ivfpq_parameters_follow_the_corpus(chunks: int, dimension: int, expected: dict[str, int]) -> None:
    assert plan_index(settings(index_type="ivfpq"), chunks, dimension).params == expected


def test_set_ivfpq_parameters_are_kept_and_nprobe_never_exceeds_nlist() -> None:
    chosen = settings(index_type="ivfpq", index_ivf_nlist=64, index_ivf_nprobe=100, index_pq_m=32)
    assert plan_index(chosen, 100_000, 384).params == {"nlist": 64, "nprobe": 64, "m": 32, "nbits": 8}


@pytest.mark.parametrize(
    ("values", "chunks", "message"),
    [
        ({"index_pq_m": 50}, 100_000, "must divide the embedding dimension 384: try 48"),
        ({"index_ivf_nlist": 4096}, 10_000, "needs at least 159744 chunks"),
        ({"index_pq_nbits": 12}, 10_000, "nbits 12 needs at least 159744 chunks"),
        ({}, 15, "at least 16 chunks"),
    ],
)
def test_ivfpq_settings_the_corpus_cannot_train_are_refused_with_what_to_change(
    values: dict[str, int], chunks: int, message: str
) -> None:
    with pytest.raises(IndexPlanError) as caught:
        plan_index(settings(index_type="ivfpq", **values), chunks, 384)
    assert caught.value.reason == "InvalidSettings" and message in caught.value.message


@pytest.mark.parametrize(
    ("chunks", "nlist", "expected"),
    [(90, 2, 90), (20_000, 32, 9_984), (1_000_000, 1024, 65_536), (10_000_000, 16_384, 131_072)],
)
def test_ivf_training_sample_is_bounded(chunks: int, nlist: int, expected: int) -> None:
    assert train_sample_size(chunks, nlist) == expected

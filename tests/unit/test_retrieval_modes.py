"""Retrieval modes: reciprocal rank fusion, the pure function hybrid retrieval ranks with (each item
scores the sum of 1/(k + rank) over the lists that hold it; ties keep the order items were first seen
in), and the mode setting."""

from __future__ import annotations

import pytest

from oozo_runtime.retrieval import RRF_K, reciprocal_rank_fusion

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("rankings", "order"),
    [
        pytest.param([[1, 2, 3], [1, 2, 3]], [1, 2, 3], id="agreeing lists keep their order"),
        pytest.param(
            [[1, 2, 3], [3, 2, 1]],
            [1, 3, 2],
            id="mirrored lists: the middle loses, a tie goes to the first list",
        ),
        pytest.param([[1, 2, 3, 4], [4, 9]], [4, 1, 2, 9, 3], id="found by both beats first in one"),
        pytest.param([[5, 6], []], [5, 6], id="an empty list changes nothing"),
        pytest.param([[], [7, 8]], [7, 8], id="lexical alone"),
        pytest.param([[], []], [], id="nothing found"),
        pytest.param([[10], [20], [30]], [10, 20, 30], id="three singletons keep list order"),
    ],
)
def test_fusion_orders_by_summed_reciprocal_ranks(rankings: list[list[int]], order: list[int]) -> None:
    assert [item for _, item in reciprocal_rank_fusion(rankings)] == order


def test_fused_scores_are_the_sums_of_one_over_k_plus_rank() -> None:
    fused = dict((item, score) for score, item in reciprocal_rank_fusion([[1, 2], [2, 3]]))
    assert fused[1] == pytest.approx(1 / (RRF_K + 1))
    assert fused[2] == pytest.approx(1 / (RRF_K + 2) + 1 / (RRF_K + 1))
    assert fused[3] == pytest.approx(1 / (RRF_K + 2))
    assert RRF_K == 60


def test_the_highest_fused_score_is_first_in_both_lists() -> None:
    score, item = reciprocal_rank_fusion([[4, 1], [4, 2]])[0]
    assert item == 4 and score == pytest.approx(2 / 61)


def test_a_smaller_k_weights_the_first_ranks_more() -> None:
    # 1 is first in one list; 2 is second in both: k=60 prefers the consensus, k=0 the leader
    rankings = [[1, 2], [3, 2, 4, 5, 1]]
    assert reciprocal_rank_fusion(rankings, k=60)[0][1] == 2
    assert reciprocal_rank_fusion(rankings, k=0)[0][1] == 1


def test_a_bad_retrieval_mode_setting_is_refused_naming_it() -> None:
    from pydantic import ValidationError

    from oozo_contract.serve_settings import ServeSettings

    with pytest.raises(ValidationError, match="retrieval_mode"):
        ServeSettings.model_validate({"retrieval_mode": "semantic"})
    assert ServeSettings().retrieval_mode == "hybrid"

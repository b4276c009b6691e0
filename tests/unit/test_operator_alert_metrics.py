"""The operator metrics the shipped alerts read (issue 17, alerts): one series per corpus
condition and status, when its index last built or refreshed successfully, and the widest gap
of its refresh schedule, which the stale-index alert compares that age with."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from oozo_operator import metrics
from oozo_operator.schedule import widest_gap_seconds

HOUR = 3600


@pytest.mark.parametrize(
    ("schedule", "gap"),
    [
        ("0 * * * *", HOUR),
        ("*/15 * * * *", 15 * 60),
        ("0 */6 * * *", 6 * HOUR),
        ("0 3 * * *", 24 * HOUR),
        ("@daily", 24 * HOUR),
        ("@hourly", HOUR),
        ("@weekly", 7 * 24 * HOUR),
        ("30 4 * * sun", 7 * 24 * HOUR),
        ("0 2 * * 1-5", 3 * 24 * HOUR),  # Friday night to Monday night
        ("0 9,17 * * *", 16 * HOUR),
        ("0 0 1 * *", 31 * 24 * HOUR),
        ("@monthly", 31 * 24 * HOUR),
        ("@yearly", 366 * 24 * HOUR),
    ],
)
def test_the_widest_gap_of_a_refresh_schedule(schedule: str, gap: int) -> None:
    assert widest_gap_seconds(schedule) == gap


@pytest.mark.parametrize("schedule", ["0 * * *", "61 * * * *", "0 0 * * 8", "*/0 * * * *"])
def test_what_is_not_a_schedule_is_refused(schedule: str) -> None:
    with pytest.raises(ValueError):
        widest_gap_seconds(schedule)


def sample(metric: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(metric, labels)


def test_a_corpus_exports_its_conditions_last_success_and_refresh_interval() -> None:
    status = {
        "conditions": [
            {"type": "Ready", "status": "True"},
            {"type": "Stalled", "status": "False"},
            {"type": "BackupSucceeded", "status": "False"},
        ],
        "index": {"builtAt": "2026-01-01T00:00:00Z", "succeededAt": "2026-01-02T00:00:00Z"},
    }
    metrics.observe_corpus("team", "docs", status, "0 * * * *")
    who = {"namespace": "team", "name": "docs"}
    assert sample("oozo_corpus_condition", **who, condition="Ready", status="True") == 1
    assert sample("oozo_corpus_condition", **who, condition="Ready", status="False") == 0
    assert sample("oozo_corpus_condition", **who, condition="BackupSucceeded", status="False") == 1
    assert sample("oozo_index_last_success_timestamp_seconds", **who) == 1767312000  # succeededAt
    assert sample("oozo_refresh_interval_seconds", **who) == HOUR

    # the refresh removed, then the corpus deleted: its series go
    metrics.observe_corpus("team", "docs", {**status, "index": {"builtAt": "2026-01-01T00:00:00Z"}})
    assert sample("oozo_refresh_interval_seconds", **who) is None
    assert sample("oozo_index_last_success_timestamp_seconds", **who) == 1767225600  # builtAt
    metrics.observe_corpus("team", "docs", None)
    assert sample("oozo_corpus_condition", **who, condition="Ready", status="True") is None
    assert sample("oozo_index_last_success_timestamp_seconds", **who) is None


def test_the_ready_gauge_counts_by_the_condition_values_the_alert_matches() -> None:
    """OozoCorpusNotReady matches ready="False"|"Unknown": the values a condition really has."""
    metrics.observe_ready("team", "a", "False")
    metrics.observe_ready("team", "b", "True")
    try:
        assert sample("oozo_corpora", ready="False") == 1
        assert sample("oozo_corpora", ready="false") is None
    finally:
        metrics.observe_ready("team", "a", None)
        metrics.observe_ready("team", "b", None)

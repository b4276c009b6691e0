"""How many server processes a pod runs by default: one per four CPUs of its limit."""

from __future__ import annotations

import pytest

from oozo_contract.serve_settings import ServeSettings
from oozo_runtime.server.workers import worker_count

pytestmark = pytest.mark.unit


def test_one_worker_per_four_cpus_of_the_limit() -> None:
    assert worker_count(ServeSettings(), cpus=1) == 1
    assert worker_count(ServeSettings(), cpus=2) == 1  # one process keeps two cores busy
    assert worker_count(ServeSettings(), cpus=4) == 1
    assert worker_count(ServeSettings(), cpus=5) == 2
    assert worker_count(ServeSettings(), cpus=16) == 4


def test_an_explicit_worker_count_wins() -> None:
    assert worker_count(ServeSettings(server_workers=3), cpus=1) == 3


def test_a_worker_count_out_of_bounds_is_refused() -> None:
    with pytest.raises(ValueError, match="server_workers"):
        ServeSettings(server_workers=0)

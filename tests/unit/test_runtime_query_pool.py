"""The query pool is as wide as the pod's CPU limit (cgroup v2 cpu.max), not the node's cores."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from oozo_contract.serve_settings import ServeSettings
from oozo_runtime.server.state import cpu_limit, default_concurrency

pytestmark = pytest.mark.unit

CPUS = len(os.sched_getaffinity(0))


def limit_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "cpu.max"
    path.write_text(text)
    return path


def test_the_query_pool_is_sized_to_the_cgroup_cpu_limit(tmp_path: Path) -> None:
    assert cpu_limit(limit_file(tmp_path, "100000 100000\n")) == 1
    assert cpu_limit(limit_file(tmp_path, "50000 100000\n")) == 1  # half a core still needs a thread
    assert cpu_limit(limit_file(tmp_path, f"{150000 * CPUS} 100000\n")) == CPUS  # never above affinity


def test_without_a_limit_the_pool_is_the_cpus_the_process_may_use(tmp_path: Path) -> None:
    assert cpu_limit(limit_file(tmp_path, "max 100000\n")) == CPUS
    assert cpu_limit(tmp_path / "absent") == CPUS
    assert cpu_limit(limit_file(tmp_path, "garbage")) == CPUS


def test_an_explicit_query_concurrency_wins() -> None:
    assert default_concurrency(ServeSettings(query_concurrency=7)) == 7

"""Shared pytest wiring: every test gets its tier marker from the folder it lives in (see
tests/tiers.py), and the session's control plane."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.tiers import tier_of

TESTS_ROOT = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        tier = tier_of(Path(str(item.fspath)).resolve(), TESTS_ROOT)
        if tier is not None:
            item.add_marker(getattr(pytest.mark, tier))


@pytest.fixture(scope="session")
def control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """One real control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler,
    kwok) per test session, on loopback; stopped afterwards. A build failure fails loudly."""
    from devcluster.controlplane.plane import ControlPlane

    plane = ControlPlane(tmp_path_factory.mktemp("controlplane"))
    plane.start()
    try:
        yield plane
    finally:
        plane.stop()

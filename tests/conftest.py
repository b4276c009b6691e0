"""Shared pytest wiring: every test gets its tier marker from the folder it lives in, so
`pytest -m unit` and friends select by tier without anyone remembering to decorate."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

TIERS = ("unit", "runtime", "controlplane", "e2e", "s3")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        parts = Path(str(item.fspath)).parts
        for tier in TIERS:
            if tier in parts:
                item.add_marker(getattr(pytest.mark, tier))


@pytest.fixture(scope="session")
def control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """One real control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler,
    kwok) per test session, on loopback; stopped afterwards. A build failure fails loudly."""
    from tests.harness.controlplane import ControlPlane

    plane = ControlPlane(tmp_path_factory.mktemp("controlplane"))
    plane.start()
    try:
        yield plane
    finally:
        plane.stop()

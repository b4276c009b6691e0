"""The e2e tier's target setting (tests/e2e/target.py): local by default, kubeconfig only with a
kubeconfig file, anything else refused with the names it accepts."""

from __future__ import annotations

from pathlib import Path

import pytest

from devcluster.controlplane.plane import LOCAL_SCHEDULING
from tests.e2e.target import InstalledCluster, e2e_target, scheduling


def test_the_e2e_target_is_local_unless_told_and_refuses_unknown_targets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OOZO_E2E_TARGET", raising=False)
    assert e2e_target() == "local"
    assert scheduling() == LOCAL_SCHEDULING  # the local kubelet's node, as the tier always pinned
    monkeypatch.setenv("OOZO_E2E_TARGET", "kubeconfig")
    assert e2e_target() == "kubeconfig"
    monkeypatch.setenv("OOZO_E2E_TARGET", "kind")  # what kind-e2e.sh used to set, and nothing read
    with pytest.raises(ValueError, match="OOZO_E2E_TARGET='kind': expected one of local, kubeconfig"):
        e2e_target()


def test_the_kubeconfig_target_needs_a_kubeconfig_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("KUBECONFIG", raising=False)
    with pytest.raises(ValueError, match="needs KUBECONFIG naming a file, not ''"):
        InstalledCluster.from_env()
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "absent"))
    with pytest.raises(ValueError, match="absent"):
        InstalledCluster.from_env()

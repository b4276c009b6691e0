"""`up` leaves a working plane running after the command exits; `down` stops every process it
started and removes its state."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from devcluster import procs
from devcluster.controlplane.plane import LOCAL_NODE_NAME, ControlPlane


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "devcluster.controlplane", *args],
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    )


def test_up_detaches_and_down_stops_everything(tmp_path: Path) -> None:
    state = tmp_path / "cluster"
    cli("up", "--dir", str(state))
    plane = ControlPlane(state)
    pids = dict(plane.recorded_pids())
    try:
        assert set(pids) == {
            "etcd",
            "kube-apiserver",
            "kube-controller-manager",
            "kube-scheduler",
            "kwok",
            "local-node-heartbeat",
        }
        # The command has exited; the plane, heartbeat included, keeps running without it.
        assert all(procs.owned(pid, str(state)) for pid in pids.values())
        nodes = subprocess.run(
            ["kubectl", "get", "node", LOCAL_NODE_NAME, "-o", "name"],
            env=plane.env(),
            capture_output=True,
            text=True,
            check=True,
        )
        assert nodes.stdout.strip() == f"node/{LOCAL_NODE_NAME}"
    finally:
        cli("down", "--dir", str(state))

    assert not [name for name, pid in pids.items() if procs.alive(pid)]
    assert not state.exists()

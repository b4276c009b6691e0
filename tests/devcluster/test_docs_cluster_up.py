"""docs/development.md's "Running it by hand": `make cluster-up`, the KUBECONFIG export, `kubectl
get nodes` and `make cluster-down`, read from the page and run by bash as one session in the
checkout, unchanged: the plane comes up, answers kubectl, and goes away with its directory."""

from __future__ import annotations

from tests.doc_commands import REPO, documented, shell

CLUSTER_DIR = REPO / ".cluster"


def test_the_development_page_starts_answers_and_stops_the_local_plane() -> None:
    assert not CLUSTER_DIR.exists(), (
        f"{CLUSTER_DIR} exists: a plane started by hand in this checkout; this test would stop it "
        "(make cluster-down stops it)"
    )
    session = [
        documented("docs/development.md", startswith="make cluster-up"),
        documented("docs/development.md", startswith="export KUBECONFIG="),
        documented("docs/development.md", startswith="kubectl get nodes"),
    ]
    down = documented("docs/development.md", startswith="make cluster-down")
    try:
        done = shell("\n".join(session), REPO, timeout=600)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "NAME" in done.stdout or "No resources found" in done.stderr, done.stdout + done.stderr
    finally:
        stopped = shell(down, REPO, timeout=120)
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert not CLUSTER_DIR.exists(), "make cluster-down left .cluster/ behind"

"""Containers tier: Oozo's images built here by `make images`' own script (hack/images/build.sh,
which installs and configures podman, buildah and runc from Debian's packages), and run as real
containers under runc, with the security context the operator renders enforced by the kernel.

Nothing here skips: when podman cannot be installed or run, or an image does not build, the
session's first test fails with podman's own words."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from devcluster.containers.podman import Podman, build_images, ensure_podman
from devcluster.controlplane.plane import ControlPlane
from devcluster.realnode.node import RealNode
from tests.runtime.corpus import SampleCorpus, make_corpus

TAG = os.environ.get("OOZO_IMAGE_TAG", "dev")
SERVER_IMAGE = f"oozo-server:{TAG}"
OPERATOR_IMAGE = f"oozo-operator:{TAG}"
RUNTIME_IMAGE = f"oozo-runtime:{TAG}"  # = oozo-indexer: index, backup, restore
BASE_IMAGE = os.environ.get("OOZO_BASE_IMAGE", "oozo-base:bookworm-py311")
# The images this tier builds and runs: all of `make images`. The indexer (= oozo-runtime: torch
# with PyPI's CUDA libraries, ~6 GB, the one slow build) runs the index, backup and restore Jobs
# in containers (test_e2e_jobs_in_containers.py); docs/benchmarks.md has what it adds to CI.
TIER_IMAGES = "operator server indexer"


@pytest.fixture(scope="session")
def podman(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Podman]:
    try:
        path = ensure_podman()
        build_images(TIER_IMAGES, tmp_path_factory.mktemp("images") / "build.log")
    except Exception as err:  # the tier's precondition: say what failed, never skip
        pytest.fail(f"the containers tier needs podman and Oozo's images: {err}", pytrace=False)
    runner = Podman(path, owner=f"tests-{uuid.uuid4().hex[:8]}")
    yield runner
    runner.remove_all_mine()


@dataclass
class BuiltIndex:
    corpus: SampleCorpus
    folder: Path
    version: str


@pytest.fixture(scope="session")
def host_index(tmp_path_factory: pytest.TempPathFactory) -> BuiltIndex:
    """An index built by the host's `oozo index` (the development venv, the real model), as the
    index Job would write it onto the PVC; readable by the server's non-root user."""
    root = tmp_path_factory.mktemp("containers-index")
    corpus = make_corpus(root / "docs", 6)
    folder = root / "index"
    result_file = root / "result.json"
    command = [
        "index",
        str(corpus.root),
        "--out",
        str(folder),
        "--termination-message-path",
        str(result_file),
    ]
    done = subprocess.run(
        [sys.executable, "-m", "oozo_runtime.cli", *command],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    for path in [folder, *folder.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    root.chmod(0o755)
    return BuiltIndex(corpus, folder, json.loads(result_file.read_text())["version"])


# One real node per host (its lock): module-scoped, so each module that uses it starts its own
# after the previous module's is stopped (test_real_kubelet.py, test_e2e_real_node.py).
@pytest.fixture(scope="module")
def podman_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    """podman with the server image: the tier's session fixture has built it when the whole tier
    runs; alone, this module builds only the server image, and only when podman has none."""
    path = ensure_podman()
    if subprocess.run([path, "image", "exists", SERVER_IMAGE], check=False).returncode != 0:
        build_images("server", tmp_path_factory.mktemp("images") / "build.log")
    return path


@pytest.fixture(scope="module")
def real_node(
    control_plane: ControlPlane, podman_path: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RealNode]:
    node = RealNode(tmp_path_factory.mktemp("realnode"), control_plane)
    node.start()
    try:
        assert node.load_image(podman_path, SERVER_IMAGE)  # a fresh containerd: really imported
        yield node
    finally:
        node.stop()  # raises, listing them, if anything of the node is left

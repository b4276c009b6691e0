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

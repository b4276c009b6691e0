"""A build killed with SIGKILL at any moment leaves the previous version current and loadable,
and no partial version under versions/; the next build removes the leftovers."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from oozo_contract.defaults import DEFAULT_MODEL
from oozo_contract.index_settings import IndexSettings
from oozo_runtime import versions
from oozo_runtime.indexing.build import build
from oozo_runtime.retrieval import LoadedIndex
from tests.runtime.conftest import oozo
from tests.runtime.corpus import make_corpus


def test_kill_9_mid_build_keeps_the_previous_version(tmp_path: Path, embedder: Any) -> None:
    small = make_corpus(tmp_path / "small", 3)
    index_dir = tmp_path / "index"
    first = build(IndexSettings(source=str(small.root), index_dir=index_dir), embedder=embedder)
    big = make_corpus(tmp_path / "big", 120, filler=8)

    proc = subprocess.Popen(
        oozo("index", str(big.root), "--out", str(index_dir), "--batch-size", "8"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    try:
        # wait until the build is embedding (its model is loaded and its tmp dir exists) ...
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and proc.poll() is None:
            if list(index_dir.glob(".tmp-*")) and _embedding_started(proc):
                break
            time.sleep(0.05)
        assert proc.poll() is None, "build finished before it could be killed; make the corpus bigger"
        time.sleep(1.0)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL

    assert versions.current_version(index_dir) == first.version
    assert versions.list_versions(index_dir) == [first.version]
    loaded = LoadedIndex.load(index_dir, None, DEFAULT_MODEL)
    assert loaded.version == first.version and len(loaded.chunks) == first.chunks
    assert versions.verify(versions.resolve(index_dir)) == []
    assert list(index_dir.glob(".tmp-*")), "the killed build's work dir should still be there"

    again = build(IndexSettings(source=str(small.root), index_dir=index_dir), embedder=embedder)
    assert not list(index_dir.glob(".tmp-*"))
    assert again.reused_embeddings == again.chunks


def _embedding_started(proc: subprocess.Popen[bytes]) -> bool:
    """The indexer logs 'loading embedding model' once parsing is done; read stderr lines
    without blocking."""
    import select

    assert proc.stderr is not None
    while select.select([proc.stderr], [], [], 0)[0]:
        line = proc.stderr.readline()
        if not line:
            return False
        if b"loading embedding model" in line:
            return True
    return False

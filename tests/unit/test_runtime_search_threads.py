"""Every thread that searches the FAISS index searches one question with one OpenMP thread: the
count is per thread, and the server's worker threads are not the one that loaded the index."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np
import pytest

from oozo_runtime.lexical import LexicalIndex
from oozo_runtime.retrieval import LoadedIndex

pytestmark = pytest.mark.unit


def test_a_search_from_a_fresh_thread_uses_one_openmp_thread() -> None:
    import faiss

    vectors = np.random.default_rng(3).standard_normal((64, 8)).astype(np.float32)
    flat = faiss.IndexFlatIP(8)
    flat.add(vectors)
    texts = [f"chunk {i}" for i in range(64)]
    chunks = [{"document": "d.txt", "chunk": i, "text": t} for i, t in enumerate(texts)]
    index = LoadedIndex(Path("."), None, flat, chunks, LexicalIndex.build(texts))  # type: ignore[arg-type]
    seen: dict[str, int] = {}

    def worker() -> None:
        seen["before"] = faiss.omp_get_max_threads()
        hits = index.search(vectors[:1], 3, mode="dense")
        seen["after"] = faiss.omp_get_max_threads()
        seen["first"] = hits[0].chunk

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert seen["first"] == 0  # the vector finds itself
    assert seen["after"] == 1
    # the fresh thread started at OpenMP's default: the test would pass vacuously on one core
    if len(os.sched_getaffinity(0)) > 1:
        assert seen["before"] > 1

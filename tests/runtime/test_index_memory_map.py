"""Workers share the index through a memory map: the server maps a version's FAISS file (its
vectors stay in the page cache, shared by every process mapping it) instead of copying it, and
the mapped index answers exactly as the fully read one, for each index type Oozo builds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import faiss
import numpy as np
import pytest

from oozo_contract.defaults import DEFAULT_MODEL
from oozo_runtime import versions
from oozo_runtime.retrieval import LoadedIndex, read_vector_index
from tests.runtime.conftest import Built


def mapped_files() -> set[str]:
    """Paths of the files this process has mapped (/proc/self/maps, the 6th column)."""
    lines = Path("/proc/self/maps").read_text().splitlines()
    return {parts[5] for parts in (line.split(maxsplit=5) for line in lines) if len(parts) == 6}


def question_vectors(built: Built, embedder: Any) -> np.ndarray:
    return np.vstack([embedder.encode_query(f.question) for f in built.corpus.facts])


def hnsw_copy(flat_file: Path, dest: Path) -> Path:
    """The built version's vectors as an HNSW index (spec.index.type: hnsw), written like a build."""
    flat = faiss.read_index(str(flat_file))
    vectors = flat.reconstruct_n(0, flat.ntotal)
    hnsw = faiss.IndexHNSWFlat(flat.d, 32, faiss.METRIC_INNER_PRODUCT)
    hnsw.add(vectors)
    faiss.write_index(hnsw, str(dest))
    return dest


def test_the_server_maps_the_index_file_instead_of_copying_it(built: Built) -> None:
    index = LoadedIndex.load(built.index_dir, None, DEFAULT_MODEL)
    index_file = (index.path / versions.INDEX_FILE).resolve()
    assert str(index_file) in mapped_files()


@pytest.mark.parametrize("index_type", ["flat", "hnsw"])
def test_a_memory_mapped_index_answers_as_the_fully_read_one(
    built: Built, embedder: Any, tmp_path: Path, index_type: str
) -> None:
    flat_file = built.index_dir / versions.CURRENT / versions.INDEX_FILE
    path = flat_file if index_type == "flat" else hnsw_copy(flat_file, tmp_path / "index.faiss")
    mapped = read_vector_index(path)
    assert str(path.resolve()) in mapped_files()
    whole = faiss.read_index(str(path))
    questions = question_vectors(built, embedder)
    k = min(10, whole.ntotal)
    mapped_scores, mapped_ids = mapped.search(questions, k)
    whole_scores, whole_ids = whole.search(questions, k)
    assert mapped.ntotal == whole.ntotal and mapped_ids.shape == (len(questions), k)
    assert (mapped_ids == whole_ids).all()
    assert (mapped_scores == whole_scores).all()

"""Every index type Oozo builds, with real FAISS: built from the vectors by
vector_index.build_vector_index, its recall@10 against exact search measured on a seeded sample
of the corpus's own vectors, loaded through a memory map; and a real corpus through `oozo index`
and `oozo serve` with hnsw and ivfpq."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import faiss
import httpx
import numpy as np
import pytest
from typer.testing import CliRunner

from oozo_contract.index_settings import IndexSettings
from oozo_contract.manifest import Manifest
from oozo_runtime import versions
from oozo_runtime.cli import app
from oozo_runtime.indexing.index_plan import plan_index
from oozo_runtime.indexing.vector_index import build_vector_index, measure_recall
from oozo_runtime.retrieval import read_vector_index
from tests.runtime.conftest import Built
from tests.runtime.test_index_memory_map import mapped_files


def clustered_vectors(count: int = 4000, dimension: int = 64, seed: int = 7) -> np.ndarray:
    """Normalised vectors around 40 centres: like embeddings, neighbours exist."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((40, dimension)).astype(np.float32)
    vectors = centres[rng.integers(0, 40, count)] + 0.6 * rng.standard_normal((count, dimension)).astype(
        np.float32
    )
    faiss.normalize_L2(vectors)
    return vectors


def test_flat_is_exact_and_reports_recall_one_without_measuring() -> None:
    vectors = clustered_vectors()
    index, facts = build_vector_index(vectors, plan_index(IndexSettings(index_type="flat"), len(vectors), 64))
    assert type(index).__name__ == "IndexFlatIP" and index.ntotal == len(vectors)
    assert (facts.type, facts.params, facts.recall_at10, facts.recall_queries) == ("flat", {}, 1.0, 0)


@pytest.mark.parametrize(
    ("index_type", "faiss_class"),
    [("hnsw", "IndexHNSWFlat"), ("hnswfp16", "IndexHNSWSQ"), ("ivfpq", "IndexIVFPQ")],
)
def test_approximate_indexes_report_their_recall_against_exact_search(
    index_type: str, faiss_class: str
) -> None:
    vectors = clustered_vectors()
    plan = plan_index(IndexSettings(index_type=index_type), len(vectors), 64)
    index, facts = build_vector_index(vectors, plan)
    assert type(index).__name__ == faiss_class and index.ntotal == len(vectors)
    assert facts.type == index_type and facts.params == plan.params and facts.recall_queries == 256
    # the reported recall is what the index really returns: measured again here, independently
    rng = np.random.default_rng(99)
    asked = vectors[rng.choice(len(vectors), 300, replace=False)]
    truth = np.argsort(-(asked @ vectors.T), axis=1)[:, :10]
    found = index.search(asked, 10)[1]
    independent = np.mean([len(set(t) & set(f)) / 10 for t, f in zip(truth, found, strict=True)])
    assert abs(facts.recall_at10 - independent) < 0.08, (facts.recall_at10, independent)
    assert 0.3 < facts.recall_at10 <= 1.0
    # seeded: the same vectors give the same recall
    assert build_vector_index(vectors, plan)[1].recall_at10 == facts.recall_at10


def test_ivfpq_recall_rises_with_the_lists_it_searches() -> None:
    vectors = clustered_vectors()
    one = plan_index(
        IndexSettings(index_type="ivfpq", index_ivf_nlist=64, index_ivf_nprobe=1), len(vectors), 64
    )
    every = plan_index(
        IndexSettings(index_type="ivfpq", index_ivf_nlist=64, index_ivf_nprobe=64), len(vectors), 64
    )
    assert build_vector_index(vectors, one)[1].recall_at10 < build_vector_index(vectors, every)[1].recall_at10


def test_an_ivfpq_index_is_memory_mapped_and_answers_as_the_fully_read_one(tmp_path: Path) -> None:
    vectors = clustered_vectors()
    index, _ = build_vector_index(vectors, plan_index(IndexSettings(index_type="ivfpq"), len(vectors), 64))
    path = tmp_path / "index.faiss"
    faiss.write_index(index, str(path))
    mapped, whole = read_vector_index(path), faiss.read_index(str(path))
    assert str(path.resolve()) in mapped_files()
    assert mapped.nprobe == index.nprobe  # the search depth travels in the file
    assert (mapped.search(vectors[:50], 10)[1] == whole.search(vectors[:50], 10)[1]).all()
    assert measure_recall(mapped, vectors) == measure_recall(whole, vectors)


def test_an_hnswfp16_index_keeps_half_the_vector_bytes_is_memory_mapped_and_answers_as_read_whole(
    tmp_path: Path,
) -> None:
    vectors = clustered_vectors()
    files = {}
    for kind in ("hnsw", "hnswfp16"):
        index, facts = build_vector_index(
            vectors, plan_index(IndexSettings(index_type=kind), len(vectors), 64)
        )
        files[kind] = tmp_path / f"{kind}.faiss"
        faiss.write_index(index, str(files[kind]))
    # float16 vectors: 2 bytes a dimension fewer per chunk than float32, the same graph
    saved = files["hnsw"].stat().st_size - files["hnswfp16"].stat().st_size
    assert abs(saved - 2 * 64 * len(vectors)) < 0.01 * files["hnsw"].stat().st_size
    assert facts.recall_at10 >= 0.95  # the half-precision vectors barely move the neighbours
    mapped, whole = read_vector_index(files["hnswfp16"]), faiss.read_index(str(files["hnswfp16"]))
    assert type(mapped).__name__ == "IndexHNSWSQ"
    assert str(files["hnswfp16"].resolve()) in mapped_files()
    assert mapped.hnsw.efSearch == 64  # the search depth travels in the file
    assert (mapped.search(vectors[:50], 10)[1] == whole.search(vectors[:50], 10)[1]).all()


@pytest.mark.parametrize("index_type", ["hnsw", "hnswfp16", "ivfpq"])
def test_a_real_corpus_indexed_and_served_with_an_approximate_index(
    built: Built, serve: Any, tmp_path: Path, index_type: str
) -> None:
    out = tmp_path / "index"
    result = CliRunner().invoke(
        app, ["index", str(built.corpus.root), "--out", str(out), "--index-type", index_type]
    )
    assert result.exit_code == 0, result.output
    reported = json.loads(result.output.strip().splitlines()[-1])
    manifest = Manifest.read(versions.resolve(out))
    assert manifest.index.type == reported["indexType"] == index_type
    assert manifest.index.params and manifest.index.recall_queries
    report = reported["vectorIndex"]
    assert report["type"] == index_type and report["recallAt10"] == manifest.index.recall_at10
    assert 0 < report["recallAt10"] <= 1
    index_file = versions.resolve(out) / versions.INDEX_FILE
    assert report["sizeBytes"] == index_file.stat().st_size == manifest.index.size_bytes
    assert report["memoryBytes"] > report["sizeBytes"]
    # the index file is among the checksums a restore proves (and the manifest's bytes, facts
    # included, are what a backup compares with its copy)
    assert manifest.files and versions.INDEX_FILE in manifest.files

    server = serve(out)
    server.wait_ready()
    fact = built.corpus.facts[10]
    r = httpx.post(server.url + "/api/query", json={"question": fact.question, "mode": "dense"}, timeout=60)
    assert r.status_code == 200, r.text
    assert fact.document in [s["document"] for s in r.json()["sources"][:3]]

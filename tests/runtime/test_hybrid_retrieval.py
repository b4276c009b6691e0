"""Hybrid retrieval on real parts (the bundled English model, FAISS, bm25s, real files): BM25 finds
what the embedding cannot (exact codes, a language the model does not know), lexical mode answers
without the embedder, the BM25 file is checksummed like every file of the version, and versions
built before BM25 still serve with a lexical index built at load."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from devcluster import corpora
from oozo_contract.index_settings import IndexSettings
from oozo_contract.serve_settings import ServeSettings
from oozo_runtime import versions
from oozo_runtime.indexing.build import build
from oozo_runtime.lexical import LEXICAL_FILE
from oozo_runtime.retrieval import LoadedIndex, Retriever
from oozo_runtime.server.app import create_app

MODEL = "sentence-transformers/all-MiniLM-L6-v2"
SYSTEMS = ("pump", "valve", "boiler", "fan", "compressor", "heater", "chiller", "mixer", "conveyor", "press")
# Fault codes made of letters and digits: words the embedding model has never seen as a whole.
CODES = [f"QX{n * 7919 % 9000 + 1000}K" for n in range(1, 41)]


# What every page of the catalogue says around its fault: the code is one word in a hundred.
SAFETY = (
    "Before any work, isolate the unit from mains power and lock out the breaker. Wear gloves and eye "
    "protection. Record the event in the maintenance log with the time, the operator on shift and the "
    "reading shown on the panel. If the fault returns within a day, escalate to the site engineer, who may "
    "order a replacement part from the approved supplier list."
)


def write_fault_catalogue(root: Path) -> dict[str, str]:
    """40 near-identical pages of a fault catalogue, one fault code each: the wording that differs
    between pages is the code (and the machine), so only exact matching tells them apart.
    Returns code → the document that explains it."""
    root.mkdir(parents=True)
    answers = {}
    for n, code in enumerate(CODES):
        system = SYSTEMS[n % len(SYSTEMS)]
        name = f"fault-{n:02d}.md"
        (root / name).write_text(
            f"# Fault report\n\n{SAFETY} The {system} controller reports fault {code} when the sensor "
            "reading drifts outside its calibrated band for longer than the grace period. Reset the "
            f"{system} controller, check the sensor wiring and recalibrate before returning it to "
            f"service. {SAFETY}\n",
            encoding="utf-8",
        )
        answers[code] = name
    return answers


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory: pytest.TempPathFactory, embedder: Any) -> tuple[Path, dict[str, str]]:
    root = tmp_path_factory.mktemp("faults")
    answers = write_fault_catalogue(root / "docs")
    build(IndexSettings(source=str(root / "docs"), index_dir=root / "index"), embedder=embedder)
    return root / "index", answers


def hits_at(retriever: Retriever, question: str, mode: str, k: int = 5) -> list[str]:
    found, _ = retriever.retrieve(question, k, mode)  # type: ignore[arg-type]
    return [h.document for h in found]


def test_hybrid_finds_an_exact_fault_code_that_dense_alone_misses(
    catalogue: tuple[Path, dict[str, str]], embedder: Any
) -> None:
    index_dir, answers = catalogue
    retriever = Retriever(embedder, LoadedIndex.load(index_dir, None, MODEL))
    dense_misses, hybrid_misses = [], []
    for code, document in answers.items():
        question = f"What should I do about fault {code}?"
        if document not in hits_at(retriever, question, "dense"):
            dense_misses.append(code)
        if document != hits_at(retriever, question, "hybrid")[0]:
            hybrid_misses.append(code)
    assert not hybrid_misses, hybrid_misses  # first, every time
    assert len(dense_misses) >= len(answers) // 4, dense_misses  # the embedding cannot tell codes apart


def test_lexical_mode_answers_without_an_embedder(catalogue: tuple[Path, dict[str, str]]) -> None:
    index_dir, answers = catalogue
    retriever = Retriever(None, LoadedIndex.load(index_dir, None, MODEL), "lexical")  # no model at all
    code, document = next(iter(answers.items()))
    found, timings = retriever.retrieve(f"fault {code}", 3)
    assert found[0].document == document
    assert found[0].score > found[1].score > 0  # BM25 scores, best first
    assert timings["embed_ms"] < 1.0


def test_the_response_names_the_mode_and_its_scores(
    catalogue: tuple[Path, dict[str, str]], embedder: Any
) -> None:
    index_dir, answers = catalogue
    retriever = Retriever(embedder, LoadedIndex.load(index_dir, None, MODEL))
    code, document = next(iter(answers.items()))
    app = create_app(ServeSettings(index_dir=index_dir, retrieval_mode="dense"), retriever=retriever)
    with TestClient(app) as client:
        by_mode = {}
        for mode in (None, "dense", "lexical", "hybrid"):
            body = {"question": f"fault {code}", "top_k": 3} | ({"mode": mode} if mode else {})
            response = client.post("/api/query", json=body)
            assert response.status_code == 200, response.text
            by_mode[mode] = response.json()
        info = client.get("/api/info").json()
    assert by_mode[None]["mode"] == "dense"  # the server's configured mode, not the built-in default
    assert {m: by_mode[m]["mode"] for m in ("dense", "lexical", "hybrid")} == {
        "dense": "dense",
        "lexical": "lexical",
        "hybrid": "hybrid",
    }
    assert all(-1 <= s["score"] <= 1.0001 for s in by_mode["dense"]["sources"])  # cosines
    assert by_mode["lexical"]["sources"][0]["score"] > 1  # a BM25 score, not a cosine
    assert all(0 < s["score"] <= 2 / 61 for s in by_mode["hybrid"]["sources"])  # fused ranks
    assert by_mode["hybrid"]["sources"][0]["document"] == document
    assert info["retrieval_mode"] == "dense" and info["lexical_index"] == "stored"


def test_the_bm25_file_is_checksummed_and_a_tampered_one_is_refused(
    catalogue: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    index_dir = Path(shutil.copytree(catalogue[0], tmp_path / "index", symlinks=True))
    version = versions.resolve(index_dir)
    manifest = versions.read_manifest(version)
    assert manifest.lexical is not None and manifest.lexical.file == LEXICAL_FILE
    assert LEXICAL_FILE in manifest.files and LEXICAL_FILE in manifest.file_checksums.xxh3_128  # type: ignore[union-attr]
    data = bytearray((version / LEXICAL_FILE).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (version / LEXICAL_FILE).write_bytes(bytes(data))
    with pytest.raises(versions.IndexCorrupt, match=LEXICAL_FILE.replace(".", r"\.")):
        LoadedIndex.load(index_dir, None, MODEL)


def test_a_version_from_before_bm25_still_serves_hybrid(
    catalogue: tuple[Path, dict[str, str]], embedder: Any, tmp_path: Path
) -> None:
    """What an older Oozo wrote: no BM25 file, no `lexical` in the manifest, checksums of the
    other files only. The server builds the BM25 index from the chunks at load."""
    index_dir = Path(shutil.copytree(catalogue[0], tmp_path / "index", symlinks=True))
    version = versions.resolve(index_dir)
    (version / LEXICAL_FILE).unlink()
    manifest = json.loads((version / versions.MANIFEST).read_text())
    del manifest["lexical"]
    (version / versions.MANIFEST).write_text(json.dumps(manifest))
    versions.write_manifest(version, versions.read_manifest(version))  # checksums of what is left
    assert LEXICAL_FILE not in versions.read_manifest(version).files

    index = LoadedIndex.load(index_dir, None, MODEL)
    assert not index.lexical.stored
    code, document = list(catalogue[1].items())[7]
    assert hits_at(Retriever(embedder, index), f"fault {code}", "hybrid")[0] == document
    app = create_app(ServeSettings(index_dir=index_dir), retriever=Retriever(embedder, index))
    with TestClient(app) as client:
        assert client.get("/api/info").json()["lexical_index"] == "built at load"


@pytest.fixture(scope="module")
def russian_index(tmp_path_factory: pytest.TempPathFactory, embedder: Any) -> Path:
    root = tmp_path_factory.mktemp("manpages-ru")
    corpora.copy_heads(corpora.manpages_ru(), root / "docs")
    build(
        IndexSettings(source=str(root / "docs"), index_dir=root / "index", include=["*.txt"]),
        embedder=embedder,
    )
    return root / "index"


def test_russian_pages_with_the_english_model_rank_better_hybrid_than_dense(
    russian_index: Path, embedder: Any
) -> None:
    """The English model embeds Russian poorly; BM25 over Unicode words carries the ranking."""
    retriever = Retriever(embedder, LoadedIndex.load(russian_index, None, MODEL))
    found = {
        mode: sum(bool(q.documents & set(hits_at(retriever, q.text, mode))) for q in corpora.QUESTIONS_RU)
        / len(corpora.QUESTIONS_RU)
        for mode in ("dense", "lexical", "hybrid")
    }
    assert found["hybrid"] > found["dense"], found
    assert found["hybrid"] >= 0.7, found

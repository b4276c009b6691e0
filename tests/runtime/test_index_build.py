"""`oozo index` on a folder of real .docx files: counts, skipped documents with reasons, the
manifest, the termination message, incremental rebuilds and failures that publish nothing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from oozo_contract.defaults import DEFAULT_MODEL
from oozo_contract.index_settings import IndexSettings
from oozo_runtime import versions
from oozo_runtime.cli import app
from oozo_runtime.indexing.build import BuildError, build
from oozo_runtime.indexing.parsing import Block
from tests.runtime.conftest import Built
from tests.runtime.corpus import department_doc, heading, make_corpus, make_docx, para


def test_counts_and_skipped_reasons(built: Built) -> None:
    r = built.result
    assert r.documents == len(built.corpus.documents) == 30
    assert r.skipped_documents == 3
    reasons = {s.document: s.reason for s in r.skipped}
    for name, fragment in built.corpus.bad.items():
        assert fragment in reasons[name], reasons
    assert r.chunks >= r.documents
    assert r.embedding_model == DEFAULT_MODEL and r.dimensions == 384
    assert r.reused_embeddings == 0 and r.size_bytes > 0 and r.build_seconds > 0
    assert versions.VERSION_RE.match(r.version) and len(r.version) <= 63
    assert r.built_at.endswith("Z")


def test_manifest_describes_the_version(built: Built) -> None:
    path = versions.resolve(built.index_dir)
    assert path.name == built.result.version
    m = versions.read_manifest(path).model_dump(mode="json", by_alias=True)
    # the ONNX query graph (tests/runtime/test_onnx_encoder.py): recorded, no export error
    onnx, onnx_error = m["embedding"].pop("onnx"), m["embedding"].pop("onnxError")
    assert onnx_error is None and onnx["opset"] >= 14 and onnx["folder"].startswith("onnx/")
    assert m["embedding"] == {
        "model": DEFAULT_MODEL,
        "dimension": 384,
        "normalized": True,
        "metric": "inner_product",
        "queryPrefix": "",
        "passagePrefix": "",
    }
    # the token budget is the model's max_seq_length (tests/runtime/test_token_chunking.py)
    assert m["chunking"] == {"size": 1000, "overlap": 200, "maxTokens": 256}
    assert set(m["documents"]) == set(built.corpus.documents)
    assert all(len(h) == 64 for h in m["documents"].values())
    assert m["counts"] == {"documents": 30, "chunks": built.result.chunks, "chunksTruncated": 0}
    assert versions.verify(path) == []


def test_chunks_keep_document_ordinal_heading_and_table_rows(built: Built) -> None:
    path = versions.resolve(built.index_dir)
    chunks = [json.loads(line) for line in (path / versions.CHUNKS_FILE).read_text().splitlines()]
    first = [c for c in chunks if c["document"] == "dept/000.docx"]
    assert [c["chunk"] for c in first] == list(range(len(first)))
    assert first[0]["heading"] == "Project Crimson Otter handbook"
    joined = "\n".join(c["text"] for c in first)
    assert "Year | Budget\n2025 | 1000 euros" in joined
    assert joined.index("Budget\n\nYear | Budget") < joined.index("approved by the finance committee")


def test_incremental_rebuild_embeds_only_the_changed_document(
    built: Built, embedder: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from oozo_runtime.indexing.isolation import IsolatedParser

    parsed: list[str] = []
    real_parse = IsolatedParser.parse

    def recording_parse(self: IsolatedParser, p: Path) -> list[Block]:
        parsed.append(p.name)
        return real_parse(self, p)

    monkeypatch.setattr(IsolatedParser, "parse", recording_parse)
    source = tmp_path / "docs"
    shutil.copytree(built.corpus.root, source)
    index_dir = tmp_path / "index"
    shutil.copytree(built.index_dir, index_dir, symlinks=True)
    parts, _ = department_doc(7)
    make_docx(source / "dept/007.docx", *parts, para("A brand new paragraph about the summer party."))
    result = build(IndexSettings(source=str(source), index_dir=index_dir), embedder=embedder)
    # unchanged documents (same sha256) reuse their chunks; only the changed one and the
    # three unusable ones are parsed again
    assert sorted(parsed) == sorted(["007.docx", "corrupt.docx", "empty.docx", "fake.docx"])
    path = versions.resolve(index_dir)
    changed = [
        json.loads(line)
        for line in (path / versions.CHUNKS_FILE).read_text().splitlines()
        if '"dept/007.docx"' in line
    ]
    assert result.chunks - result.reused_embeddings <= len(changed)
    assert result.reused_embeddings >= result.chunks - len(changed)
    assert result.reused_embeddings > 0.9 * result.chunks
    assert result.version != built.result.version
    assert versions.list_versions(index_dir) == sorted([built.result.version, result.version])
    # an unchanged rebuild reuses everything, and does not even load the model
    again = build(IndexSettings(source=str(source), index_dir=index_dir))
    assert again.reused_embeddings == again.chunks == result.chunks


def test_no_usable_document_fails_and_publishes_nothing(tmp_path: Path, embedder: Any) -> None:
    source = tmp_path / "docs"
    source.mkdir()
    (source / "empty.docx").write_bytes(b"")
    with pytest.raises(BuildError, match="no usable document") as exc:
        build(IndexSettings(source=str(source), index_dir=tmp_path / "idx"), embedder=embedder)
    assert exc.value.reason == "NoDocuments"
    assert versions.list_versions(tmp_path / "idx") == []
    assert not list((tmp_path / "idx").glob(".tmp-*"))


def test_cli_prints_json_and_writes_the_termination_message(tmp_path: Path) -> None:
    source = tmp_path / "docs"
    make_docx(source / "a.docx", heading("Parking"), para("The garage opens at six."))
    (source / "b.md").write_text("# Lunch\n\nThe canteen serves lunch from noon.\n")
    term = tmp_path / "termination-log"
    result = CliRunner().invoke(
        app, ["index", str(source), "--out", str(tmp_path / "idx"), "--termination-message-path", str(term)]
    )
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout.strip().splitlines()[-1])
    assert printed == json.loads(term.read_text())
    assert printed["documents"] == 2


def test_cli_failure_writes_reason(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    term = tmp_path / "termination-log"
    result = CliRunner().invoke(
        app,
        [
            "index",
            str(tmp_path / "docs"),
            "--out",
            str(tmp_path / "i"),
            "--termination-message-path",
            str(term),
        ],
    )
    assert result.exit_code != 0
    assert json.loads(term.read_text())["reason"] == "NoDocuments"


def test_cli_invalid_settings(tmp_path: Path) -> None:
    make_corpus(tmp_path / "docs", 1)
    term = tmp_path / "termination-log"
    result = CliRunner(env={"OOZO_TERMINATION_MESSAGE_PATH": str(term)}).invoke(
        app,
        [
            "index",
            str(tmp_path / "docs"),
            "--out",
            str(tmp_path / "i"),
            "--chunk-size",
            "300",
            "--chunk-overlap",
            "300",
        ],
    )
    assert result.exit_code == 2
    data = json.loads(term.read_text())
    assert data["reason"] == "InvalidSettings" and "chunk_overlap" in data["error"]


def test_hnsw_index_type_is_built_and_searchable(built: Built, embedder: Any, tmp_path: Path) -> None:
    from oozo_runtime.retrieval import LoadedIndex, Retriever

    settings = IndexSettings(source=str(built.corpus.root), index_dir=tmp_path / "idx", index_type="hnsw")
    result = build(settings, embedder=embedder)
    assert result.index_type == "hnsw"
    index = LoadedIndex.load(tmp_path / "idx", None, DEFAULT_MODEL)
    assert type(index.index).__name__ == "IndexHNSWFlat"
    fact = built.corpus.facts[10]
    hits, _ = Retriever(embedder, index).retrieve(fact.question, 3)
    assert hits[0].document == fact.document

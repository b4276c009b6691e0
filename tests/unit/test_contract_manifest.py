"""The index manifest: manifests written before the Manifest model existed still load, and a
manifest read and written again comes out byte for byte the same (a backup compares those bytes
with its copy in S3)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from oozo_contract.manifest import Manifest

TODAYS_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
# Exactly what build.py wrote before the model (formatVersion 1), through versions.write_manifest.
TODAYS: dict[str, Any] = {
    "formatVersion": 1,
    "version": "20260101t000000z-1a2b3c4d",
    "builtAt": "2026-01-01T00:00:00Z",
    "embedding": {
        "model": TODAYS_MODEL,
        "dimension": 384,
        "normalized": True,
        "metric": "inner_product",
        "queryPrefix": "",
        "passagePrefix": "",
    },
    "chunking": {"size": 1000, "overlap": 200},
    "index": {"type": "hnsw", "file": "index.faiss"},
    "documents": {"a.md": "a" * 64, "dept/b.docx": "b" * 64},
    "skipped": [{"document": "broken.docx", "reason": "not a zip file"}],
    "counts": {"documents": 2, "chunks": 7},
    "files": {"chunks.jsonl": "c" * 64, "index.faiss": "d" * 64},
    "fileChecksums": {"xxh3_128": {"chunks.jsonl": "e" * 32, "index.faiss": "f" * 32}},
}


def test_todays_manifest_loads_and_writes_back_byte_for_byte(tmp_path: Path) -> None:
    text = json.dumps(TODAYS, indent=2, sort_keys=True) + "\n"
    (tmp_path / "manifest.json").write_text(text)
    m = Manifest.read(tmp_path)
    assert (m.format_version, m.version, m.model, m.dimension) == (
        1,
        TODAYS["version"],
        TODAYS["embedding"]["model"],
        384,
    )
    assert m.chunking is not None and (m.chunking.size, m.chunking.overlap) == (1000, 200)
    assert m.index.type == "hnsw" and m.counts is not None and m.counts.chunks == 7
    assert m.skipped[0].document == "broken.docx" and m.documents["a.md"] == "a" * 64
    out = tmp_path / "again"
    out.mkdir()
    m.write(out)
    assert (out / "manifest.json").read_text() == text


def test_older_and_hand_made_manifests_load() -> None:
    m = Manifest.parse(json.dumps({"version": "v1", "files": {"index.faiss": {"sha256": "d" * 64}}}))
    assert m.format_version == 1 and m.files == {"index.faiss": "d" * 64}
    assert m.model is None and m.file_checksums is None


@pytest.mark.parametrize("text", ["not json", "[]", json.dumps({"embedding": {"model": "m"}})])
def test_what_is_not_a_manifest_is_refused(text: str) -> None:
    with pytest.raises(ValidationError):
        Manifest.parse(text)


def test_a_manifest_from_a_newer_format_is_refused() -> None:
    with pytest.raises(ValidationError, match="newer"):
        Manifest.parse(json.dumps({**TODAYS, "formatVersion": 2}))


def test_the_onnx_query_graph_is_an_optional_field_that_round_trips(tmp_path: Path) -> None:
    """Manifests from before the ONNX encoder have none (the server then uses torch); a build's
    record of its graph (folder, per-file xxh3_128, opset, model revision) is written back as read."""
    assert Manifest.parse(json.dumps(TODAYS)).embedding.onnx is None  # type: ignore[union-attr]
    graph = {
        "folder": "onnx/sentence-transformers-all-minilm-l6-v2-0123456789abcdef",
        "files": {"model.onnx": "1" * 32, "tokenizer.json": "2" * 32, "encoder.json": "3" * 32},
        "opset": 17,
        "modelRevision": "0123456789abcdef" * 2,
        "exporter": "torch.onnx 2.5.1",
    }
    data = {**TODAYS, "embedding": {**TODAYS["embedding"], "onnx": graph}}
    text = json.dumps(data, indent=2, sort_keys=True) + "\n"
    m = Manifest.parse(text)
    assert m.embedding is not None and m.embedding.onnx is not None and m.embedding.onnx.opset == 17
    m.write(tmp_path)
    assert (tmp_path / "manifest.json").read_text() == text

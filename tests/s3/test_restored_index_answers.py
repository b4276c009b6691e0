"""Disaster recovery, end to end: a real index built by `oozo index` (real .docx files, the real
embedding model, FAISS), backed up to MinIO and restored elsewhere, answers every question with
the same answer and the same sources as the original."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from devcluster.s3server import S3Server
from tests.runtime.corpus import make_corpus
from tests.s3.conftest import tree
from tests.s3.helpers import backup, oozo, restore

OFFLINE = {"HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


def ask(index_dir: Path, embedder: Any, question: str) -> dict[str, Any]:
    from oozo_contract.defaults import DEFAULT_MODEL
    from oozo_runtime.answers import extractive_answer
    from oozo_runtime.retrieval import LoadedIndex, Retriever

    index = LoadedIndex.load(index_dir, None, DEFAULT_MODEL)
    hits, _ = Retriever(embedder, index).retrieve(question, 5)
    return {"answer": extractive_answer(question, hits), "sources": [h.as_dict() for h in hits]}


def test_a_restored_index_answers_like_the_original(s3_server: S3Server, bucket: str, tmp_path: Path) -> None:
    pytest.importorskip("faiss")
    corpus = make_corpus(tmp_path / "docs", 8)
    original, restored = tmp_path / "original", tmp_path / "restored"
    built = oozo("index", str(corpus.root), "--out", str(original), env=OFFLINE)
    assert built.code == 0, built.stderr
    version = built.result["version"]

    made = backup(s3_server, original, f"s3://{bucket}/handbook")
    assert made.code == 0, made.stderr
    assert made.result["version"] == version
    got = restore(s3_server, restored, f"s3://{bucket}/handbook@latest")
    assert got.code == 0, got.stderr
    assert os.readlink(restored / "current") == f"versions/{version}"
    assert tree(restored / "current") == tree(original / "current")
    assert not (restored / "cache").exists()  # the embedding cache is not part of a backup

    os.environ.update(OFFLINE)
    from oozo_runtime.embedding import Embedder

    embedder = Embedder()
    assert corpus.facts
    for fact in corpus.facts:
        before, after = ask(original, embedder, fact.question), ask(restored, embedder, fact.question)
        assert after == before
        assert fact.document in [s["document"] for s in after["sources"]]


def test_a_restore_onto_a_fresh_volume_brings_back_the_onnx_query_graph(
    s3_server: S3Server, bucket: str, tmp_path: Path
) -> None:
    """The graph lives beside the versions, not in the backup: without it the torch-free server
    image could not serve a restored corpus. The restore exports it again, byte for byte."""
    from oozo_contract.defaults import DEFAULT_MODEL
    from oozo_runtime.backup.layout import load_manifest
    from oozo_runtime.onnx_encoder import check_graph, choose_query_encoder

    corpus = make_corpus(tmp_path / "docs", 3)
    original, restored = tmp_path / "original", tmp_path / "restored"
    built = oozo("index", str(corpus.root), "--out", str(original), env=OFFLINE)
    assert built.code == 0, built.stderr
    made = backup(s3_server, original, f"s3://{bucket}/handbook")
    assert made.code == 0, made.stderr
    got = restore(s3_server, restored, f"s3://{bucket}/handbook@latest")
    assert got.code == 0, got.stderr

    manifest = load_manifest(restored / "current" / "manifest.json")
    info = manifest.embedding.onnx if manifest.embedding else None
    assert info is not None, "the built version records its graph"
    folder = check_graph(restored, info)
    assert tree(folder) == tree(original / info.folder)
    chosen = choose_query_encoder(restored, manifest, DEFAULT_MODEL, None)
    assert (chosen.backend, chosen.reason) == ("onnx", "")

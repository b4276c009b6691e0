"""The torch-free query encoder: the index build exports the model to ONNX once per model
revision, the ONNX vectors are the torch vectors, `oozo serve` encodes with ONNX Runtime without
ever importing torch, and a version without a usable graph is still served, by torch, saying so."""

from __future__ import annotations

import itertools
import json
import re
import shutil
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from oozo_contract.defaults import DEFAULT_MODEL
from oozo_contract.index_settings import IndexSettings
from oozo_contract.manifest import Manifest
from oozo_runtime import versions
from oozo_runtime.indexing.build import build
from oozo_runtime.onnx_encoder import OnnxEncoder, check_graph, choose_query_encoder
from tests.runtime.conftest import Built, copy_index


def real_texts(built: Built) -> list[str]:
    """Chunks of the built corpus, each of their sentences, pairs of chunks (longer than the
    model's 256 tokens, so truncation is compared too) and the corpus's questions."""
    with open(built.index_dir / versions.CURRENT / versions.CHUNKS_FILE, encoding="utf-8") as fh:
        chunks = [json.loads(line)["text"] for line in fh]
    sentences = sorted({s.strip() for c in chunks for s in re.split(r"(?<=[.?!])\s+|\n+", c) if s.strip()})
    pairs = [a + "\n" + b for a, b in itertools.pairwise(chunks)]
    questions = [f.question for f in built.corpus.facts]
    return chunks + sentences + pairs + questions


def graph_folder(built: Built) -> Path:
    """The ONNX graph folder the built version records, its files checked against the manifest."""
    manifest = versions.read_manifest(built.index_dir / versions.CURRENT)
    assert manifest.embedding is not None and manifest.embedding.onnx is not None, manifest.embedding
    return check_graph(built.index_dir, manifest.embedding.onnx)


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return np.asarray((a * b).sum(axis=1))


def test_onnx_vectors_agree_with_torch_on_hundreds_of_real_chunks_and_questions(
    built: Built, embedder: Any
) -> None:
    onnx = OnnxEncoder(graph_folder(built))
    texts = real_texts(built)
    assert len(texts) >= 300, len(texts)

    agreement = cosines(onnx.encode_passages(texts), embedder.encode_passages(texts))
    assert agreement.min() >= 0.9999, (agreement.min(), texts[int(agreement.argmin())][:80])
    # a query alone (no padding, the query prefix) as the server encodes it
    for fact in built.corpus.facts[:40]:
        (q,) = cosines(onnx.encode_query(fact.question), embedder.encode_query(fact.question))
        assert q >= 0.9999, (q, fact.question)
    assert np.allclose(np.linalg.norm(onnx.encode_query("leave days"), axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize(
    ("threads", "spin_us", "allow_spinning", "spin_duration_us"),
    [
        (1, None, "", ""),  # ONNX Runtime's defaults: the index Job's checks, the benchmarks' floor
        (2, None, "", ""),
        (2, 0, "0", ""),  # sleeps at once
        (2, 10, "", "10"),  # the server's encoder (server/state.py ENCODER_SPIN_US)
    ],
)
def test_the_encoder_threads_spin_as_long_as_asked_and_the_vectors_stay_the_same(
    built: Built, threads: int, spin_us: int | None, allow_spinning: str, spin_duration_us: str
) -> None:
    folder = graph_folder(built)
    encoder = OnnxEncoder(folder, threads=threads, spin_us=spin_us)
    options = encoder.session.get_session_options()
    assert options.intra_op_num_threads == threads

    def entry(key: str) -> str:  # "" for a key the encoder did not set
        try:
            return str(options.get_session_config_entry(key))
        except RuntimeError:  # ONNX Runtime raises for a key nobody set
            return ""

    assert entry("session.intra_op.allow_spinning") == allow_spinning
    assert entry("session.intra_op.spin_duration_us") == spin_duration_us

    questions = [f.question for f in built.corpus.facts[:8]]
    reference = OnnxEncoder(folder).encode_queries(questions)
    assert cosines(encoder.encode_queries(questions), reference).min() >= 0.99999


def test_the_build_records_the_graph_and_exports_once_per_model_revision(
    built: Built, embedder: Any, tmp_path: Path
) -> None:
    index_dir = copy_index(built, tmp_path / "index")
    before = versions.read_manifest(index_dir / versions.CURRENT)
    assert before.embedding is not None and before.embedding.onnx is not None
    info = before.embedding.onnx
    assert info.opset >= 14 and info.model_revision and set(info.files) >= {"model.onnx", "tokenizer.json"}
    graph = index_dir / info.folder / "model.onnx"
    inode, mtime = graph.stat().st_ino, graph.stat().st_mtime_ns

    # a foreign folder in onnx/ is not ours to delete; a stale graph folder of ours is pruned
    (index_dir / "onnx" / "notes").mkdir()
    stale = index_dir / "onnx" / "some-model-0123456789abcdef"
    stale.mkdir()

    source = Path(shutil.copytree(built.corpus.root, tmp_path / "docs"))
    (source / "extra.docx").write_bytes((source / "dept/000.docx").read_bytes())
    result = build(IndexSettings(source=str(source), index_dir=index_dir), embedder=embedder)
    assert not result.unchanged
    after = versions.read_manifest(index_dir / versions.VERSIONS / result.version)
    assert after.embedding is not None and after.embedding.onnx == info  # the same graph, not a new one
    assert (graph.stat().st_ino, graph.stat().st_mtime_ns) == (inode, mtime)
    assert (index_dir / "onnx" / "notes").is_dir() and not stale.exists()


def test_a_version_from_before_onnx_graphs_gets_one_on_the_next_build(
    built: Built, embedder: Any, tmp_path: Path
) -> None:
    index_dir = copy_index(built, tmp_path / "index")
    current = index_dir / versions.CURRENT
    strip_graph(current)
    result = build(IndexSettings(source=str(built.corpus.root), index_dir=index_dir), embedder=embedder)
    assert not result.unchanged  # same documents, but the old version had no graph to serve with
    fresh = versions.read_manifest(index_dir / versions.VERSIONS / result.version)
    assert fresh.embedding is not None and fresh.embedding.onnx is not None
    again = build(IndexSettings(source=str(built.corpus.root), index_dir=index_dir), embedder=embedder)
    assert again.unchanged and again.version == result.version


def strip_graph(version_dir: Path) -> None:
    """Rewrite a manifest as Oozo wrote it before ONNX graphs (no `onnx` in `embedding`)."""
    manifest = versions.read_manifest(version_dir)
    assert manifest.embedding is not None
    old = manifest.model_copy(update={"embedding": manifest.embedding.model_copy(update={"onnx": None})})
    (version_dir / "manifest.json").unlink()
    old.write(version_dir)


def test_a_tampered_graph_is_not_used_the_server_falls_back_to_torch(built: Built, tmp_path: Path) -> None:
    index_dir = copy_index(built, tmp_path / "index")
    manifest = Manifest.read(index_dir / versions.CURRENT)
    assert manifest.embedding is not None and manifest.embedding.onnx is not None
    tokenizer = index_dir / manifest.embedding.onnx.folder / "tokenizer.json"
    tokenizer.write_text(tokenizer.read_text().replace('"[UNK]"', '"[UNKNOWN]"', 1))
    chosen = choose_query_encoder(index_dir, manifest, DEFAULT_MODEL, None)
    assert chosen.backend == "torch" and "tokenizer.json differs" in chosen.reason


def test_served_with_onnx_the_server_process_never_imports_torch(built: Built, serve: Any) -> None:
    server = serve(built.index_dir)
    server.wait_ready()
    info = httpx.get(server.url + "/api/info").json()
    assert info["encoder"] == "onnx" and info["torch_loaded"] is False, info
    fact = built.corpus.facts[3]
    r = httpx.post(server.url + "/api/query", json={"question": fact.question}, timeout=30)
    assert r.status_code == 200 and r.json()["sources"][0]["document"] == fact.document
    assert httpx.get(server.url + "/api/info").json()["torch_loaded"] is False  # not even lazily
    assert 'rag_query_encoder_info{backend="onnx"} 1.0' in httpx.get(server.url + "/metrics").text


def test_a_version_without_a_graph_is_served_by_torch_and_says_so(
    built: Built, serve: Any, tmp_path: Path
) -> None:
    index_dir = copy_index(built, tmp_path / "index")
    strip_graph(index_dir / versions.CURRENT)
    server = serve(index_dir)
    server.wait_ready()
    info = httpx.get(server.url + "/api/info").json()
    assert info["encoder"] == "torch" and info["torch_loaded"] is True, info
    assert "records no ONNX graph" in info["encoder_fallback_reason"]
    fact = built.corpus.facts[5]
    r = httpx.post(server.url + "/api/query", json={"question": fact.question}, timeout=30)
    assert r.status_code == 200 and r.json()["sources"][0]["document"] == fact.document
    assert 'rag_query_encoder_info{backend="torch"} 1.0' in httpx.get(server.url + "/metrics").text


def test_the_model_revision_does_not_depend_on_what_the_model_encoded_before(embedder: Any) -> None:
    """transformers leaves truncation and padding state on the tokenizer after each call: a
    model fresh from disk and one that has embedded passages are the same revision (one export)."""
    from oozo_runtime.indexing.onnx_export import encoder_spec, model_revision

    spec = encoder_spec(embedder)
    backend = embedder.model[0].tokenizer.backend_tokenizer
    backend.no_truncation()
    backend.no_padding()  # as loaded from disk
    fresh = model_revision(embedder, spec)
    embedder.encode_passages(["a long passage about travel expenses " * 60, "short"])
    assert backend.truncation is not None  # the state the revision must ignore is there
    assert model_revision(embedder, spec) == fresh

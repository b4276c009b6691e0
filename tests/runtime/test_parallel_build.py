"""Parallel builds on the real model (docs/runtime.md, "Parallel builds"): `oozo index --shard K
--shards N` stages each shard's chunks and vectors, `oozo index --merge --shards N` publishes one
version equal to a one-pod build of the same corpus."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from oozo_contract.index_settings import IndexSettings
from oozo_contract.results import IndexBuildResult, ShardResult
from oozo_runtime import versions
from oozo_runtime.cli import app
from oozo_runtime.indexing.build import build
from oozo_runtime.indexing.merge import merge
from oozo_runtime.indexing.shards import ShardMissing, build_shard, shard_folder, shard_of
from tests.doc_commands import documented, reader_checkout, shell
from tests.runtime.corpus import SampleCorpus, department_doc, make_corpus, make_docx, with_corrupt

SHARDS = 3


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory: pytest.TempPathFactory) -> SampleCorpus:
    return make_corpus(tmp_path_factory.mktemp("parallel") / "docs", 12, with_corrupt())


def settings_for(source: Path, index_dir: Path, **extra: Any) -> IndexSettings:
    return IndexSettings(source=str(source), index_dir=index_dir, shards=SHARDS, **extra)


def run_shards(source: Path, index_dir: Path, embedder: Any) -> list[ShardResult]:
    return [build_shard(settings_for(source, index_dir, shard=k), embedder) for k in range(SHARDS)]


def published(index_dir: Path) -> tuple[list[dict[str, Any]], np.ndarray]:
    import faiss

    path = versions.resolve(index_dir)
    chunks = [json.loads(line) for line in (path / versions.CHUNKS_FILE).read_text().splitlines()]
    index = faiss.read_index(str(path / versions.INDEX_FILE))
    return chunks, index.reconstruct_n(0, index.ntotal)


def test_three_shards_then_merge_publish_what_one_pod_builds(
    small_corpus: SampleCorpus, embedder: Any, tmp_path: Path
) -> None:
    single_dir, parallel_dir = tmp_path / "single", tmp_path / "parallel"
    single = build(IndexSettings(source=str(small_corpus.root), index_dir=single_dir), embedder=embedder)
    shards = run_shards(small_corpus.root, parallel_dir, embedder)
    assert sum(s.documents for s in shards) == single.documents == 12
    assert all(s.documents for s in shards), "a stable hash spreads 12 documents over all 3 shards"
    merged = merge(settings_for(small_corpus.root, parallel_dir), embedder=embedder)

    single_chunks, single_vectors = published(single_dir)
    merged_chunks, merged_vectors = published(parallel_dir)
    assert merged_chunks == single_chunks  # same texts, same order
    np.testing.assert_allclose(merged_vectors, single_vectors, atol=1e-5)
    assert (merged.documents, merged.chunks, merged.shards) == (single.documents, single.chunks, SHARDS)
    # the broken document is named with the shard that skipped it
    (skipped,) = merged.skipped
    assert skipped.document == "broken/corrupt.docx"
    assert skipped.shard == shard_of("broken/corrupt.docx", SHARDS)
    manifest = versions.read_manifest(versions.resolve(parallel_dir))
    assert manifest.documents == versions.read_manifest(versions.resolve(single_dir)).documents
    assert not (parallel_dir / "staging").exists() or not any((parallel_dir / "staging").iterdir())


def test_a_shard_rerun_after_losing_its_staging_redoes_only_its_own_work(
    small_corpus: SampleCorpus, embedder: Any, tmp_path: Path
) -> None:
    first = run_shards(small_corpus.root, tmp_path, embedder)
    lost = shard_folder(settings_for(small_corpus.root, tmp_path), first[1].build, 1)
    others = [shard_folder(settings_for(small_corpus.root, tmp_path), first[1].build, k) for k in (0, 2)]
    kept = [(p / "shard.json").stat().st_mtime_ns for p in others]
    shutil.rmtree(lost)

    again = [build_shard(settings_for(small_corpus.root, tmp_path, shard=k), embedder) for k in range(SHARDS)]
    assert [s.reused_result for s in again] == [True, False, True]
    assert (again[1].documents, again[1].chunks, again[1].embedded) == (
        first[1].documents,
        first[1].chunks,
        first[1].chunks,
    )
    assert [(p / "shard.json").stat().st_mtime_ns for p in others] == kept
    assert merge(settings_for(small_corpus.root, tmp_path), embedder=embedder).documents == 12


def test_an_incremental_rebuild_embeds_only_the_changed_document_in_one_shard(
    embedder: Any, tmp_path: Path
) -> None:
    corpus = make_corpus(tmp_path / "docs", 9)
    index_dir = tmp_path / "index"
    run_shards(corpus.root, index_dir, embedder)
    first = merge(settings_for(corpus.root, index_dir), embedder=embedder)

    changed = "dept/004.docx"
    parts, _ = department_doc(4)
    make_docx(corpus.root / changed, *parts, *department_doc(5)[0][1:])  # more text, new chunks
    shards = run_shards(corpus.root, index_dir, embedder)
    embedding = [s for s in shards if s.embedded]
    assert [s.shard for s in embedding] == [shard_of(changed, SHARDS)]
    second = merge(settings_for(corpus.root, index_dir), embedder=embedder)
    assert second.version != first.version and not second.unchanged
    assert second.reused_embeddings == second.chunks - embedding[0].embedded


def test_merge_names_the_missing_shard(small_corpus: SampleCorpus, embedder: Any, tmp_path: Path) -> None:
    for k in (0, 2):
        build_shard(settings_for(small_corpus.root, tmp_path, shard=k), embedder)
    with pytest.raises(ShardMissing, match="shard 1 of 3 has no result"):
        merge(settings_for(small_corpus.root, tmp_path), embedder=embedder)
    assert versions.current_version(tmp_path) is None  # nothing published


def test_cli_merge_without_shards_fails_with_the_shard_named(
    small_corpus: SampleCorpus, tmp_path: Path
) -> None:
    term = tmp_path / "termination-log"
    args = ["index", str(small_corpus.root), "--out", str(tmp_path / "idx"), "--merge", "--shards", "2"]
    out = CliRunner().invoke(app, [*args, "--termination-message-path", str(term)])
    assert out.exit_code != 0
    result = json.loads(term.read_text())
    assert result["reason"] == "ShardMissing" and "shard 0 of 2" in result["error"]


def test_the_runtime_page_builds_three_shards_then_merges(small_corpus: SampleCorpus, tmp_path: Path) -> None:
    shutil.copytree(small_corpus.root, tmp_path / "docs")
    env = reader_checkout(tmp_path)
    staged = shell(documented("docs/runtime.md", startswith="for shard in 0 1 2"), tmp_path, env)
    assert staged.returncode == 0, staged.stderr
    shards = [json.loads(line) for line in staged.stdout.splitlines() if line.startswith("{")]
    assert [s["shard"] for s in shards] == [0, 1, 2] and sum(s["documents"] for s in shards) == 12
    merged = shell(documented("docs/runtime.md", startswith="OOZO_SHARDS=3 oozo index"), tmp_path, env)
    assert merged.returncode == 0, merged.stderr
    result = json.loads(merged.stdout.splitlines()[-1])
    assert (result["documents"], result["shards"], result["skippedDocuments"]) == (12, 3, 1), result


def test_with_merge_the_shard_that_finds_all_staged_publishes(
    small_corpus: SampleCorpus, embedder: Any, tmp_path: Path
) -> None:
    from oozo_runtime.commands import _build_with_progress

    results = [
        _build_with_progress(settings_for(small_corpus.root, tmp_path, shard=k, merge=True))
        for k in (2, 0, 1)
    ]
    assert [type(r).__name__ for r in results] == ["ShardResult", "ShardResult", "IndexBuildResult"]
    published_result = results[-1]
    assert isinstance(published_result, IndexBuildResult)
    assert (published_result.documents, published_result.shards) == (12, SHARDS)
    assert versions.current_version(tmp_path) == published_result.version


def test_the_build_key_follows_the_documents_bytes_not_their_file_times(
    small_corpus: SampleCorpus, tmp_path: Path
) -> None:
    """Each pod gets its own copy of a ConfigMap volume: same bytes, other times."""
    import os

    from oozo_runtime.indexing.shards import build_key
    from oozo_runtime.indexing.tokens import build_counter, chunking_info

    copy = shutil.copytree(small_corpus.root, tmp_path / "copy")
    for path in copy.rglob("*.docx"):
        os.utime(path, ns=(1, 1))
    settings = settings_for(small_corpus.root, tmp_path)
    chunking = chunking_info(settings, build_counter(settings))
    assert build_key(settings, copy, chunking) == build_key(settings, small_corpus.root, chunking)
    make_docx(copy / "dept/003.docx", *department_doc(7)[0])
    assert build_key(settings, copy, chunking) != build_key(settings, small_corpus.root, chunking)


def test_the_shard_that_merges_loads_the_model_once(
    small_corpus: SampleCorpus, embedder: Any, tmp_path: Path
) -> None:
    """On a fresh volume the merge exports the ONNX query graph from the model: the pod that
    merges reuses the model its shard loaded instead of loading it a second time."""
    from tests.s3.helpers import oozo

    for k in range(SHARDS - 1):
        build_shard(settings_for(small_corpus.root, tmp_path, shard=k), embedder)
    last = oozo(
        "index",
        str(small_corpus.root),
        "--out",
        str(tmp_path),
        "--shard",
        f"{SHARDS - 1}/{SHARDS}",
        "--merge",
    )
    assert last.code == 0, last.stderr
    assert last.result["shards"] == SHARDS and last.result["documents"] == 12, last.result
    assert last.stderr.count("loading embedding model") == 1, last.stderr
    assert (versions.resolve(tmp_path) / "manifest.json").is_file()

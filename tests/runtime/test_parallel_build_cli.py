"""The laptop flow of a parallel build (docs/runtime.md, "Parallel builds"), exactly as the page
shows it: `oozo index ./docs --shard K/N --staging ./staging` for each shard, then `oozo merge
--staging ./staging --out ./index`, with the real model on real files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from oozo_contract.index_settings import IndexSettings
from oozo_runtime.cli import app
from oozo_runtime.indexing.build import build
from tests.doc_commands import documented, reader_checkout, shell
from tests.runtime.corpus import SampleCorpus, make_corpus, with_corrupt
from tests.runtime.test_parallel_build import published


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory: pytest.TempPathFactory) -> SampleCorpus:
    return make_corpus(tmp_path_factory.mktemp("laptop") / "docs", 12, with_corrupt())


def test_the_documented_shard_k_of_n_and_oozo_merge_publish_what_one_pod_builds(
    small_corpus: SampleCorpus, embedder: Any, tmp_path: Path
) -> None:
    shutil.copytree(small_corpus.root, tmp_path / "docs")
    env = reader_checkout(tmp_path)
    staged = shell(
        documented("docs/runtime.md", startswith="for shard in 0/3", contains="./staging"), tmp_path, env
    )
    assert staged.returncode == 0, staged.stderr
    shards = [json.loads(line) for line in staged.stdout.splitlines() if line.startswith("{")]
    assert [(s["shard"], s["shards"]) for s in shards] == [(0, 3), (1, 3), (2, 3)]
    assert sum(s["documents"] for s in shards) == 12
    assert not (tmp_path / "index" / "current").exists(), "a shard publishes nothing"

    merged = shell(
        documented("docs/runtime.md", startswith="oozo merge", contains="./staging"), tmp_path, env
    )
    assert merged.returncode == 0, merged.stderr
    result = json.loads(merged.stdout.splitlines()[-1])
    assert (result["documents"], result["shards"], result["skippedDocuments"]) == (12, 3, 1), result

    single_dir = tmp_path / "single"
    build(IndexSettings(source=str(tmp_path / "docs"), index_dir=single_dir), embedder=embedder)
    single_chunks, single_vectors = published(single_dir)
    merged_chunks, merged_vectors = published(tmp_path / "index")
    assert merged_chunks == single_chunks
    np.testing.assert_allclose(merged_vectors, single_vectors, atol=1e-5)
    assert list((tmp_path / "staging").iterdir()) == [], "the published build's staging is removed"


@pytest.mark.parametrize(
    ("given", "says"),
    [("3/3", "K must be 0..2"), ("1/0", "N must be at least 1"), ("a/3", "not K/N with whole numbers")],
)
def test_a_bad_shard_k_of_n_is_a_usage_error_naming_the_option(
    small_corpus: SampleCorpus, tmp_path: Path, given: str, says: str
) -> None:
    args = ["index", str(small_corpus.root), "--out", str(tmp_path / "idx"), "--shard", given]
    out = CliRunner().invoke(app, [*args, "--staging", str(tmp_path / "staging")])
    assert out.exit_code == 2
    assert "'--shard'" in out.output and says in out.output
    assert not (tmp_path / "staging").exists() and not (tmp_path / "idx").exists()


def test_oozo_merge_with_another_model_than_the_shards_refuses_naming_it(
    small_corpus: SampleCorpus, embedder: Any, tmp_path: Path
) -> None:
    from oozo_runtime.indexing.shards import build_shard

    staging = tmp_path / "staging"
    for k in range(2):
        settings = IndexSettings(
            source=str(small_corpus.root),
            index_dir=tmp_path / "idx",
            shard=k,
            shards=2,
            staging_dir=str(staging),
        )
        build_shard(settings, embedder)
    term = tmp_path / "termination-log"
    args = ["merge", "--staging", str(staging), "--out", str(tmp_path / "idx"), "--chunk-size", "700"]
    out = CliRunner().invoke(app, [*args, "--termination-message-path", str(term)])
    assert out.exit_code != 0
    error = json.loads(term.read_text())
    assert error["reason"] == "InvalidSettings" and "chunking" in error["error"], error
    assert not (tmp_path / "idx" / "current").exists()
    assert len(list(staging.iterdir())) == 1, "a refused merge keeps the shards"

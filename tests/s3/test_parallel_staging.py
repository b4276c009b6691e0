"""Parallel builds staged in S3 (docs/runtime.md, "Parallel builds"): `oozo index SOURCE --shard
K/N --staging s3://BUCKET/PREFIX` uploads each shard's result and a completion marker last, and
`oozo merge --staging s3://BUCKET/PREFIX --out INDEX_DIR` reads them back, verifies them against
the marker and publishes; the claim is a conditional put that only one claimant wins. A real
MinIO, the real model, real documents."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from devcluster.s3server import S3Server
from oozo_contract.index_settings import IndexSettings
from oozo_runtime import versions
from oozo_runtime.indexing.build import build
from oozo_runtime.indexing.merge import merge
from oozo_runtime.indexing.shards import ShardMissing, build_shard
from oozo_runtime.indexing.staging import open_staging
from oozo_runtime.indexing.staging_s3 import S3Staging
from tests.doc_commands import documented, reader_checkout, shell
from tests.runtime.corpus import SampleCorpus, make_corpus, with_corrupt
from tests.runtime.test_parallel_build import published

SHARDS = 3
PREFIX = "oozo/staging"


@pytest.fixture(scope="module")
def embedder() -> Any:
    from oozo_runtime.embedding import Embedder

    return Embedder()


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory: pytest.TempPathFactory) -> SampleCorpus:
    return make_corpus(tmp_path_factory.mktemp("s3staging") / "docs", 12, with_corrupt())


def shard_settings(
    corpus: SampleCorpus, index_dir: Path, bucket: str, shard: int, **extra: Any
) -> IndexSettings:
    return IndexSettings(
        source=str(corpus.root),
        index_dir=index_dir,
        shard=shard,
        shards=SHARDS,
        staging_dir=f"s3://{bucket}/{PREFIX}",
        **extra,
    )


def stage_all(corpus: SampleCorpus, index_dir: Path, bucket: str, server: S3Server, embedder: Any) -> str:
    """Stage the 3 shards in S3; returns the build's key."""
    keys = set()
    for k in range(SHARDS):
        settings = shard_settings(corpus, index_dir, bucket, k)
        keys.add(build_shard(settings, embedder, open_staging(settings, server.endpoint)).build)
    (key,) = keys
    return key


def keys_under(server: S3Server, bucket: str, prefix: str) -> list[str]:
    listed = server.client().list_objects_v2(Bucket=bucket, Prefix=prefix)
    return sorted(obj["Key"] for obj in listed.get("Contents", []))


def test_the_documented_s3_staging_flow_publishes_what_one_pod_builds(
    s3_server: S3Server,
    bucket: str,
    s3_env: dict[str, str],
    small_corpus: SampleCorpus,
    embedder: Any,
    tmp_path: Path,
) -> None:
    shutil.copytree(small_corpus.root, tmp_path / "docs")
    env = {**reader_checkout(tmp_path), "HF_HUB_OFFLINE": "1"}

    def here(command: str) -> str:  # the reader's bucket and endpoint are this test's
        return command.replace("s3://my-bucket/", f"s3://{bucket}/").replace(
            "http://127.0.0.1:9000", s3_server.endpoint
        )

    staged = shell(
        here(documented("docs/runtime.md", startswith="for shard in", contains="s3://")), tmp_path, env
    )
    assert staged.returncode == 0, staged.stderr
    shards = [json.loads(line) for line in staged.stdout.splitlines() if line.startswith("{")]
    assert [(s["shard"], s["shards"]) for s in shards] == [(0, 3), (1, 3), (2, 3)]
    (key,) = {s["build"] for s in shards}
    staged_keys = keys_under(s3_server, bucket, f"oozo-staging/{key}/")
    for k in range(SHARDS):
        assert f"oozo-staging/{key}/shard-{k}/complete.json" in staged_keys
        assert f"oozo-staging/{key}/shard-{k}/vectors.npy" in staged_keys
    assert not (tmp_path / "index" / "current").exists()

    merged = shell(
        here(documented("docs/runtime.md", startswith="oozo merge", contains="s3://")), tmp_path, env
    )
    assert merged.returncode == 0, merged.stderr
    result = json.loads(merged.stdout.splitlines()[-1])
    assert (result["documents"], result["shards"], result["skippedDocuments"]) == (12, 3, 1)
    assert s3_server.secret_key not in merged.stdout + merged.stderr + staged.stdout + staged.stderr

    build(IndexSettings(source=str(tmp_path / "docs"), index_dir=tmp_path / "single"), embedder=embedder)
    single_chunks, single_vectors = published(tmp_path / "single")
    merged_chunks, merged_vectors = published(tmp_path / "index")
    assert merged_chunks == single_chunks
    np.testing.assert_allclose(merged_vectors, single_vectors, atol=1e-5)
    assert keys_under(s3_server, bucket, "oozo-staging/") == [], "the published build's staging is removed"


def test_a_shard_whose_marker_is_missing_is_not_merged_and_the_merge_names_it(
    s3_server: S3Server,
    bucket: str,
    s3_env: dict[str, str],
    small_corpus: SampleCorpus,
    embedder: Any,
    tmp_path: Path,
) -> None:
    key = stage_all(small_corpus, tmp_path / "index", bucket, s3_server, embedder)
    s3_server.client().delete_object(Bucket=bucket, Key=f"{PREFIX}/{key}/shard-1/complete.json")
    settings = IndexSettings(index_dir=tmp_path / "index", staging_dir=f"s3://{bucket}/{PREFIX}")
    staging = open_staging(settings, s3_server.endpoint)

    with pytest.raises(ShardMissing, match="shard 1 of 3 has no result"):
        merge(settings, embedder=embedder, staging=staging)
    assert versions.current_version(tmp_path / "index") is None
    assert f"{PREFIX}/{key}/shard-1/vectors.npy" in keys_under(s3_server, bucket, PREFIX), (
        "nothing is removed"
    )

    # with a source too (`--shard K/N --merge`, the Indexed Job): the same refusal
    with pytest.raises(ShardMissing, match="shard 1 of 3 has no result"):
        merge(shard_settings(small_corpus, tmp_path / "index", bucket, 0), embedder=embedder, staging=staging)


def test_a_staged_object_that_does_not_match_its_marker_is_not_merged(
    s3_server: S3Server,
    bucket: str,
    s3_env: dict[str, str],
    small_corpus: SampleCorpus,
    embedder: Any,
    tmp_path: Path,
) -> None:
    key = stage_all(small_corpus, tmp_path / "index", bucket, s3_server, embedder)
    client = s3_server.client()
    object_key = f"{PREFIX}/{key}/shard-2/chunks.jsonl"
    body = client.get_object(Bucket=bucket, Key=object_key)["Body"].read()
    client.put_object(Bucket=bucket, Key=object_key, Body=body + b"\n")  # one byte more
    settings = IndexSettings(index_dir=tmp_path / "index", staging_dir=f"s3://{bucket}/{PREFIX}")

    with pytest.raises(ShardMissing, match=r"shard 2 of 3 .*chunks.jsonl does not match its marker"):
        merge(settings, embedder=embedder, staging=open_staging(settings, s3_server.endpoint))
    assert versions.current_version(tmp_path / "index") is None


def test_two_concurrent_merge_claims_on_s3_one_wins(
    s3_server: S3Server, bucket: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    settings = IndexSettings(index_dir=tmp_path, staging_dir=f"s3://{bucket}/{PREFIX}")
    staging = open_staging(settings, s3_server.endpoint)
    assert isinstance(staging, S3Staging)
    for round_ in range(5):
        key = f"{round_:064x}"
        start = threading.Barrier(2)
        won: dict[str, bool] = {}

        def claim(
            claimant: str, key: str = key, start: threading.Barrier = start, won: dict[str, bool] = won
        ) -> None:
            start.wait()
            won[claimant] = staging.claim_merge(key, claimant)

        threads = [threading.Thread(target=claim, args=(name,)) for name in ("0", "2")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(won.values()) == [False, True], won
        winner = next(name for name, ok in won.items() if ok)
        assert staging.claim_merge(key, winner), "the winner's retry (same shard) may finish its merge"
        assert not staging.claim_merge(key, "1")


def test_a_merge_removes_its_staging_and_expired_builds_but_no_foreign_object(
    s3_server: S3Server,
    bucket: str,
    s3_env: dict[str, str],
    small_corpus: SampleCorpus,
    embedder: Any,
    tmp_path: Path,
) -> None:
    client = s3_server.client()
    # an abandoned build: one shard of a 2-shard build of the same documents (another build key)
    abandoned_settings = shard_settings(small_corpus, tmp_path / "index", bucket, 0).model_copy(
        update={"shards": 2}
    )
    abandoned = build_shard(
        abandoned_settings, embedder, open_staging(abandoned_settings, s3_server.endpoint)
    ).build
    key = stage_all(small_corpus, tmp_path / "index", bucket, s3_server, embedder)
    assert abandoned != key
    foreign = [
        f"{PREFIX}/README.txt",
        f"{PREFIX}/{key}/notes.txt",
        f"{PREFIX}/{key}/shard-0/extra.bin",
        f"{PREFIX}/{abandoned}/foreign.txt",
    ]
    for object_key in foreign:
        client.put_object(Bucket=bucket, Key=object_key, Body=b"not Oozo's")

    settings = IndexSettings(
        index_dir=tmp_path / "index", staging_dir=f"s3://{bucket}/{PREFIX}", staging_retention_hours=0
    )
    merged = merge(settings, embedder=embedder, staging=open_staging(settings, s3_server.endpoint))
    assert (merged.documents, merged.shards) == (12, SHARDS)
    assert keys_under(s3_server, bucket, PREFIX) == sorted(foreign)

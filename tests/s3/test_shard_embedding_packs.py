"""The embedding cache of shards staged in S3 (docs/runtime.md, "Parallel builds"): shards that
see no index volume (each build in a fresh INDEX_DIR, as the operator's volume-free shard pods)
keep their vectors in PREFIX/embeddings/<model-key>/shard-K-of-N.npz, so an incremental rebuild
after one changed document embeds only that document, in its one shard. The merge removes the
packs of another N and leaves objects it did not write. A real MinIO, the real model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from devcluster.s3server import S3Server
from oozo_contract.index_settings import IndexSettings
from oozo_runtime.indexing.merge import merge
from oozo_runtime.indexing.shards import build_shard, shard_of
from oozo_runtime.indexing.staging import open_staging
from tests.runtime.corpus import department_doc, make_corpus, make_docx

SHARDS = 3
PREFIX = "oozo/staging"


@pytest.fixture(scope="module")
def embedder() -> Any:
    from oozo_runtime.embedding import Embedder

    return Embedder()


def keys_under(server: S3Server, bucket: str, prefix: str) -> list[str]:
    listed = server.client().list_objects_v2(Bucket=bucket, Prefix=prefix)
    return sorted(obj["Key"] for obj in listed.get("Contents", []))


def test_volume_free_shards_reuse_their_s3_packs_and_embed_only_the_changed_document(
    s3_server: S3Server, bucket: str, s3_env: dict[str, str], embedder: Any, tmp_path: Path
) -> None:
    corpus = make_corpus(tmp_path / "docs", 9)
    staging_uri = f"s3://{bucket}/{PREFIX}"

    def stage_all(index_dir: Path) -> list[Any]:
        out = []
        for k in range(SHARDS):
            settings = IndexSettings(
                source=str(corpus.root),
                index_dir=index_dir,
                shard=k,
                shards=SHARDS,
                staging_dir=staging_uri,
                staging_embedding_cache=True,
            )
            out.append(build_shard(settings, embedder, open_staging(settings, s3_server.endpoint)))
        return out

    first = stage_all(tmp_path / "pod-a")  # a fresh emptyDir: nothing cached anywhere
    assert [s.embedded for s in first] == [s.chunks for s in first] and sum(s.chunks for s in first) > 0
    packs = [k for k in keys_under(s3_server, bucket, f"{PREFIX}/embeddings/") if k.endswith(".npz")]
    assert [p.rsplit("/", 1)[1] for p in packs] == [f"shard-{k}-of-{SHARDS}.npz" for k in range(SHARDS)]

    changed = "dept/004.docx"
    parts, _ = department_doc(4)
    make_docx(corpus.root / changed, *parts, *department_doc(5)[0][1:])  # more text, new chunks
    second = stage_all(tmp_path / "pod-b")  # another fresh emptyDir, as on another node
    embedding = [s for s in second if s.embedded]
    assert [s.shard for s in embedding] == [shard_of(changed, SHARDS)], second
    assert embedding[0].embedded < embedding[0].chunks  # its unchanged documents came from the pack
    assert sum(s.reused_embeddings for s in second) == sum(s.chunks for s in second) - embedding[0].embedded

    # The merge publishes the second build and removes the packs of another N, nothing else.
    model_folder = packs[0].rsplit("/", 1)[0]
    client = s3_server.client()
    client.put_object(Bucket=bucket, Key=f"{model_folder}/shard-0-of-2.npz", Body=b"an older N")
    client.put_object(Bucket=bucket, Key=f"{PREFIX}/embeddings/notes.txt", Body=b"not Oozo's")
    settings = IndexSettings(
        source=str(corpus.root),
        index_dir=tmp_path / "volume",
        shards=SHARDS,
        staging_dir=staging_uri,
        staging_embedding_cache=True,
        merge=True,
    )
    merged = merge(settings, embedder=embedder, staging=open_staging(settings, s3_server.endpoint))
    assert merged.documents == 9
    assert keys_under(s3_server, bucket, f"{PREFIX}/embeddings/") == sorted(
        [*packs, f"{PREFIX}/embeddings/notes.txt"]
    )

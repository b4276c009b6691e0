"""A refresh of an unchanged S3 source costs nothing: `oozo fetch --unless-revision REV` lists
the bucket, finds it at REV and downloads nothing; `oozo index` given that fetch's result
(OOZO_FETCH_RESULT_FILE) publishes nothing without reading a document or loading the model.
Real MinIO, the real `oozo` command, the real model for the first build."""

from __future__ import annotations

import json
from pathlib import Path

from devcluster.s3server import S3Server
from tests.s3.helpers import oozo

DOCS = {
    "handbook/leave.md": "# Leave\n\nEvery employee has 27 days of paid leave a year.\n",
    "handbook/travel.md": "# Travel\n\nBook trains for trips under 600 km.\n",
}


def test_an_unchanged_refresh_downloads_nothing_reads_nothing_and_loads_no_model(
    s3_server: S3Server, bucket: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    client = s3_server.client()
    for key, text in DOCS.items():
        client.put_object(Bucket=bucket, Key=key, Body=text.encode())
    files, index, result_file = tmp_path / "files", tmp_path / "index", tmp_path / "fetch-result.json"
    fetch_args = (
        "fetch",
        f"s3://{bucket}/handbook",
        "--into",
        str(files),
        "--s3-endpoint",
        s3_server.endpoint,
    )
    env = {**s3_server.env(), "HF_HUB_OFFLINE": "1", "OOZO_RESULT_FILE": str(result_file)}
    index_env = {**env, "OOZO_FETCH_RESULT_FILE": str(result_file)}

    first = oozo(*fetch_args, env=env)
    assert first.code == 0, first.stderr
    revision = first.result["revision"]
    built = oozo("index", str(files), "--out", str(index), env=index_env)
    assert built.code == 0, built.stderr
    manifest = json.loads((index / "current" / "manifest.json").read_text())
    assert manifest["sourceRevision"] == revision

    refresh = oozo(*fetch_args, "--unless-revision", revision, env=env)
    assert refresh.code == 0, refresh.stderr
    assert refresh.result["skippedBecauseUnchanged"] is True
    assert (refresh.result["fetched"], refresh.result["revision"]) == (0, revision)
    # Proof that the index step reads no document and loads no model: there are none to read
    # or load now, yet it succeeds and reports the published version.
    for path in files.iterdir():
        path.unlink()
    no_model = tmp_path / "empty-hf-home"
    no_model.mkdir()
    unchanged = oozo(
        "index",
        str(files),
        "--out",
        str(index),
        env={**index_env, "HF_HOME": str(no_model), "SENTENCE_TRANSFORMERS_HOME": str(no_model)},
    )
    assert unchanged.code == 0, unchanged.stderr
    assert (unchanged.result["version"], unchanged.result["unchanged"]) == (built.result["version"], True)
    assert unchanged.result["documents"] == 2
    assert sorted(p.name for p in (index / "versions").iterdir()) == [built.result["version"]]


def test_a_changed_source_is_fetched_and_built_despite_the_old_revision(
    s3_server: S3Server, bucket: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    client = s3_server.client()
    for key, text in DOCS.items():
        client.put_object(Bucket=bucket, Key=key, Body=text.encode())
    files, index, result_file = tmp_path / "files", tmp_path / "index", tmp_path / "fetch-result.json"
    fetch_args = (
        "fetch",
        f"s3://{bucket}/handbook",
        "--into",
        str(files),
        "--s3-endpoint",
        s3_server.endpoint,
    )
    env = {**s3_server.env(), "HF_HUB_OFFLINE": "1", "OOZO_RESULT_FILE": str(result_file)}
    index_env = {**env, "OOZO_FETCH_RESULT_FILE": str(result_file)}
    revision = oozo(*fetch_args, env=env).result["revision"]
    built = oozo("index", str(files), "--out", str(index), env=index_env)
    assert built.code == 0, built.stderr

    client.put_object(Bucket=bucket, Key="handbook/leave.md", Body=b"# Leave\n\nNow 30 days a year.\n")
    refresh = oozo(*fetch_args, "--unless-revision", revision, env=env)
    assert refresh.result["skippedBecauseUnchanged"] is False and refresh.result["fetched"] == 1
    rebuilt = oozo("index", str(files), "--out", str(index), env=index_env)
    assert rebuilt.code == 0, rebuilt.stderr
    assert rebuilt.result["unchanged"] is False and rebuilt.result["version"] != built.result["version"]
    manifest = json.loads((index / "current" / "manifest.json").read_text())
    assert manifest["sourceRevision"] == refresh.result["revision"] != revision

"""Models from an `s3://BUCKET/PREFIX` (air-gapped clusters): `oozo index --model s3://...`
copies the model's files once into the model cache on the index volume, records their revision
in the manifest, and `oozo query` / `oozo serve` load the copy offline, with no S3 access at all.
The model is the bundled all-MiniLM-L6-v2's real files, uploaded to a real MinIO."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from devcluster.s3server import S3Server
from oozo_contract.defaults import DEFAULT_MODEL
from oozo_runtime.embedding import resolve_model_path
from tests.model_steps import HANDBOOK, OFFLINE, assert_answers_from_the_cached_model, write_docs
from tests.s3.helpers import Run, oozo

DOCS = {**HANDBOOK, "laptops.txt": "Laptops are replaced every four years.\n"}


def upload_bundled_model(server: S3Server, bucket: str, prefix: str) -> int:
    client = server.client()
    folder = Path(resolve_model_path(DEFAULT_MODEL))
    files = [p for p in sorted(folder.rglob("*")) if p.is_file()]
    for path in files:
        client.upload_file(str(path), bucket, f"{prefix}/{path.relative_to(folder).as_posix()}")
    return len(files)


def model_copy_log(run: Run) -> dict[str, Any]:
    lines = [json.loads(line) for line in run.stderr.splitlines() if '"model copied from S3"' in line]
    assert len(lines) == 1, run.stderr
    return lines[0]


def test_a_model_from_an_s3_prefix_is_copied_once_recorded_and_served_offline(
    s3_server: S3Server, bucket: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    files = upload_bundled_model(s3_server, bucket, "models/minilm")
    docs, index = write_docs(tmp_path / "docs", DOCS), tmp_path / "index"
    model = f"s3://{bucket}/models/minilm"
    args = ("index", str(docs), "--out", str(index), "--model", model, "--s3-endpoint", s3_server.endpoint)
    env = {**s3_server.env(), **OFFLINE}

    built = oozo(*args, env=env)
    assert built.code == 0, built.stderr
    assert (model_copy_log(built)["fetched"], built.result["embeddingModel"]) == (files, model)
    assert built.result["chunksTruncated"] == 0  # the copy's tokenizer fitted the chunks
    manifest = json.loads((index / "current" / "manifest.json").read_text())
    revision = manifest["embedding"]["modelRevision"]
    assert revision.startswith("sha256:") and manifest["chunking"]["maxTokens"] == 256
    assert manifest["embedding"]["onnx"]["folder"].startswith("onnx/")

    again = oozo(*args, env=env)  # nothing changed: no object downloaded, nothing published
    assert again.code == 0, again.stderr
    copied = model_copy_log(again)
    assert (copied["fetched"], copied["unchanged"]) == (0, files)
    assert (again.result["version"], again.result["unchanged"]) == (built.result["version"], True)

    # Served without any S3 credentials or endpoint: the pods read the cached copy.
    query = ("query", "How many days of paid leave?", "--index", str(index), "--model", model)
    assert_answers_from_the_cached_model(query, index, model, OFFLINE, tmp_path / "serve.log")

    # A new revision of the model at the same prefix (one object changed) is a new index input.
    s3_server.client().put_object(Bucket=bucket, Key="models/minilm/README.md", Body=b"# retrained\n")
    changed = oozo(*args, env=env)
    assert changed.code == 0, changed.stderr
    assert model_copy_log(changed)["fetched"] == 1
    assert changed.result["unchanged"] is False and changed.result["version"] != built.result["version"]
    new_manifest = json.loads((index / "current" / "manifest.json").read_text())
    assert new_manifest["embedding"]["modelRevision"] not in ("", revision)


def test_a_missing_model_prefix_fails_with_an_error_naming_it(
    s3_server: S3Server, bucket: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("# A\n\nSome text.\n")
    model = f"s3://{bucket}/models/nothing-here"
    run = oozo(
        "index", str(docs), "--out", str(tmp_path / "index"), "--model", model,
        "--s3-endpoint", s3_server.endpoint, env={**s3_server.env(), **OFFLINE},
    )  # fmt: skip
    assert run.code != 0
    assert run.error["reason"] == "ModelUnavailable"
    assert model in run.error["error"] and "no objects" in run.error["error"]
    assert not (tmp_path / "index" / "current").exists()

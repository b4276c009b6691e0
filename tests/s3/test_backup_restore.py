"""The happy paths of `oozo backup` / `oozo restore` against a real MinIO."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devcluster.s3server import S3Server
from oozo_runtime.backup.backup import plan_retention
from oozo_runtime.backup.uri import parse_s3_uri
from tests.s3.conftest import add_version, sample_files, sha256, tree
from tests.s3.helpers import backup, oozo, restore


def keys(server: S3Server, bucket: str) -> list[str]:
    resp = server.client().list_objects_v2(Bucket=bucket)
    return sorted(o["Key"] for o in resp.get("Contents", []))


def test_round_trip_is_byte_identical(s3_server: S3Server, bucket: str, tmp_path: Path) -> None:
    src = tmp_path / "src"
    add_version(src, "20260101-aaaa", sample_files("round-trip"))
    made = backup(s3_server, src, f"s3://{bucket}/corpora/handbook")
    assert made.code == 0, made.stderr
    result = made.result
    assert result["version"] == "20260101-aaaa"
    assert result["uri"] == f"s3://{bucket}/corpora/handbook/20260101-aaaa/index.tar.zst"
    assert result["pruned"] == [] and result["unchanged"] is False
    assert set(result) >= {"time", "uri", "sha256", "sizeBytes", "version", "pruned"}

    prefix = "corpora/handbook/20260101-aaaa/"
    assert keys(s3_server, bucket) == [
        prefix + "backup.json",
        prefix + "index.tar.zst",
        prefix + "index.tar.zst.sha256",
        prefix + "manifest.json",
        "corpora/handbook/latest",
        "corpora/handbook/oozo-owner.json",  # who writes this prefix (claimed by the first backup)
    ]
    artifact = s3_server.client().get_object(Bucket=bucket, Key=prefix + "index.tar.zst")["Body"].read()
    assert sha256(artifact) == result["sha256"] and len(artifact) == result["sizeBytes"]
    marker = s3_server.client().get_object(Bucket=bucket, Key=prefix + "index.tar.zst.sha256")["Body"].read()
    assert marker.decode() == f"{result['sha256']}  index.tar.zst\n"  # `sha256sum -c` format

    dst = tmp_path / "dst"
    got = restore(s3_server, dst, f"s3://{bucket}/corpora/handbook")
    assert got.code == 0, got.stderr
    assert got.result["version"] == "20260101-aaaa" and got.result["sha256"] == result["sha256"]
    # what a build would report, read back from the manifest: status.index is filled the same way
    assert got.result["documents"] == 1 and got.result["chunks"] == 3
    assert got.result["embeddingModel"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert got.result["dimensions"] == 384
    assert os.readlink(dst / "current") == "versions/20260101-aaaa"
    assert tree(dst / "current") == tree(src / "current")
    assert sorted(p.name for p in dst.iterdir()) == [".lock", "current", "versions"]  # no .tmp- left


def test_latest_points_at_the_newest_backup_and_versions_stay_addressable(
    s3_server: S3Server, bucket: str, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    uri = f"s3://{bucket}/p"
    add_version(src, "v1", sample_files("one"))
    assert backup(s3_server, src, uri).code == 0
    add_version(src, "v2", sample_files("two"))
    assert backup(s3_server, src, uri).code == 0
    latest = s3_server.client().get_object(Bucket=bucket, Key="p/latest")["Body"].read()
    assert latest == b"v2\n"

    for spec, version in ((uri, "v2"), (uri + "@latest", "v2"), (uri + "@v1", "v1")):
        dst = tmp_path / f"dst-{version}-{spec.rsplit('@', 1)[-1]}"
        got = restore(s3_server, dst, spec)
        assert got.code == 0, got.stderr
        assert got.result["version"] == version
        assert tree(dst / "current") == tree(src / "versions" / version)


def test_backup_of_an_already_stored_version_is_a_no_op(
    s3_server: S3Server, bucket: str, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    add_version(src, "v1", sample_files())
    first = backup(s3_server, src, f"s3://{bucket}/p").result
    before = {
        o["Key"]: o["LastModified"] for o in s3_server.client().list_objects_v2(Bucket=bucket)["Contents"]
    }
    again = backup(s3_server, src, f"s3://{bucket}/p")
    assert again.code == 0, again.stderr
    assert again.result["unchanged"] is True
    assert {k: again.result[k] for k in ("sha256", "sizeBytes", "version", "time", "uri")} == {
        k: first[k] for k in ("sha256", "sizeBytes", "version", "time", "uri")
    }
    after = {
        o["Key"]: o["LastModified"] for o in s3_server.client().list_objects_v2(Bucket=bucket)["Contents"]
    }
    assert after == before  # nothing rewritten


def test_retention_keeps_exactly_the_newest_n(s3_server: S3Server, bucket: str, tmp_path: Path) -> None:
    src = tmp_path / "src"
    pruned: list[str] = []
    for i in range(1, 6):
        add_version(src, f"v{i}", sample_files(str(i), vectors=64))
        made = backup(s3_server, src, f"s3://{bucket}/p", "--keep-last", "3")
        assert made.code == 0, made.stderr
        pruned += made.result["pruned"]
    assert pruned == ["v1", "v2"]
    remaining = {k.split("/")[1] for k in keys(s3_server, bucket) if k.count("/") == 2}
    assert remaining == {"v3", "v4", "v5"}


def test_a_restore_of_the_version_already_present_only_flips_current(
    s3_server: S3Server, bucket: str, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    add_version(src, "v1", sample_files("one"))
    backup(s3_server, src, f"s3://{bucket}/p")
    add_version(src, "v2", sample_files("two"))  # current is now v2, v1 stays on disk
    got = restore(s3_server, src, f"s3://{bucket}/p@v1")
    assert got.code == 0, got.stderr
    assert got.result["downloaded"] is False
    assert os.readlink(src / "current") == "versions/v1"


def test_settings_come_from_the_environment_and_the_result_from_the_termination_message(
    s3_server: S3Server, bucket: str, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    add_version(src, "v1", sample_files())
    msg = tmp_path / "termination-log"
    env = {
        **s3_server.env(),
        "OOZO_INDEX_DIR": str(src),
        "OOZO_BACKUP_URI": f"s3://{bucket}/from-env",
        "OOZO_S3_ENDPOINT": s3_server.endpoint,
        "OOZO_BACKUP_KEEP_LAST": "2",
        "OOZO_TERMINATION_MESSAGE_PATH": str(msg),
    }
    made = oozo("backup", env=env)
    assert made.code == 0, made.stderr
    assert json.loads(msg.read_text()) == made.result


def test_credentials_from_a_mounted_shared_credentials_file(
    s3_server: S3Server, bucket: str, tmp_path: Path
) -> None:
    creds = tmp_path / "secret" / "credentials"
    creds.parent.mkdir()
    creds.write_text(
        f"[default]\naws_access_key_id = {s3_server.access_key}\n"
        f"aws_secret_access_key = {s3_server.secret_key}\n"
    )
    src = tmp_path / "src"
    add_version(src, "v1", sample_files())
    env = {"AWS_SHARED_CREDENTIALS_FILE": str(creds), "AWS_CONFIG_FILE": str(tmp_path / "none")}
    made = backup(s3_server, src, f"s3://{bucket}/p", env=env)
    assert made.code == 0, made.stderr
    got = restore(s3_server, tmp_path / "dst", f"s3://{bucket}/p", env=env)
    assert got.code == 0, got.stderr


def test_retention_plan_is_by_completion_time_and_spares_what_must_stay() -> None:
    from datetime import UTC, datetime, timedelta

    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    loc = parse_s3_uri("s3://bkt/p", allow_version=False)

    def obj(key: str, minutes: float) -> dict[str, object]:
        return {"Key": f"p/{key}", "LastModified": t0 + timedelta(minutes=minutes)}

    objects = [obj("latest", 9)]
    for i, name in enumerate(["c", "a", "d", "b"]):  # names do not sort like times
        objects += [obj(f"{name}/index.tar.zst", i), obj(f"{name}/index.tar.zst.sha256", i + 0.5)]
    objects += [obj("stale/index.tar.zst", -3000), obj("fresh/index.tar.zst", 8)]  # no markers
    assert plan_retention(objects, loc, 2, keep=set()) == ["a", "c", "stale"]
    assert plan_retention(objects, loc, 2, keep={"c"}) == ["a", "stale"]
    assert plan_retention(objects, loc, 10, keep=set()) == ["stale"]


@pytest.mark.parametrize(
    ("uri", "bucket", "prefix", "version"),
    [
        ("s3://bkt/a/b", "bkt", "a/b", None),
        ("s3://bkt/a/b/", "bkt", "a/b", None),
        ("s3://bkt", "bkt", "", None),
        ("s3://bkt/a@latest", "bkt", "a", "latest"),
        ("s3://bkt/a@20260101-ab12", "bkt", "a", "20260101-ab12"),
    ],
)
def test_uri_parsing(uri: str, bucket: str, prefix: str, version: str | None) -> None:
    loc = parse_s3_uri(uri, allow_version=True)
    assert (loc.bucket, loc.prefix, loc.version) == (bucket, prefix, version)


def test_restore_clears_leftovers_of_a_killed_restore(
    s3_server: S3Server, bucket: str, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    add_version(src, "v1", sample_files())
    backup(s3_server, src, f"s3://{bucket}/p")
    dst = tmp_path / "dst"
    (dst / ".tmp-0123456789ab").mkdir(parents=True)  # what kill -9 mid-restore leaves
    (dst / ".tmp-0123456789ab" / "index.faiss").write_bytes(b"half")
    got = restore(s3_server, dst, f"s3://{bucket}/p")
    assert got.code == 0, got.stderr
    assert sorted(p.name for p in dst.iterdir()) == [".lock", "current", "versions"]


def test_a_connection_dropped_mid_download_resumes_where_it_stopped(
    s3_server: S3Server, bucket: str, tmp_path: Path, s3_env: dict[str, str]
) -> None:
    """The real server, with the first artifact response cut after 1 MiB the way a dropped TCP
    connection surfaces in botocore; the restore resumes with a Range request and succeeds."""
    from botocore.exceptions import ResponseStreamingError

    from oozo_runtime.backup.restore import run_restore

    src = tmp_path / "src"
    add_version(src, "v1", sample_files("resume", vectors=4096))
    assert backup(s3_server, src, f"s3://{bucket}/p").code == 0
    real = s3_server.client()
    ranges: list[str | None] = []

    class Cut:
        def __init__(self, body: Any) -> None:
            self.body = body

        def iter_chunks(self, size: int) -> Iterator[bytes]:
            yield self.body.read(1024 * 1024)
            raise ResponseStreamingError(error="connection reset by peer")

    class Flaky:
        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

        def get_object(self, **kw: Any) -> dict[str, Any]:
            resp = real.get_object(**kw)
            if kw["Key"].endswith("index.tar.zst"):
                ranges.append(kw.get("Range"))
                if len(ranges) == 1:
                    resp["Body"] = Cut(resp["Body"])
            return resp

    dst = tmp_path / "dst"
    result = run_restore(dst, parse_s3_uri(f"s3://{bucket}/p", allow_version=True), client=Flaky())
    assert ranges == [None, "bytes=1048576-"]
    assert result.version == "v1"
    assert tree(dst / "current") == tree(src / "current")


def test_the_operator_renders_backup_and_restore_env_from_the_settings_classes() -> None:
    from oozo_contract.backup_settings import BackupSettings, RestoreSettings
    from oozo_contract.settings import env_for

    env = env_for(
        BackupSettings, backup_uri="s3://bkt/ns/name", backup_keep_last=7, s3_endpoint="http://minio:9000"
    )
    assert env == {
        "OOZO_BACKUP_URI": "s3://bkt/ns/name",
        "OOZO_BACKUP_KEEP_LAST": "7",
        "OOZO_S3_ENDPOINT": "http://minio:9000",
    }
    assert env_for(RestoreSettings, restore_uri="s3://bkt/ns/name@latest") == {
        "OOZO_RESTORE_URI": "s3://bkt/ns/name@latest"
    }
    with pytest.raises(ValueError):
        env_for(BackupSettings, backup_uri="s3://bkt/p", backup_keep_last=-1)

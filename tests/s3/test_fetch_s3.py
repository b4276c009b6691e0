"""`fetch_s3` and `oozo fetch s3://...` against the real MinIO: only changed objects are
downloaded, what disappeared is removed, the revision follows the listing, and every failure has
its reason, names the bucket and never a credential."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from devcluster.s3server import S3Server
from oozo_contract.fetch import FetchResult
from oozo_runtime.sources.errors import SourceError
from oozo_runtime.sources.s3 import fetch_s3
from tests.s3.helpers import oozo

HANDBOOK = {
    "handbook/hr/leave.md": b"# Leave\n\nEvery employee has 27 days of paid leave a year.\n",
    "handbook/hr/": b"",  # the "folder" a console creates
    "handbook/travel.md": b"# Travel\n\nBook trains for trips under 600 km.\n",
    "handbook/it/laptops.txt": b"Laptops are replaced every four years.\n",
    "elsewhere/not-mine.md": b"# Outside the prefix\n",
}


@pytest.fixture
def handbook(s3_server: S3Server, bucket: str, s3_env: dict[str, str]) -> Any:
    client = s3_server.client()
    for key, body in HANDBOOK.items():
        client.put_object(Bucket=bucket, Key=key, Body=body)
    return client


def fetch(server: S3Server, bucket: str, into: Path, **options: Any) -> FetchResult:
    return fetch_s3(
        f"s3://{bucket}/handbook", into, into.with_name("state"), endpoint=server.endpoint, **options
    )


def files(into: Path) -> dict[str, bytes]:
    return {p.relative_to(into).as_posix(): p.read_bytes() for p in sorted(into.rglob("*")) if p.is_file()}


def test_first_fetch_brings_every_object_under_the_prefix(
    s3_server: S3Server, bucket: str, handbook: Any, tmp_path: Path
) -> None:
    into = tmp_path / "files"
    result = fetch(s3_server, bucket, into)
    assert (result.kind, result.fetched, result.unchanged, result.removed, result.skipped_objects) == (
        "s3",
        3,
        0,
        0,
        0,
    )
    assert files(into) == {
        k.removeprefix("handbook/"): v
        for k, v in HANDBOOK.items()
        if k.endswith((".md", ".txt")) and k.startswith("handbook/")
    }
    assert result.revision.startswith("sha256:") and len(result.revision) == 71
    assert not any("state" in p.name for p in into.rglob("*"))


def test_an_unchanged_bucket_downloads_nothing_and_keeps_its_revision(
    s3_server: S3Server, bucket: str, handbook: Any, tmp_path: Path
) -> None:
    into = tmp_path / "files"
    first = fetch(s3_server, bucket, into)
    stamp = (into / "travel.md").stat().st_mtime_ns
    again = fetch(s3_server, bucket, into)
    assert (again.fetched, again.unchanged, again.removed, again.revision) == (0, 3, 0, first.revision)
    assert (into / "travel.md").stat().st_mtime_ns == stamp


def test_one_changed_object_is_downloaded_alone_and_changes_the_revision(
    s3_server: S3Server, bucket: str, handbook: Any, tmp_path: Path
) -> None:
    into = tmp_path / "files"
    first = fetch(s3_server, bucket, into)
    handbook.put_object(Bucket=bucket, Key="handbook/travel.md", Body=b"# Travel\n\nTrains under 800 km.\n")
    changed = fetch(s3_server, bucket, into)
    assert (changed.fetched, changed.unchanged, changed.revision != first.revision) == (1, 2, True)
    assert (into / "travel.md").read_bytes() == b"# Travel\n\nTrains under 800 km.\n"


def test_a_deleted_object_is_removed_from_the_folder(
    s3_server: S3Server, bucket: str, handbook: Any, tmp_path: Path
) -> None:
    into = tmp_path / "files"
    fetch(s3_server, bucket, into)
    handbook.delete_object(Bucket=bucket, Key="handbook/it/laptops.txt")
    result = fetch(s3_server, bucket, into)
    assert (result.fetched, result.unchanged, result.removed) == (0, 2, 1)
    assert sorted(files(into)) == ["hr/leave.md", "travel.md"]
    assert not (into / "it").exists()


def test_an_object_over_the_size_cap_is_skipped_with_its_reason(
    s3_server: S3Server, bucket: str, handbook: Any, tmp_path: Path
) -> None:
    handbook.put_object(Bucket=bucket, Key="handbook/big.pdf", Body=b"%PDF" + b"0" * 4096)
    into = tmp_path / "files"
    result = fetch(s3_server, bucket, into, max_object_bytes=1024)
    assert result.fetched == 3 and result.skipped_objects == 1
    assert result.skipped[0].name == "handbook/big.pdf"
    assert result.skipped[0].reason == "4100 bytes, over the 1024-byte cap"
    assert "big.pdf" not in files(into)


def test_a_missing_bucket_is_source_not_found_and_leaves_the_folder_alone(
    s3_server: S3Server, s3_env: dict[str, str], tmp_path: Path
) -> None:
    into = tmp_path / "files"
    into.mkdir()
    (into / "kept.md").write_text("# From an earlier fetch\n")
    with pytest.raises(SourceError) as missing:
        fetch(s3_server, "no-such-bucket-here", into)
    assert missing.value.reason == "SourceNotFound"
    assert "'no-such-bucket-here' does not exist" in missing.value.message
    assert files(into) == {"kept.md": b"# From an earlier fetch\n"}


def test_wrong_credentials_are_source_auth_failed_and_never_shown(
    s3_server: S3Server, bucket: str, handbook: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong-secret-key-000")
    with pytest.raises(SourceError) as denied:
        fetch(s3_server, bucket, tmp_path / "files")
    assert denied.value.reason == "SourceAuthFailed"
    assert denied.value.message.startswith(f"listing s3://{bucket}/handbook/: ")
    for secret in ("wrong-secret-key-000", s3_server.access_key, s3_server.secret_key):
        assert secret not in denied.value.message


def test_an_endpoint_nobody_listens_on_is_source_unreachable(s3_env: dict[str, str], tmp_path: Path) -> None:
    from devcluster.ports import free_port

    with pytest.raises(SourceError) as unreachable:
        fetch_s3(
            "s3://docs/handbook",
            tmp_path / "files",
            tmp_path / "state",
            endpoint=f"http://127.0.0.1:{free_port()}",
        )
    assert unreachable.value.reason == "SourceUnreachable"
    assert "listing s3://docs/handbook/" in unreachable.value.message


def test_oozo_fetch_prints_the_result_and_writes_the_termination_message(
    s3_server: S3Server, bucket: str, handbook: Any, tmp_path: Path
) -> None:
    into, message = tmp_path / "files", tmp_path / "termination-log"
    run = oozo(
        "fetch",
        f"s3://{bucket}/handbook",
        "--into",
        str(into),
        "--s3-endpoint",
        s3_server.endpoint,
        "--s3-path-style",
        "--termination-message-path",
        str(message),
        env=s3_server.env(),
    )
    assert run.code == 0, run.stderr
    assert run.result == json.loads(message.read_text())
    assert {k: run.result[k] for k in ("kind", "fetched", "unchanged", "removed")} == {
        "kind": "s3",
        "fetched": 3,
        "unchanged": 0,
        "removed": 0,
    }
    assert (tmp_path / "files.fetch-state" / "fetch-state.json").is_file()  # the default state folder

    wrong = {**s3_server.env(), "AWS_SECRET_ACCESS_KEY": "wrong-secret-key-000"}
    env_run = oozo(
        "fetch",
        f"s3://{bucket}/handbook",
        env={**wrong, "OOZO_INTO": str(into), "OOZO_S3_ENDPOINT": s3_server.endpoint},
    )
    assert env_run.code == 1 and env_run.stdout == ""
    assert env_run.error["reason"] == "SourceAuthFailed"
    assert "wrong-secret-key-000" not in env_run.stderr and s3_server.secret_key not in env_run.stderr
    assert sorted(files(into)) == ["hr/leave.md", "it/laptops.txt", "travel.md"]

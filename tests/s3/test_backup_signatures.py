"""With a signing key, a bucket writer cannot plant an index (issue 13, Inputs: Restore).

`oozo backup` with OOZO_BACKUP_SIGNING_KEY writes PREFIX/<V>/index.tar.zst.sig, an HMAC-SHA256
over the version, the sha256 and the recorded sizes; `oozo restore` with the key refuses, before
anything is unpacked, a backup that is unsigned (SignatureMissing) or whose signature does not
match it (SignatureInvalid), and the index that was serving stays exactly as it was. The key is
never printed, in the result, the error or the termination message."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devcluster.s3server import S3Server
from tests.s3.conftest import add_version, sample_files, sha256
from tests.s3.helpers import Run, backup
from tests.s3.test_failures import assert_failed, get, put, restore_into, snapshot

KEY = "test-signing-key-7f3a9c2e5b1d4680"
OTHER_KEY = "another-signing-key-0123456789ab"


def signed(server: S3Server, key: str = KEY) -> dict[str, str]:
    return {**server.env(), "OOZO_BACKUP_SIGNING_KEY": key}


def assert_key_never_shown(*runs: Run, msg: Path | None = None) -> None:
    for run in runs:
        for key in (KEY, OTHER_KEY):
            assert key not in run.stdout + run.stderr
    if msg is not None and msg.exists():
        assert KEY not in msg.read_text() and OTHER_KEY not in msg.read_text()


def back_up(server: S3Server, tmp_path: Path, bucket: str, version: str, env: dict[str, str] | None) -> Run:
    src = tmp_path / f"src-{version}"
    add_version(src, version, sample_files(version, vectors=256))
    made = backup(server, src, f"s3://{bucket}/p", env=env)
    assert made.code == 0, made.stderr
    return made


@pytest.fixture
def existing(tmp_path: Path) -> Path:
    index = tmp_path / "serving"
    add_version(index, "old", sample_files("old", vectors=64))
    return index


def test_a_signed_backup_restores_with_its_key(s3_server: S3Server, bucket: str, tmp_path: Path) -> None:
    made = back_up(s3_server, tmp_path, bucket, "v1", signed(s3_server))
    document = json.loads(get(s3_server, bucket, "p/v1/index.tar.zst.sig"))
    assert document["algorithm"] == "HMAC-SHA256" and document["sha256"] == made.result["sha256"]
    run, msg = restore_into(s3_server, tmp_path / "fresh", f"s3://{bucket}/p", env=signed(s3_server))
    assert run.code == 0, run.stderr
    assert run.result["version"] == "v1"
    assert_key_never_shown(made, run, msg=msg)


def test_without_a_key_signatures_are_neither_written_nor_asked_for(
    s3_server: S3Server, bucket: str, tmp_path: Path
) -> None:
    back_up(s3_server, tmp_path, bucket, "v1", None)
    objects = s3_server.client().list_objects_v2(Bucket=bucket, Prefix="p/v1/")["Contents"]
    assert not [o["Key"] for o in objects if o["Key"].endswith(".sig")]
    run, _ = restore_into(s3_server, tmp_path / "fresh", f"s3://{bucket}/p")
    assert run.code == 0, run.stderr


def test_with_a_key_an_unsigned_backup_is_refused_and_the_index_keeps_serving(
    s3_server: S3Server, bucket: str, tmp_path: Path, existing: Path
) -> None:
    """A complete, self-consistent backup planted by someone who may write the bucket but does
    not hold the key."""
    back_up(s3_server, tmp_path, bucket, "planted", None)
    before = snapshot(existing)
    run, msg = restore_into(s3_server, existing, f"s3://{bucket}/p", env=signed(s3_server))
    assert "not signed" in str(assert_failed(run, "SignatureMissing", s3_server, msg)["error"])
    assert snapshot(existing) == before
    assert_key_never_shown(run, msg=msg)


def test_a_backup_signed_with_another_key_is_refused(
    s3_server: S3Server, bucket: str, tmp_path: Path, existing: Path
) -> None:
    back_up(s3_server, tmp_path, bucket, "v1", signed(s3_server, OTHER_KEY))
    before = snapshot(existing)
    run, msg = restore_into(s3_server, existing, f"s3://{bucket}/p", env=signed(s3_server))
    assert_failed(run, "SignatureInvalid", s3_server, msg)
    assert snapshot(existing) == before
    assert_key_never_shown(run, msg=msg)


def test_a_signature_copied_from_another_artifact_is_refused(
    s3_server: S3Server, bucket: str, tmp_path: Path, existing: Path
) -> None:
    back_up(s3_server, tmp_path, bucket, "v1", signed(s3_server))
    back_up(s3_server, tmp_path, bucket, "v2", None)  # planted, unsigned: latest now points at it
    put(s3_server, bucket, "p/v2/index.tar.zst.sig", get(s3_server, bucket, "p/v1/index.tar.zst.sig"))
    before = snapshot(existing)
    run, msg = restore_into(s3_server, existing, f"s3://{bucket}/p", env=signed(s3_server))
    assert_failed(run, "SignatureInvalid", s3_server, msg)
    assert snapshot(existing) == before


def test_a_signed_artifact_replaced_under_its_signature_is_refused(
    s3_server: S3Server, bucket: str, tmp_path: Path, existing: Path
) -> None:
    """The artifact, its marker and backup.json rewritten to agree with each other (another
    index's bytes), the signature kept: it no longer signs what the marker says."""
    back_up(s3_server, tmp_path, bucket, "v1", signed(s3_server))
    other = tmp_path / "other-bucket-content"
    back_up(s3_server, other, bucket, "v2", None)
    artifact = get(s3_server, bucket, "p/v2/index.tar.zst")
    record = json.loads(get(s3_server, bucket, "p/v1/backup.json"))
    record.update(json.loads(get(s3_server, bucket, "p/v2/backup.json")), version="v1")
    put(s3_server, bucket, "p/v1/index.tar.zst", artifact)
    put(s3_server, bucket, "p/v1/backup.json", json.dumps(record).encode())
    put(s3_server, bucket, "p/v1/index.tar.zst.sha256", f"{sha256(artifact)}  index.tar.zst\n".encode())
    before = snapshot(existing)
    run, msg = restore_into(s3_server, existing, f"s3://{bucket}/p@v1", env=signed(s3_server))
    assert_failed(run, "SignatureInvalid", s3_server, msg)
    assert snapshot(existing) == before


def test_setting_a_key_signs_the_stored_version_again_from_its_own_bytes(
    s3_server: S3Server, bucket: str, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    add_version(src, "v1", sample_files("v1", vectors=256))
    assert backup(s3_server, src, f"s3://{bucket}/p").code == 0
    again = backup(s3_server, src, f"s3://{bucket}/p", env=signed(s3_server))
    assert again.code == 0, again.stderr
    assert again.result["unchanged"] is False  # packed and uploaded again, then signed
    assert json.loads(get(s3_server, bucket, "p/v1/index.tar.zst.sig"))["sha256"] == again.result["sha256"]
    third = backup(s3_server, src, f"s3://{bucket}/p", env=signed(s3_server))
    assert third.result["unchanged"] is True  # signed now: a retry is a no-op again
    run, _ = restore_into(s3_server, tmp_path / "fresh", f"s3://{bucket}/p", env=signed(s3_server))
    assert run.code == 0, run.stderr


def test_a_too_short_key_is_an_invalid_setting_that_does_not_show_the_key(
    s3_server: S3Server, bucket: str, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    add_version(src, "v1", sample_files("v1", vectors=16))
    run = backup(s3_server, src, f"s3://{bucket}/p", env=signed(s3_server, "tiny-key-42"))
    assert run.code != 0 and run.error["reason"] == "InvalidSettings"
    assert "OOZO_BACKUP_SIGNING_KEY" in run.error["error"] and "tiny-key-42" not in run.stderr

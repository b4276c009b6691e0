"""Every failure ends the same way: one JSON line {"error", "reason"} on stderr and in the
termination message, a non-zero exit, the previous index untouched, no temp files, and no
credentials anywhere in the output."""

from __future__ import annotations

import io
import json
import os
import tarfile
from pathlib import Path
from typing import Any

import pytest
import xxhash
import zstandard

from devcluster.s3server import S3Server
from tests.s3.conftest import add_version, sample_files, sha256
from tests.s3.helpers import Run, backup, oozo, restore


def snapshot(index: Path) -> dict[str, object]:
    """Everything in an index directory, bytes included (the build lock file aside)."""
    return {
        p.relative_to(index).as_posix(): (
            os.readlink(p) if p.is_symlink() else p.read_bytes() if p.is_file() else "dir"
        )
        for p in sorted(index.rglob("*"))
        if p.name != ".lock"
    }


def assert_failed(run: Run, reason: str, server: S3Server, msg: Path | None = None) -> dict[str, object]:
    assert run.code != 0
    assert run.stdout.strip() == ""
    error = run.error
    assert error["reason"] == reason, run.stderr
    assert "\n" not in str(error["error"])
    for secret in (server.secret_key, server.access_key, "wrong-secret-key-000"):
        assert secret not in run.stdout + run.stderr
    if msg is not None:
        assert json.loads(msg.read_text()) == error
    return error


@pytest.fixture
def existing(tmp_path: Path) -> Path:
    """An index that is serving: any failed restore into it must leave it exactly as it is."""
    index = tmp_path / "serving"
    add_version(index, "old", sample_files("old", vectors=64))
    return index


@pytest.fixture
def stored(s3_server: S3Server, bucket: str, tmp_path: Path) -> str:
    """A complete backup of version v1 under s3://bucket/p; returns the URI."""
    src = tmp_path / "src"
    add_version(src, "v1", sample_files("v1"))
    made = backup(s3_server, src, f"s3://{bucket}/p")
    assert made.code == 0, made.stderr
    return f"s3://{bucket}/p"


def restore_into(
    server: S3Server, index: Path, uri: str, env: dict[str, str] | None = None
) -> tuple[Run, Path]:
    msg = index.parent / "termination-log"
    run = restore(
        server, index, uri, env={**(env or server.env()), "OOZO_TERMINATION_MESSAGE_PATH": str(msg)}
    )
    return run, msg


def put(server: S3Server, bucket: str, key: str, body: bytes) -> None:
    server.client().put_object(Bucket=bucket, Key=key, Body=body)


def get(server: S3Server, bucket: str, key: str) -> bytes:
    return bytes(server.client().get_object(Bucket=bucket, Key=key)["Body"].read())


def publish_artifact(server: S3Server, bucket: str, version: str, artifact: bytes) -> None:
    """Store `artifact` as a complete backup with a matching checksum and record."""
    put(server, bucket, f"p/{version}/index.tar.zst", artifact)
    record = {"version": version, "sha256": sha256(artifact), "sizeBytes": len(artifact)}
    put(server, bucket, f"p/{version}/backup.json", json.dumps(record).encode())
    put(server, bucket, f"p/{version}/index.tar.zst.sha256", f"{sha256(artifact)}  index.tar.zst\n".encode())


def tar_zst(members: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return zstandard.ZstdCompressor().compress(raw.getvalue())


def regular(name: str, data: bytes) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


# --- S3 itself fails --------------------------------------------------------------------------


def test_unreachable_s3(tmp_path: Path, existing: Path) -> None:
    gone = S3Server(tmp_path / "gone").start()
    gone.make_bucket("backups")
    gone.stop()  # the port is now closed
    before = snapshot(existing)
    msg = tmp_path / "backup-termination-log"
    made = backup(
        gone, existing, "s3://backups/p", env={**gone.env(), "OOZO_TERMINATION_MESSAGE_PATH": str(msg)}
    )
    error = assert_failed(made, "Unreachable", gone, msg)
    assert gone.endpoint in str(error["error"])
    run, msg = restore_into(gone, existing, "s3://backups/p")
    assert_failed(run, "Unreachable", gone, msg)
    assert snapshot(existing) == before


def test_wrong_secret_key(s3_server: S3Server, stored: str, existing: Path) -> None:
    env = {**s3_server.env(), "AWS_SECRET_ACCESS_KEY": "wrong-secret-key-000"}
    before = snapshot(existing)
    made = backup(s3_server, existing, stored, env=env)
    assert_failed(made, "InvalidCredentials", s3_server)
    run, msg = restore_into(s3_server, existing, stored, env=env)
    assert_failed(run, "InvalidCredentials", s3_server, msg)
    assert snapshot(existing) == before


def test_no_credentials_at_all(s3_server: S3Server, stored: str, existing: Path, tmp_path: Path) -> None:
    env = {
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "absent"),
        "AWS_CONFIG_FILE": str(tmp_path / "absent"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    run, msg = restore_into(s3_server, existing, stored, env=env)
    assert_failed(run, "NoCredentials", s3_server, msg)


def test_missing_bucket(s3_server: S3Server, existing: Path) -> None:
    before = snapshot(existing)
    made = backup(s3_server, existing, "s3://no-such-bucket-here/p")
    assert "no-such-bucket-here" in str(assert_failed(made, "NoSuchBucket", s3_server)["error"])
    run, msg = restore_into(s3_server, existing, "s3://no-such-bucket-here/p")
    assert_failed(run, "NoSuchBucket", s3_server, msg)
    assert snapshot(existing) == before


def test_restore_of_a_prefix_without_backups(s3_server: S3Server, bucket: str, existing: Path) -> None:
    before = snapshot(existing)
    for uri in (f"s3://{bucket}/nothing", f"s3://{bucket}/nothing@v9"):
        run, msg = restore_into(s3_server, existing, uri)
        assert_failed(run, "BackupNotFound", s3_server, msg)
    assert snapshot(existing) == before


# --- the artifact is damaged or hostile -------------------------------------------------------


def test_checksum_mismatch(s3_server: S3Server, bucket: str, stored: str, existing: Path) -> None:
    artifact = bytearray(get(s3_server, bucket, "p/v1/index.tar.zst"))
    artifact[len(artifact) // 2] ^= 0xFF  # same size, one flipped byte
    put(s3_server, bucket, "p/v1/index.tar.zst", bytes(artifact))
    before = snapshot(existing)
    run, msg = restore_into(s3_server, existing, stored)
    assert_failed(run, "ChecksumMismatch", s3_server, msg)
    assert snapshot(existing) == before  # no .tmp-*, current untouched


def test_truncated_artifact(s3_server: S3Server, bucket: str, stored: str, existing: Path) -> None:
    full = get(s3_server, bucket, "p/v1/index.tar.zst")
    put(s3_server, bucket, "p/v1/index.tar.zst", full[: len(full) // 2])  # .sha256 still of the full one
    before = snapshot(existing)
    run, msg = restore_into(s3_server, existing, stored)
    assert_failed(run, "Truncated", s3_server, msg)
    assert snapshot(existing) == before


@pytest.mark.parametrize("name", ["../escaped.txt", "/tmp/oozo-absolute.txt", "a/../../escaped.txt"])
def test_path_traversal_in_the_archive(
    s3_server: S3Server, bucket: str, existing: Path, tmp_path: Path, name: str
) -> None:
    publish_artifact(
        s3_server, bucket, "evil", tar_zst([regular("manifest.json", b"{}"), regular(name, b"x")])
    )
    before = snapshot(existing)
    run, msg = restore_into(s3_server, existing, f"s3://{bucket}/p@evil")
    assert_failed(run, "UnsafeArchive", s3_server, msg)
    assert snapshot(existing) == before
    assert not (tmp_path / "escaped.txt").exists() and not Path("/tmp/oozo-absolute.txt").exists()


def test_links_in_the_archive_are_refused(s3_server: S3Server, bucket: str, existing: Path) -> None:
    link = tarfile.TarInfo("index.faiss")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
    publish_artifact(s3_server, bucket, "linky", tar_zst([regular("manifest.json", b"{}"), (link, None)]))
    before = snapshot(existing)
    run, msg = restore_into(s3_server, existing, f"s3://{bucket}/p@linky")
    assert_failed(run, "UnsafeArchive", s3_server, msg)
    assert snapshot(existing) == before


@pytest.mark.parametrize("fast_checksums", [True, False], ids=["xxh3-manifest", "sha256-only-manifest"])
def test_files_that_do_not_match_the_manifest(
    s3_server: S3Server, bucket: str, existing: Path, fast_checksums: bool
) -> None:
    manifest: dict[str, Any] = {"version": "lying", "files": {"index.faiss": sha256(b"promised")}}
    if fast_checksums:
        manifest["fileChecksums"] = {"xxh3_128": {"index.faiss": xxhash.xxh3_128(b"promised").hexdigest()}}
    artifact = tar_zst(
        [regular("manifest.json", json.dumps(manifest).encode()), regular("index.faiss", b"other")]
    )
    publish_artifact(s3_server, bucket, "lying", artifact)
    before = snapshot(existing)
    run, msg = restore_into(s3_server, existing, f"s3://{bucket}/p@lying")
    error = str(assert_failed(run, "VerificationFailed", s3_server, msg)["error"])
    assert "index.faiss" in error
    assert ("xxh3_128 differs" if fast_checksums else "sha256 differs") in error
    assert snapshot(existing) == before


# --- the local side fails ---------------------------------------------------------------------


def test_backup_without_an_index(s3_server: S3Server, bucket: str, tmp_path: Path) -> None:
    made = backup(s3_server, tmp_path / "empty", f"s3://{bucket}/p")
    assert_failed(made, "IndexNotFound", s3_server)


@pytest.mark.parametrize("fast_checksums", [True, False], ids=["xxh3-manifest", "sha256-only-manifest"])
def test_a_corrupt_local_version_never_becomes_a_backup(
    s3_server: S3Server, bucket: str, stored: str, tmp_path: Path, fast_checksums: bool
) -> None:
    src = tmp_path / "src2"
    vdir = add_version(src, "v2", sample_files("v2"), fast_checksums=fast_checksums)
    (vdir / "chunks.jsonl").write_bytes(b"bit rot")  # no longer what the manifest says
    made = backup(s3_server, src, stored)
    assert_failed(made, "VerificationFailed", s3_server)
    names = [o["Key"] for o in s3_server.client().list_objects_v2(Bucket=bucket)["Contents"]]
    assert not [k for k in names if k.startswith("p/v2/")]  # the streamed artifact was removed
    assert get(s3_server, bucket, "p/latest") == b"v1\n"


def test_a_different_index_under_an_existing_version_name_is_refused(
    s3_server: S3Server, bucket: str, stored: str, tmp_path: Path
) -> None:
    src = tmp_path / "other"
    add_version(src, "v1", sample_files("something else"))
    before = get(s3_server, bucket, "p/v1/index.tar.zst")
    made = backup(s3_server, src, stored)
    assert_failed(made, "VersionConflict", s3_server)
    assert get(s3_server, bucket, "p/v1/index.tar.zst") == before


def test_bad_uri_is_a_clear_error(s3_server: S3Server, existing: Path) -> None:
    made = oozo("backup", "--index", str(existing), "--to", "https://not-s3/x", env=s3_server.env())
    assert_failed(made, "InvalidURI", s3_server)
    missing = oozo("backup", "--index", str(existing), env=s3_server.env())
    assert_failed(missing, "InvalidSettings", s3_server)


def test_a_restore_is_refused_while_a_build_holds_the_index(
    s3_server: S3Server, stored: str, existing: Path
) -> None:
    from oozo_runtime.versions import build_lock

    before = snapshot(existing)
    with build_lock(existing):  # an `oozo index` is publishing into this directory right now
        run, msg = restore_into(s3_server, existing, stored)
    assert_failed(run, "IndexBusy", s3_server, msg)
    assert snapshot(existing) == before


def test_sigterm_mid_restore_leaves_the_index_as_it_was(
    s3_server: S3Server, bucket: str, existing: Path, tmp_path: Path
) -> None:
    import signal
    import subprocess
    import time

    from tests.s3.helpers import OOZO

    big = tmp_path / "big"
    add_version(big, "big", {"index.faiss": os.urandom(96 * 1024 * 1024)})
    made = backup(s3_server, big, f"s3://{bucket}/p")
    assert made.code == 0, made.stderr
    before = snapshot(existing)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "OOZO_"))} | s3_server.env()
    proc = subprocess.Popen(
        [str(OOZO), "restore", "--from", f"s3://{bucket}/p", "--index", str(existing),
         "--endpoint", s3_server.endpoint],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not list(existing.glob(".tmp-*")) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.001)
    proc.send_signal(signal.SIGTERM)  # the Job was deleted while the restore streamed
    _, err = proc.communicate(timeout=60)
    if proc.returncode == 0:
        pytest.skip("the restore finished before the signal arrived")
    assert proc.returncode == 143
    assert json.loads(err.strip().splitlines()[-1])["reason"] == "Interrupted"
    assert snapshot(existing) == before


@pytest.mark.parametrize("fast_checksums", [True, False], ids=["xxh3-manifest", "sha256-only-manifest"])
def test_rot_found_mid_stream_aborts_the_multipart_upload(
    s3_server: S3Server, bucket: str, tmp_path: Path, fast_checksums: bool
) -> None:
    src = tmp_path / "rotten"
    files = {"a.bin": os.urandom(40 * 1024 * 1024), "b.bin": os.urandom(40 * 1024 * 1024)}
    vdir = add_version(src, "v3", files, fast_checksums=fast_checksums)
    with (vdir / "a.bin").open("r+b") as f:  # one flipped byte in the first of two large files
        f.seek(1000)
        byte = f.read(1)
        f.seek(1000)
        f.write(bytes([byte[0] ^ 0xFF]))
    made = backup(s3_server, src, f"s3://{bucket}/p")
    error = str(assert_failed(made, "VerificationFailed", s3_server)["error"])
    assert "a.bin" in error
    assert ("xxh3_128 differs" if fast_checksums else "sha256 differs") in error
    client = s3_server.client()
    assert client.list_objects_v2(Bucket=bucket).get("KeyCount") == 0
    assert not client.list_multipart_uploads(Bucket=bucket).get("Uploads")


def test_read_only_credentials_can_restore_but_not_back_up(
    s3_server: S3Server, bucket: str, stored: str, existing: Path, tmp_path: Path
) -> None:
    """Session credentials (AWS_SESSION_TOKEN) allowed only s3:GetObject and s3:ListBucket."""
    read_only = s3_server.session_env(["s3:GetObject", "s3:ListBucket"])
    before = get(s3_server, bucket, "p/latest")
    src = tmp_path / "newer"
    add_version(src, "v9", sample_files("v9"))
    made = backup(s3_server, src, stored, env=read_only)
    error = assert_failed(made, "AccessDenied", s3_server)
    assert (
        read_only["AWS_SECRET_ACCESS_KEY"] not in made.stderr
        and read_only["AWS_SESSION_TOKEN"] not in made.stderr
    )
    assert bucket in str(error["error"])
    assert get(s3_server, bucket, "p/latest") == before

    run, _ = restore_into(s3_server, existing, stored, env=read_only)
    assert run.code == 0, run.stderr
    assert os.readlink(existing / "current") == "versions/v1"

"""A restore unpacks no more than the backup recorded (issue 13, Inputs: Restore).

backup.json records the artifact's size and the exact size of the tar stream it unpacks to
(uncompressedSizeBytes). Whatever the artifact holds, a restore stops there: a member grown, a
member added, a small artifact that expands to gigabytes of zeros fail with
ExceedsRecordedSize, and the index that was serving stays exactly as it was. Each tampered
artifact here comes with a matching .sha256 marker and sizeBytes, the way a bucket writer would
plant it, so only the recorded unpacked size stands in the way (a signing key also protects
that number: test_backup_signatures.py)."""

from __future__ import annotations

import io
import json
import os
import tarfile
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
import zstandard

from devcluster.s3server import S3Server
from tests.s3.conftest import add_version, sample_files, sha256
from tests.s3.helpers import backup
from tests.s3.test_failures import assert_failed, get, put, restore_into, snapshot

MiB = 1024 * 1024


class Zeros:
    """`size` zero bytes as a file, without holding them: a bomb built in constant memory."""

    def __init__(self, size: int) -> None:
        self.left = size

    def read(self, n: int = -1) -> bytes:
        n = self.left if n < 0 else min(n, self.left)
        self.left -= n
        return bytes(n)


Member = tuple[tarfile.TarInfo, "io.BytesIO | Zeros | None"]


def members_of(artifact: bytes) -> list[tuple[tarfile.TarInfo, bytes | None]]:
    raw = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(artifact)).read()
    out: list[tuple[tarfile.TarInfo, bytes | None]] = []
    with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as tar:
        for info in tar.getmembers():
            data = tar.extractfile(info)
            out.append((info, data.read() if data else None))
    return out


def repack(members: Sequence[Member]) -> bytes:
    out = io.BytesIO()
    with (
        zstandard.ZstdCompressor().stream_writer(out, closefd=False) as zout,
        tarfile.open(fileobj=zout, mode="w|", format=tarfile.PAX_FORMAT) as tar,
    ):
        for info, data in members:
            tar.addfile(info, data)
    return out.getvalue()


def grown(members: list[tuple[tarfile.TarInfo, bytes | None]]) -> list[Member]:
    """chunks.jsonl with 8 MiB more text than it had."""
    out: list[Member] = []
    for info, data in members:
        if info.name == "chunks.jsonl" and data is not None:
            data = data + b"x" * (8 * MiB)
            info.size = len(data)
        out.append((info, io.BytesIO(data) if data is not None else None))
    return out


def added(members: list[tuple[tarfile.TarInfo, bytes | None]]) -> list[Member]:
    """Every member as it was, and one more of 4 MiB."""
    extra = tarfile.TarInfo("extra.bin")
    extra.size = 4 * MiB
    return [(i, io.BytesIO(d) if d is not None else None) for i, d in members] + [(extra, Zeros(extra.size))]


def bomb(members: list[tuple[tarfile.TarInfo, bytes | None]]) -> list[Member]:
    """The manifest as it was, then 1 GiB of zeros named index.faiss: a few dozen KiB packed."""
    out: list[Member] = [(i, io.BytesIO(d)) for i, d in members if i.name == "manifest.json" and d]
    faiss = tarfile.TarInfo("index.faiss")
    faiss.size = 1024 * MiB
    return [*out, (faiss, Zeros(faiss.size))]


def header_bomb(members: list[tuple[tarfile.TarInfo, bytes | None]]) -> list[Member]:
    """Every member as it was, the first with an 8 MiB PAX header: no member data is too large,
    the tar stream itself is (a reader would otherwise hold the whole header in memory)."""
    out: list[Member] = [(i, io.BytesIO(d) if d is not None else None) for i, d in members]
    out[0][0].pax_headers = {"comment": "x" * (8 * MiB)}
    return out


def plant(
    server: S3Server, bucket: str, version: str, artifact: bytes, record_changes: dict[str, object]
) -> None:
    """Replace a stored version's artifact with a marker and sizeBytes that match it, keeping the
    rest of backup.json (its uncompressedSizeBytes above all) unless `record_changes` says else."""
    record = json.loads(get(server, bucket, f"p/{version}/backup.json"))
    record.update({"sha256": sha256(artifact), "sizeBytes": len(artifact), **record_changes})
    record = {k: v for k, v in record.items() if v is not None}
    put(server, bucket, f"p/{version}/index.tar.zst", artifact)
    put(server, bucket, f"p/{version}/backup.json", json.dumps(record).encode())
    put(server, bucket, f"p/{version}/index.tar.zst.sha256", f"{sha256(artifact)}  index.tar.zst\n".encode())


@pytest.fixture
def existing(tmp_path: Path) -> Path:
    index = tmp_path / "serving"
    add_version(index, "old", sample_files("old", vectors=64))
    return index


@pytest.fixture
def stored(s3_server: S3Server, bucket: str, tmp_path: Path) -> str:
    src = tmp_path / "src"
    add_version(src, "v1", sample_files("v1"))
    made = backup(s3_server, src, f"s3://{bucket}/p")
    assert made.code == 0, made.stderr
    return f"s3://{bucket}/p"


def test_backup_records_the_exact_size_its_artifact_unpacks_to(
    s3_server: S3Server, bucket: str, stored: str
) -> None:
    record = json.loads(get(s3_server, bucket, "p/v1/backup.json"))
    artifact = get(s3_server, bucket, "p/v1/index.tar.zst")
    tar_stream = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(artifact)).read()
    assert record["uncompressedSizeBytes"] == len(tar_stream)
    assert record["sizeBytes"] == len(artifact)


@pytest.mark.parametrize(
    "tamper",
    [grown, added, bomb, header_bomb],
    ids=["member-grown", "member-added", "zero-bomb", "pax-header-bomb"],
)
def test_a_restore_stops_at_the_unpacked_size_the_backup_recorded_and_the_index_keeps_serving(
    s3_server: S3Server,
    bucket: str,
    stored: str,
    existing: Path,
    tamper: Callable[[list[tuple[tarfile.TarInfo, bytes | None]]], list[Member]],
) -> None:
    artifact = repack(tamper(members_of(get(s3_server, bucket, "p/v1/index.tar.zst"))))
    plant(s3_server, bucket, "v1", artifact, {})
    before = snapshot(existing)
    run, msg = restore_into(s3_server, existing, stored)
    error = str(assert_failed(run, "ExceedsRecordedSize", s3_server, msg)["error"])
    assert "p/v1/backup.json recorded" in error
    assert snapshot(existing) == before  # current untouched, no .tmp-* left


def test_an_added_member_within_the_recorded_size_is_refused_by_the_manifest(
    s3_server: S3Server, bucket: str, stored: str, existing: Path
) -> None:
    """A bucket writer who also rewrites uncompressedSizeBytes gets past the size bound (a
    signing key stops that); the files are still held to the manifest, which names the extra."""
    members = members_of(get(s3_server, bucket, "p/v1/index.tar.zst"))
    extra = tarfile.TarInfo("extra.txt")
    extra.size = 3
    artifact = repack(
        [(i, io.BytesIO(d) if d is not None else None) for i, d in members] + [(extra, io.BytesIO(b"hi!"))]
    )
    tar_bytes = len(zstandard.ZstdDecompressor().stream_reader(io.BytesIO(artifact)).read())
    plant(s3_server, bucket, "v1", artifact, {"uncompressedSizeBytes": tar_bytes})
    before = snapshot(existing)
    run, msg = restore_into(s3_server, existing, stored)
    error = str(assert_failed(run, "VerificationFailed", s3_server, msg)["error"])
    assert "unexpected: extra.txt" in error
    assert snapshot(existing) == before


def test_an_artifact_larger_than_recorded_is_refused_before_it_is_downloaded(
    s3_server: S3Server, bucket: str, stored: str, existing: Path
) -> None:
    artifact = get(s3_server, bucket, "p/v1/index.tar.zst")
    put(s3_server, bucket, "p/v1/index.tar.zst", artifact + os.urandom(4096))  # record left as it was
    before = snapshot(existing)
    run, msg = restore_into(s3_server, existing, stored)
    error = str(assert_failed(run, "ExceedsRecordedSize", s3_server, msg)["error"])
    assert "nothing unpacked" in error
    assert snapshot(existing) == before


def test_a_backup_that_recorded_no_unpacked_size_still_restores(
    s3_server: S3Server, bucket: str, stored: str, tmp_path: Path
) -> None:
    """Backups written before uncompressedSizeBytes existed stay restorable."""
    artifact = get(s3_server, bucket, "p/v1/index.tar.zst")
    plant(s3_server, bucket, "v1", artifact, {"uncompressedSizeBytes": None})
    assert "uncompressedSizeBytes" not in json.loads(get(s3_server, bucket, "p/v1/backup.json"))
    run, _ = restore_into(s3_server, tmp_path / "fresh", stored)
    assert run.code == 0, run.stderr
    assert run.result["version"] == "v1"


def test_a_backup_that_recorded_no_unpacked_size_is_bounded_by_a_hundred_times_its_size(
    s3_server: S3Server, bucket: str, stored: str, existing: Path
) -> None:
    artifact = repack(bomb(members_of(get(s3_server, bucket, "p/v1/index.tar.zst"))))
    plant(s3_server, bucket, "v1", artifact, {"uncompressedSizeBytes": None})
    before = snapshot(existing)
    run, msg = restore_into(s3_server, existing, stored)
    error = str(assert_failed(run, "ExceedsRecordedSize", s3_server, msg)["error"])
    assert "recorded no unpacked size" in error
    assert snapshot(existing) == before

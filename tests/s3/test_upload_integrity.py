"""How the server checks the bytes a backup sends (OOZO_BACKUP_UPLOAD_CHECKSUM), against a real
MinIO: every object and every part carries a CRC32 the server verified, or, in sha256 mode, a
SigV4-signed body; bytes corrupted on the way are refused in both modes and nothing is published."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from devcluster.s3server import S3Server
from oozo_runtime.backup import s3
from oozo_runtime.backup.backup import run_backup
from oozo_runtime.backup.errors import BackupError
from oozo_runtime.backup.uri import parse_s3_uri
from tests.s3.conftest import add_version, sample_files, tree
from tests.s3.helpers import backup, restore

MiB = 1024 * 1024


def large_index(root: Path, version: str = "v1") -> Path:
    """Random bytes that do not compress: 40 MiB make an artifact of three 16 MiB parts."""
    add_version(root, version, {**sample_files(version, vectors=16), "index.faiss": os.urandom(40 * MiB)})
    return root


def stored_checksums(server: S3Server, bucket: str) -> dict[str, dict[str, Any]]:
    client = server.client()
    out = {}
    for obj in client.list_objects_v2(Bucket=bucket).get("Contents", []):
        head = client.head_object(Bucket=bucket, Key=obj["Key"], ChecksumMode="ENABLED")
        out[obj["Key"]] = {k: v for k, v in head.items() if k.startswith("Checksum")}
    return out


def test_every_object_and_part_carries_a_crc32_the_server_checked(
    s3_server: S3Server, bucket: str, tmp_path: Path
) -> None:
    src = large_index(tmp_path / "src")
    made = backup(s3_server, src, f"s3://{bucket}/p")
    assert made.code == 0, made.stderr

    stored = stored_checksums(s3_server, bucket)
    artifact = stored["p/v1/index.tar.zst"]
    client = s3_server.client()
    parts = client.head_object(Bucket=bucket, Key="p/v1/index.tar.zst", PartNumber=1)["PartsCount"]
    assert parts == 3
    if artifact["ChecksumType"] == "COMPOSITE":  # AWS: a CRC32 of the three parts' CRC32s
        assert artifact["ChecksumCRC32"].endswith("-3")
    else:  # MinIO combines the parts' CRC32s into the whole object's
        whole = client.get_object(Bucket=bucket, Key="p/v1/index.tar.zst")["Body"].read()
        assert artifact == {"ChecksumType": "FULL_OBJECT", "ChecksumCRC32": s3.crc32_base64(whole)}
    for key in ("p/v1/manifest.json", "p/v1/backup.json", "p/v1/index.tar.zst.sha256", "p/latest"):
        body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
        assert stored[key]["ChecksumCRC32"] == s3.crc32_base64(body), key

    got = restore(s3_server, tmp_path / "dst", f"s3://{bucket}/p")
    assert got.code == 0, got.stderr
    assert tree(tmp_path / "dst" / "current") == tree(src / "current")


def test_sha256_mode_signs_the_bodies_instead(s3_server: S3Server, bucket: str, tmp_path: Path) -> None:
    """For S3-compatible servers that refuse x-amz-checksum headers."""
    src = large_index(tmp_path / "src")
    made = backup(
        s3_server, src, f"s3://{bucket}/p", env={**s3_server.env(), "OOZO_BACKUP_UPLOAD_CHECKSUM": "sha256"}
    )
    assert made.code == 0, made.stderr
    assert all("ChecksumCRC32" not in c for c in stored_checksums(s3_server, bucket).values())
    got = restore(s3_server, tmp_path / "dst", f"s3://{bucket}/p")
    assert got.code == 0, got.stderr
    assert tree(tmp_path / "dst" / "current") == tree(src / "current")


@pytest.mark.parametrize("upload_checksum", s3.UPLOAD_CHECKSUMS)
def test_a_part_corrupted_on_the_way_is_refused_and_nothing_is_published(
    s3_server: S3Server, s3_env: dict[str, str], bucket: str, tmp_path: Path, upload_checksum: str
) -> None:
    loc = parse_s3_uri(f"s3://{bucket}/p", allow_version=True)
    first = run_backup(large_index(tmp_path / "first", "v1"), loc, endpoint=s3_server.endpoint)
    before = stored_checksums(s3_server, bucket)

    client = s3.make_client(s3_server.endpoint, upload_checksum=upload_checksum)

    def flip_a_bit_of_part_2(request: Any, **_: Any) -> None:
        # After the checksum and the signature were computed: what a bad NIC or proxy would do.
        if "partNumber=2" in request.url:
            data = bytearray(request.body.read())
            request.body.seek(0)
            data[12345] ^= 0x01
            request.body = bytes(data)

    client.meta.events.register("before-send.s3.UploadPart", flip_a_bit_of_part_2)
    with pytest.raises(BackupError) as failed:
        run_backup(
            large_index(tmp_path / "second", "v2"),
            loc,
            endpoint=s3_server.endpoint,
            upload_checksum=upload_checksum,
            client=client,
        )
    assert failed.value.reason == "ChecksumMismatch"
    assert "corrupted on the way" in failed.value.message
    assert stored_checksums(s3_server, bucket) == before  # no v2 object, `latest` still v1
    assert s3_server.client().get_object(Bucket=bucket, Key="p/latest")["Body"].read() == b"v1\n"
    assert not s3_server.client().list_multipart_uploads(Bucket=bucket).get("Uploads")
    assert first.version == "v1"

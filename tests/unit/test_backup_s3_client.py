"""The backup's S3 client: how each upload's CRC32 is filled in, and the choice between a CRC32
per part and a SigV4-signed body."""

from __future__ import annotations

import base64
import io
import zlib

import pytest
from pydantic import ValidationError

from oozo_contract.backup_settings import BackupSettings
from oozo_runtime.backup import s3
from oozo_runtime.backup.errors import BackupError


def test_crc32_of_bytes_and_of_a_stream_agree_and_the_stream_is_left_where_it_was() -> None:
    data = bytes(range(256)) * 9000  # more than one 1 MiB read
    expected = base64.b64encode(zlib.crc32(data[100:]).to_bytes(4, "big")).decode()
    stream = io.BytesIO(data)
    stream.seek(100)
    assert s3.crc32_base64(stream) == expected == s3.crc32_base64(data[100:])
    assert stream.tell() == 100


def test_a_crc32_is_added_unless_the_caller_chose_a_checksum() -> None:
    params = {"Bucket": "b", "Key": "k", "Body": b"hello"}
    s3._add_crc32(params)
    assert params["ChecksumAlgorithm"] == "CRC32"
    assert params["ChecksumCRC32"] == s3.crc32_base64(b"hello")

    chosen = {"Body": b"hello", "ChecksumAlgorithm": "SHA256"}
    s3._add_crc32(chosen)
    assert chosen == {"Body": b"hello", "ChecksumAlgorithm": "SHA256"}  # botocore computes that one


def test_crc32_mode_sends_unsigned_bodies_and_sha256_mode_signs_them() -> None:
    crc = s3.make_client("http://127.0.0.1:9", upload_checksum="crc32")
    signed = s3.make_client("http://127.0.0.1:9")
    assert crc.meta.config.s3["payload_signing_enabled"] is False
    assert "payload_signing_enabled" not in signed.meta.config.s3
    assert s3.upload_args("crc32") == {"ChecksumAlgorithm": "CRC32"}
    assert s3.upload_args("sha256") == {}


def test_an_unknown_upload_checksum_is_refused() -> None:
    with pytest.raises(BackupError, match="upload checksum"):
        s3.make_client(upload_checksum="md5")
    with pytest.raises(ValidationError, match="backup_upload_checksum"):
        BackupSettings(backup_uri="s3://b/p", backup_upload_checksum="md5")


def test_the_setting_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OOZO_BACKUP_URI", "s3://b/p")
    assert BackupSettings().backup_upload_checksum == "crc32"
    monkeypatch.setenv("OOZO_BACKUP_UPLOAD_CHECKSUM", "sha256")
    assert BackupSettings().backup_upload_checksum == "sha256"

"""The S3 client and the translation of botocore's exceptions into one-line BackupErrors.

Credentials come from the standard AWS chain: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY /
AWS_SESSION_TOKEN, or a shared credentials file (AWS_SHARED_CREDENTIALS_FILE, e.g. a mounted
Secret), or an instance/IRSA role. This module never reads or prints them itself.
"""

from __future__ import annotations

import base64
import contextlib
import zlib
from collections.abc import Iterator
from typing import Any

from oozo_runtime import s3client
from oozo_runtime.backup import errors as e
from oozo_runtime.backup.errors import BackupError

_CREDENTIAL_CODES = s3client.CREDENTIAL_CODES
_NOT_FOUND_CODES = s3client.NOT_FOUND_CODES
# The server computed another checksum of the bytes it received than the one sent with them.
_DIGEST_CODES = {"BadDigest", "XAmzContentChecksumMismatch", "XAmzContentSHA256Mismatch", "InvalidDigest"}

# How the bytes of each upload are checked (OOZO_BACKUP_UPLOAD_CHECKSUM).
UPLOAD_CHECKSUMS = ("crc32", "sha256")


redact_endpoint = s3client.redact_endpoint


def make_client(
    endpoint: str | None = None, region: str | None = None, *, upload_checksum: str = "sha256"
) -> Any:
    """An S3 client for AWS or any S3-compatible endpoint (path-style addressing there, since
    MinIO, Ceph and friends rarely have wildcard DNS for virtual-hosted buckets).

    `upload_checksum` says how the server checks the bytes of a PutObject or UploadPart:
    - "sha256": botocore's default over plain HTTP, the body's sha256 is part of the SigV4
      signature; both ends hash every byte for it.
    - "crc32": the body is sent as UNSIGNED-PAYLOAD (what botocore does over HTTPS by default)
      with an x-amz-checksum-crc32 header, which the server verifies before it keeps the part:
      0.25 CPU-s per GB here against 0.6 for a sha256, and no hashing for the signature on the
      server. Backup uses it: the artifact's own sha256, in the .sha256 marker, still proves
      the whole artifact end to end on restore.
    """
    if upload_checksum not in UPLOAD_CHECKSUMS:
        raise BackupError(e.INVALID_SETTINGS, f"upload checksum must be one of {UPLOAD_CHECKSUMS}")
    options = s3client.client_options(endpoint, path_style=bool(endpoint))
    if upload_checksum == "crc32":
        options["s3"]["payload_signing_enabled"] = False
    client = s3client.new_client(endpoint, region, options)
    if upload_checksum == "crc32":
        for operation in ("PutObject", "UploadPart"):
            client.meta.events.register(f"before-parameter-build.s3.{operation}", _add_crc32)
    return client


def upload_args(upload_checksum: str) -> dict[str, str]:
    """ExtraArgs for a multipart upload: declaring the algorithm when the upload is created makes
    s3transfer list each part's CRC32 in CompleteMultipartUpload, as AWS requires."""
    return {"ChecksumAlgorithm": "CRC32"} if upload_checksum == "crc32" else {}


def _add_crc32(params: dict[str, Any], **_: Any) -> None:
    """Fill x-amz-checksum-crc32 from the body. Computed here rather than left to botocore, so
    it goes as a header: botocore would send it over HTTPS as an aws-chunked trailer."""
    if params.get("ChecksumAlgorithm", "CRC32").upper() != "CRC32" or "ChecksumCRC32" in params:
        return  # the caller chose its own checksum
    params["ChecksumAlgorithm"] = "CRC32"
    params["ChecksumCRC32"] = crc32_base64(params.get("Body", b""))


def crc32_base64(body: Any) -> str:
    """CRC32 of bytes, or of a seekable stream from where it stands (left where it was)."""
    if isinstance(body, (bytes, bytearray, memoryview)):
        crc = zlib.crc32(body)
    else:
        start, crc = body.tell(), 0
        while chunk := body.read(1024 * 1024):
            crc = zlib.crc32(chunk, crc)
        body.seek(start)
    return base64.b64encode(crc.to_bytes(4, "big")).decode()


_error_code = s3client.error_code
_is_connection_error = s3client.is_connection_error


def translate(exc: BaseException, what: str, bucket: str, endpoint: str | None) -> BackupError:
    """Map an exception raised while doing `what` to a BackupError with a stable reason."""
    from botocore.exceptions import NoCredentialsError, PartialCredentialsError

    where = redact_endpoint(endpoint) or "AWS S3"
    if isinstance(exc, BackupError):
        return exc
    if isinstance(exc, (NoCredentialsError, PartialCredentialsError)):
        return BackupError(
            e.NO_CREDENTIALS,
            f"{what}: no S3 credentials found (set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY "
            "or AWS_SHARED_CREDENTIALS_FILE)",
        )
    if _is_connection_error(exc):
        return BackupError(e.UNREACHABLE, f"{what}: cannot reach S3 at {where}")
    code = _error_code(exc)
    if code is None and isinstance(exc, OSError):
        return BackupError(e.LOCAL_IO, f"{what}: {exc}")
    if code in _CREDENTIAL_CODES:
        return BackupError(e.INVALID_CREDENTIALS, f"{what}: S3 at {where} rejected the credentials ({code})")
    if code in s3client.ACCESS_DENIED_CODES:
        return BackupError(e.ACCESS_DENIED, f"{what}: access denied to bucket {bucket!r} at {where}")
    if code in _DIGEST_CODES:
        return BackupError(
            e.CHECKSUM_MISMATCH,
            f"{what}: S3 at {where} received bytes that do not match their checksum ({code}); "
            "they were corrupted on the way and were not kept",
        )
    if code == "NoSuchBucket":
        return BackupError(e.NO_SUCH_BUCKET, f"{what}: bucket {bucket!r} does not exist at {where}")
    if code in _NOT_FOUND_CODES:
        return BackupError(e.BACKUP_NOT_FOUND, f"{what}: not found in bucket {bucket!r}")
    detail = code or type(exc).__name__
    return BackupError(e.S3_ERROR, f"{what}: S3 error {detail} at {where}")


@contextlib.contextmanager
def s3_errors(what: str, bucket: str, endpoint: str | None) -> Iterator[None]:
    try:
        yield
    except BackupError:
        raise
    except Exception as exc:
        if not _is_s3_failure(exc):
            raise  # a bug, not an S3 failure: keep its traceback
        raise translate(exc, what, bucket, endpoint) from exc


def _is_s3_failure(exc: BaseException) -> bool:
    from boto3.exceptions import Boto3Error
    from botocore.exceptions import BotoCoreError, ClientError
    from s3transfer import exceptions as t

    kinds = (
        BotoCoreError,
        ClientError,
        Boto3Error,
        t.RetriesExceededError,
        t.S3UploadFailedError,
        t.S3DownloadFailedError,
        OSError,
    )
    return isinstance(exc, kinds)


def get_text(client: Any, bucket: str, key: str) -> str | None:
    """An object's text, or None if the key does not exist (other errors propagate)."""
    from botocore.exceptions import ClientError

    try:
        body = client.get_object(Bucket=bucket, Key=key)["Body"]
    except ClientError as exc:
        if _error_code(exc) in _NOT_FOUND_CODES:
            return None
        raise
    with contextlib.closing(body):
        return str(body.read().decode("utf-8"))


def put_bytes(
    client: Any, bucket: str, key: str, data: bytes, content_type: str, metadata: dict[str, str] | None = None
) -> None:
    client.put_object(Bucket=bucket, Key=key, Body=data, ContentType=content_type, Metadata=metadata or {})


def list_objects(client: Any, bucket: str, prefix: str) -> Iterator[dict[str, Any]]:
    paginator = client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        yield from page.get("Contents", [])


def delete_keys(client: Any, bucket: str, keys: list[str]) -> None:
    for start in range(0, len(keys), 1000):
        batch = [{"Key": k} for k in keys[start : start + 1000]]
        resp = client.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
        if resp.get("Errors"):
            first = resp["Errors"][0]
            raise BackupError(
                e.S3_ERROR, f"deleting {first.get('Key')!r} failed: {first.get('Code')} (retention)"
            )

"""What every S3 user in the runtime shares: how a boto3 client is built (timeouts, retries,
addressing), how botocore's exceptions are recognised, and an endpoint made safe to print.

Used by the backup (`backup/s3.py`) and the S3 document fetcher (`sources/s3.py`), which turn the
same failures into their own reasons. Credentials come from boto3's default chain (AWS_* env, a
shared credentials file, a workload identity); this module never reads or prints them.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit, urlunsplit

# botocore error codes that mean "the server did not accept who you are".
CREDENTIAL_CODES = frozenset(
    {
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "InvalidToken",
        "ExpiredToken",
        "InvalidClientTokenId",
        "AuthorizationHeaderMalformed",
    }
)
ACCESS_DENIED_CODES = frozenset({"AccessDenied", "403", "Forbidden"})
NOT_FOUND_CODES = frozenset({"NoSuchKey", "404", "NotFound"})


def redact_endpoint(endpoint: str | None) -> str | None:
    """An endpoint URL without any user:password@ part or query, safe to print."""
    if not endpoint:
        return endpoint
    parts = urlsplit(endpoint)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def client_options(endpoint: str | None, *, path_style: bool) -> dict[str, Any]:
    """botocore Config options: bounded connect/read time, three attempts with standard backoff.

    Path-style addressing is for S3-compatible servers (MinIO, Ceph, ...), which rarely have
    wildcard DNS for virtual-hosted buckets. With an explicit endpoint, newer SDKs' default CRC
    checksums on every request (aws-chunked trailers over HTTPS) are turned off: several
    S3-compatible servers reject them.
    """
    options: dict[str, Any] = {
        "retries": {"max_attempts": 3, "mode": "standard"},
        "connect_timeout": 5,
        "read_timeout": 60,
        "max_pool_connections": 16,
        "s3": {"addressing_style": "path"} if path_style else {},
    }
    if endpoint:
        options["request_checksum_calculation"] = "when_required"
        options["response_checksum_validation"] = "when_required"
    return options


def new_client(
    endpoint: str | None,
    region: str | None,
    options: dict[str, Any],
    credentials: dict[str, str] | None = None,
) -> Any:
    """An S3 client; without `endpoint` boto3 also honours AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL.
    `credentials` (aws_access_key_id, aws_secret_access_key, aws_session_token) replace the AWS
    environment's for this client only."""
    import boto3
    from botocore.config import Config

    session = boto3.session.Session(**(credentials or {}))
    return session.client(
        "s3",
        endpoint_url=endpoint or None,
        region_name=region or session.region_name or ("us-east-1" if endpoint else None),
        config=Config(**options),
    )


def error_code(exc: BaseException) -> str | None:
    """The S3 error code of `exc` or of an exception it wraps, if any."""
    from botocore.exceptions import ClientError

    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, ClientError):
            return str(cur.response.get("Error", {}).get("Code", "")) or None
        # boto3's S3UploadFailedError only keeps the message: "... An error occurred (Code) ..."
        match = re.search(r"An error occurred \((\w+)\)", str(cur))
        if match:
            return match.group(1)
        cur = cur.__cause__ or cur.__context__
    return None


def is_connection_error(exc: BaseException) -> bool:
    """True when the server never answered: refused, timed out, closed mid-way, no DNS."""
    from botocore.exceptions import (
        ConnectionClosedError,
        ConnectTimeoutError,
        EndpointConnectionError,
        ReadTimeoutError,
    )

    kinds = (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError, ConnectionClosedError)
    cur: BaseException | None = exc
    seen: set[int] = set()
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, kinds):
            return True
        cur = cur.__cause__ or cur.__context__
    return False

"""`s3://BUCKET/PREFIX[@VERSION]` and the object layout under it.

PREFIX/<VERSION>/index.tar.zst          the artifact: tar of the version directory, zstd
PREFIX/<VERSION>/manifest.json          the version's manifest, readable without unpacking
PREFIX/<VERSION>/backup.json            {version, sha256, sizeBytes, uncompressedSizeBytes, time, ...}
PREFIX/<VERSION>/index.tar.zst.sig      with a signing key: HMAC-SHA256 of the above (signing.py)
PREFIX/<VERSION>/index.tar.zst.sha256   `sha256sum` format; written last: marks it complete
PREFIX/latest                           the newest complete version's name; written after it
PREFIX/oozo-owner.json                  who writes this prefix: written before the first upload

These are the only names Oozo ever writes, and so the only names it ever deletes (VERSION_FILES,
under a first-level folder whose name is a version name).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from oozo_runtime.backup.errors import INVALID_URI, BackupError
from oozo_runtime.versions import VERSION_RE

ARTIFACT = "index.tar.zst"
MANIFEST = "manifest.json"
RECORD = "backup.json"
CHECKSUM = ARTIFACT + ".sha256"
SIGNATURE = ARTIFACT + ".sig"
LATEST = "latest"
OWNER = "oozo-owner.json"
# Everything a backup writes under PREFIX/<VERSION>/: retention deletes these names and no other.
VERSION_FILES = frozenset({ARTIFACT, MANIFEST, RECORD, CHECKSUM, SIGNATURE})
# S3 user metadata on every object Oozo writes: who wrote it (the owner id of oozo-owner.json).
OWNER_METADATA = "oozo-owner"

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


def check_version(version: str) -> str:
    # The runtime's own rule (lowercase, label-safe): one path component, locally and in S3.
    if not VERSION_RE.match(version) or ".." in version:
        raise BackupError(INVALID_URI, f"{version!r} is not a valid index version name")
    return version


@dataclass(frozen=True)
class S3Location:
    bucket: str
    prefix: str  # without leading or trailing slash; may be empty
    version: str | None = None  # None: not given; "latest" resolves through the pointer

    def key(self, *parts: str) -> str:
        return "/".join(p for p in (self.prefix, *parts) if p)

    def version_prefix(self, version: str) -> str:
        return self.key(version) + "/"

    def uri(self, *parts: str) -> str:
        return f"s3://{self.bucket}/{self.key(*parts)}"


def parse_s3_uri(uri: str, *, allow_version: bool) -> S3Location:
    if not uri.startswith("s3://"):
        raise BackupError(INVALID_URI, f"{uri!r} is not an s3://BUCKET/PREFIX URI")
    rest = uri[len("s3://") :]
    version: str | None = None
    if "@" in rest:
        if not allow_version:
            raise BackupError(INVALID_URI, f"{uri!r}: a backup destination takes no @VERSION")
        rest, version = rest.rsplit("@", 1)
        version = version or "latest"
        if version != "latest":
            check_version(version)
    bucket, _, prefix = rest.partition("/")
    if not _BUCKET.match(bucket):
        raise BackupError(INVALID_URI, f"{uri!r}: {bucket!r} is not a valid bucket name")
    prefix = prefix.strip("/")
    if any(part in ("", ".", "..") for part in prefix.split("/")) and prefix:
        raise BackupError(INVALID_URI, f"{uri!r}: the prefix has an empty, '.' or '..' part")
    return S3Location(bucket=bucket, prefix=prefix, version=version)

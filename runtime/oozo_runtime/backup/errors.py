"""The one error type of backup and restore: a machine-readable reason plus a one-line message.

The reason is what the operator puts into the BackupSucceeded condition (CamelCase, stable); the
message is for people. Messages name buckets, keys and endpoints but never credentials.
"""

from __future__ import annotations

from typing import Any


class BackupError(Exception):
    """A failure that ends the command with a clear one-line error and a non-zero exit."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message

    def to_dict(self) -> dict[str, Any]:
        return {"error": self.message, "reason": self.reason}


# Reasons, listed once so docs/backup.md and the operator can rely on them.
INVALID_SETTINGS = "InvalidSettings"
INVALID_URI = "InvalidURI"
INDEX_NOT_FOUND = "IndexNotFound"
INDEX_CORRUPT = "IndexCorrupt"
INDEX_BUSY = "IndexBusy"
UNREACHABLE = "Unreachable"
NO_CREDENTIALS = "NoCredentials"
INVALID_CREDENTIALS = "InvalidCredentials"
ACCESS_DENIED = "AccessDenied"
NO_SUCH_BUCKET = "NoSuchBucket"
BACKUP_NOT_FOUND = "BackupNotFound"
VERSION_CONFLICT = "VersionConflict"
PREFIX_OWNED_BY_ANOTHER = "PrefixOwnedByAnother"
CHECKSUM_MISMATCH = "ChecksumMismatch"
TRUNCATED = "Truncated"
UNSAFE_ARCHIVE = "UnsafeArchive"
VERIFICATION_FAILED = "VerificationFailed"
S3_ERROR = "S3Error"
LOCAL_IO = "LocalIOError"

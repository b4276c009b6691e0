"""The error of backup and restore, and their reasons.

The reason is what the operator puts into the BackupSucceeded condition (CamelCase, stable); the
message is for people. Messages name buckets, keys and endpoints but never credentials.
"""

from __future__ import annotations

# InvalidSettings is shared by every command; re-exported so `e.INVALID_SETTINGS` keeps working.
from oozo_runtime.errors import INVALID_SETTINGS as INVALID_SETTINGS
from oozo_runtime.errors import OozoError


class BackupError(OozoError):
    """A backup or restore that cannot finish; `reason` is one of the constants below."""


# Reasons, listed once so docs/backup.md and the operator can rely on them.
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
EXCEEDS_RECORDED_SIZE = "ExceedsRecordedSize"
SIGNATURE_MISSING = "SignatureMissing"
SIGNATURE_INVALID = "SignatureInvalid"
VERIFICATION_FAILED = "VerificationFailed"
S3_ERROR = "S3Error"
LOCAL_IO = "LocalIOError"

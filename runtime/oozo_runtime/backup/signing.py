"""HMAC signatures of backups, so that whoever may write the bucket cannot plant an index.

With a signing key (OOZO_BACKUP_SIGNING_KEY, from a Secret), `oozo backup` writes
PREFIX/<V>/index.tar.zst.sig before the completion marker, and `oozo restore` checks it before a
byte is unpacked. The signature is HMAC-SHA256 over a canonical text that names the artifact
(its version) and everything a restore holds the artifact to: the sha256 its marker states, its
size and the size of the tar stream it unpacks to. So a signature moved to another artifact, or
kept while the artifact, its marker or backup.json is rewritten, does not verify; and the
sizes that bound the unpack cannot be raised by a bucket writer.

The bucket and prefix are deliberately not part of the text: a bucket copied elsewhere (a
disaster-recovery replica) still verifies. A copy of a signed artifact under another version
name does not: the version is signed, and the manifest inside must name it too.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from oozo_runtime.backup import errors as e
from oozo_runtime.backup.errors import BackupError

FORMAT = "oozo-backup-signature/v1"
ALGORITHM = "HMAC-SHA256"


def canonical(version: str, sha256: str, size_bytes: Any, tar_bytes: Any) -> bytes:
    """The signed text: one `name=value` a line, in a fixed order, after the format's name."""
    return (
        f"{FORMAT}\nversion={version}\nsha256={sha256}\nsizeBytes={size_bytes}\n"
        f"uncompressedSizeBytes={tar_bytes}\n"
    ).encode()


def _mac(key: bytes, text: bytes) -> str:
    return hmac.new(key, text, hashlib.sha256).hexdigest()


def signature_document(key: bytes, version: str, sha256: str, size_bytes: int, tar_bytes: int) -> bytes:
    """The .sig object: the HMAC, and what it covers, readable by people (only the HMAC counts)."""
    return json.dumps(
        {
            "format": FORMAT,
            "algorithm": ALGORITHM,
            "version": version,
            "sha256": sha256,
            "sizeBytes": size_bytes,
            "uncompressedSizeBytes": tar_bytes,
            "signature": _mac(key, canonical(version, sha256, size_bytes, tar_bytes)),
        },
        indent=2,
    ).encode()


def verify(
    key: bytes, document: str | None, version: str, sha256: str, record: dict[str, Any], where: str
) -> None:
    """Raise SignatureMissing or SignatureInvalid unless `document` signs exactly this version,
    this sha256 and the sizes `record` (backup.json) states."""
    if document is None:
        raise BackupError(
            e.SIGNATURE_MISSING,
            f"{where} is not signed, and this restore requires a signature (a signing key is set)",
        )
    try:
        claimed = json.loads(document).get("signature")
    except (ValueError, AttributeError):
        claimed = None
    expected = _mac(
        key, canonical(version, sha256, record.get("sizeBytes"), record.get("uncompressedSizeBytes"))
    )
    if not isinstance(claimed, str) or not hmac.compare_digest(claimed.lower().encode(), expected.encode()):
        raise BackupError(
            e.SIGNATURE_INVALID,
            f"{where}: the signature does not match this artifact's version, checksum and sizes "
            "under the signing key (a planted or altered backup, or one signed with another key)",
        )


def is_valid(key: bytes, document: str | None, version: str, sha256: str, record: dict[str, Any]) -> bool:
    try:
        verify(key, document, version, sha256, record, "")
    except BackupError:
        return False
    return True

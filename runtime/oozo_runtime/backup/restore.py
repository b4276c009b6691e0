"""`oozo restore`: bring an index version back from S3, verified before anything is published.

    1. resolve @latest through PREFIX/latest; read the version's .sha256 marker and backup.json
    2. download the artifact to INDEX_DIR/.tmp-restore-*/ (same filesystem as the index)
    3. size and sha256 of the download must match the marker (Truncated / ChecksumMismatch)
    4. unpack into the same .tmp-restore-*/ directory, refusing unsafe members (UnsafeArchive)
    5. every file's sha256 must match the manifest, with nothing missing or extra
    6. publish: rename to versions/<V>, then flip `current` atomically
The temporary directory is removed whatever happens, so a failure leaves the existing index
exactly as it was and nothing half-written behind.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from pathlib import Path
from typing import Any

from oozo_runtime.backup import errors as e
from oozo_runtime.backup import s3
from oozo_runtime.backup.archive import unpack
from oozo_runtime.backup.backup import now_iso, transfer_config
from oozo_runtime.backup.errors import BackupError
from oozo_runtime.backup.layout import (
    compare_to_manifest,
    load_manifest,
    make_tmp_dir,
    manifest_hashes,
    point_current,
    publish,
    verify_version_dir,
)
from oozo_runtime.backup.uri import ARTIFACT, CHECKSUM, LATEST, MANIFEST, RECORD, S3Location, check_version


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def resolve_version(client: Any, loc: S3Location) -> str:
    if loc.version and loc.version != "latest":
        return loc.version
    pointer = s3.get_text(client, loc.bucket, loc.key(LATEST))
    if not pointer or not pointer.strip():
        raise BackupError(
            e.BACKUP_NOT_FOUND, f"{loc.uri(LATEST)} does not exist: no backup has completed there"
        )
    return check_version(pointer.strip())


def run_restore(
    index_dir: Path,
    loc: S3Location,
    *,
    endpoint: str | None = None,
    region: str | None = None,
    client: Any = None,
) -> dict[str, Any]:
    started = time.monotonic()
    with s3.s3_errors(f"restore from s3://{loc.bucket}/{loc.prefix}", loc.bucket, endpoint):
        client = client or s3.make_client(endpoint, region)
        version = resolve_version(client, loc)
        marker = s3.get_text(client, loc.bucket, loc.key(version, CHECKSUM))
        if marker is None:
            raise BackupError(e.BACKUP_NOT_FOUND, f"{loc.uri(version)} holds no complete backup")
        expected_sha = marker.split()[0].lower() if marker.split() else ""
        record_text = s3.get_text(client, loc.bucket, loc.key(version, RECORD))
        record: dict[str, Any] = json.loads(record_text) if record_text else {}
        expected_size = record.get("sizeBytes")

        result = {
            "time": now_iso(),
            "uri": loc.uri(version, ARTIFACT),
            "sha256": expected_sha,
            "sizeBytes": expected_size,
            "version": version,
        }
        existing = index_dir / "versions" / version
        if existing.is_dir():
            # Versions are immutable: a verified local copy is as good as the download.
            verify_version_dir(existing)
            point_current(index_dir, version)
            return {**result, "downloaded": False, "seconds": round(time.monotonic() - started, 3)}

        work = make_tmp_dir(index_dir, "restore")
        try:
            artifact = work / ARTIFACT
            client.download_file(
                loc.bucket, loc.key(version, ARTIFACT), str(artifact), Config=transfer_config()
            )
            size = artifact.stat().st_size
            if isinstance(expected_size, int) and size != expected_size:
                raise BackupError(
                    e.TRUNCATED,
                    f"{loc.uri(version, ARTIFACT)} is {size} bytes, the backup recorded {expected_size}: "
                    "truncated or replaced",
                )
            actual_sha = _sha256_file(artifact)
            if actual_sha != expected_sha:
                raise BackupError(
                    e.CHECKSUM_MISMATCH,
                    f"{loc.uri(version, ARTIFACT)} has sha256 {actual_sha}, its .sha256 says {expected_sha}",
                )
            tree = work / "version"
            tree.mkdir()
            with artifact.open("rb") as src:
                hashes = unpack(src, tree)
            artifact.unlink()
            manifest = load_manifest(tree / MANIFEST)
            compare_to_manifest(manifest_hashes(manifest), hashes, f"the backup {loc.uri(version)}")
            recorded = manifest.get("version")
            if isinstance(recorded, str) and recorded != version:
                raise BackupError(
                    e.VERIFICATION_FAILED, f"{loc.uri(version)} holds a manifest for version {recorded!r}"
                )
            publish(index_dir, tree, version)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return {**result, "downloaded": True, "seconds": round(time.monotonic() - started, 3)}

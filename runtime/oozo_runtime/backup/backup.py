"""`oozo backup`: stream the current index version to S3 as a verified, checksummed artifact.

Order of writes, so that no crash ever makes a half backup look complete:
    1. PREFIX/<V>/index.tar.zst          streamed: pack → zstd → multipart upload, hashed on the way;
                                         every file checked against the manifest as it is packed
    2. PREFIX/<V>/manifest.json
    3. PREFIX/<V>/backup.json            {version, sha256, sizeBytes, uncompressedSizeBytes, time,
                                         manifestSha256, ...}: the sizes bound what a restore unpacks
    4. PREFIX/<V>/index.tar.zst.sig      with a signing key only: HMAC-SHA256 of the version,
                                         sha256 and sizes (signing.py)
    5. PREFIX/<V>/index.tar.zst.sha256   the completion marker
    6. PREFIX/latest                     only now points at <V>
    7. retention: keep the newest N complete versions (never <V>), delete the rest (retention.py:
       only Oozo's own objects, under version-named folders, are ever deleted)
Before step 1 the backup checks the prefix's owner (ownership.py: PREFIX/oozo-owner.json) and
refuses, having written nothing, a prefix another corpus writes; an unowned prefix is claimed
right after step 1, so a backup that fails earlier leaves nothing behind. Every object it writes carries the
owner's id as S3 metadata (`oozo-owner`), the proof retention asks of a leftover before deleting it.
A version whose marker already exists with the same manifest is not uploaded again: versions are
immutable, so a CronJob retry is a cheap no-op success. With a signing key, a stored version
without a valid signature (made before the key was set, or with another key) is uploaded and
signed again: a backup never signs bytes it did not pack itself.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from oozo_contract.results import BackupResult
from oozo_runtime import __version__
from oozo_runtime.backup import errors as e
from oozo_runtime.backup import s3, signing
from oozo_runtime.backup.archive import pack
from oozo_runtime.backup.errors import BackupError
from oozo_runtime.backup.layout import compare_to_manifest, current_version, file_checksums, load_manifest
from oozo_runtime.backup.ownership import CLI_OWNER, Owner, check_owner, claim
from oozo_runtime.backup.retention import apply_retention, plan_retention
from oozo_runtime.backup.stream import ChunkPipe
from oozo_runtime.backup.uri import (
    ARTIFACT,
    CHECKSUM,
    LATEST,
    MANIFEST,
    OWNER_METADATA,
    RECORD,
    SIGNATURE,
    S3Location,
)

__all__ = ["plan_retention", "run_backup"]  # plan_retention: the retention plan, kept importable here

MiB = 1024 * 1024


def transfer_config() -> Any:
    """Multipart in 16 MiB parts (a 10,000-part upload then holds 160 GB), 4 parts in flight:
    on a streamed upload at most 6 parts sit in memory (4 sending, 2 ready), whatever the index
    size."""
    from boto3.s3.transfer import TransferConfig

    config = TransferConfig(
        multipart_threshold=16 * MiB, multipart_chunksize=16 * MiB, max_concurrency=4, use_threads=True
    )
    config.max_in_memory_upload_chunks = 6  # s3transfer's knob; boto3's constructor does not take it
    return config


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Packer(threading.Thread):
    """Packs into the pipe; an error is kept for the caller, never lost."""

    def __init__(
        self, version_dir: Path, pipe: ChunkPipe, level: int, checksums: tuple[str, dict[str, str]]
    ) -> None:
        super().__init__(name="oozo-pack", daemon=True)
        self.version_dir, self.pipe, self.level = version_dir, pipe, level
        self.algorithm, self.expected = checksums
        self.hashes: dict[str, str] = {}
        self.tar_bytes = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            packed = pack(
                self.version_dir,
                self.pipe,
                level=self.level,
                expected=self.expected,
                algorithm=self.algorithm,
            )
            self.hashes, self.tar_bytes = packed.hashes, packed.tar_bytes
        except BaseException as exc:  # reported by the caller after the upload returns
            self.error = exc
        finally:
            self.pipe.close()


class _PipeReader:
    """The packer's output, hashed and counted as the uploader consumes it. At end of stream it
    waits for the packer and raises its error, so a failed pack aborts the multipart upload
    instead of completing a short object."""

    def __init__(self, pipe: ChunkPipe, packer: _Packer) -> None:
        self.pipe = pipe
        self.packer = packer
        self.hash = hashlib.sha256()
        self.size = 0

    def read(self, n: int = -1) -> bytes:
        data = self.pipe.read(n)
        if not data:
            self.packer.join()  # the pipe is closed: the packer is returning
            if self.packer.error is not None:
                raise self.packer.error
        self.hash.update(data)
        self.size += len(data)
        return data

    def seekable(self) -> bool:
        return False

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self.pipe.abort()


def _upload_artifact(
    client: Any, loc: S3Location, version: str, vdir: Path, level: int, upload_checksum: str, owner_id: str
) -> tuple[str, int, int]:
    """Stream the artifact to S3; returns (sha256, size, size of the tar stream). Raises if
    packing failed or the packed files differ from the manifest, after deleting whatever was
    uploaded."""
    key = loc.key(version, ARTIFACT)
    algorithm, expected = file_checksums(load_manifest(vdir / MANIFEST))
    pipe = ChunkPipe(limit=32 * MiB)  # above the 16 MiB parts the uploader reads; two ready
    packer = _Packer(vdir, pipe, level, (algorithm, expected))
    reader = _PipeReader(pipe, packer)
    packer.start()
    try:  # a BackupError raised by the reader comes back out of upload_fileobj unchanged
        client.upload_fileobj(
            reader,
            loc.bucket,
            key,
            ExtraArgs={
                "ContentType": "application/zstd",
                "Metadata": {OWNER_METADATA: owner_id},
                **s3.upload_args(upload_checksum),
            },
            Config=transfer_config(),
        )
    finally:
        reader.close()  # unblocks a packer still writing if the upload failed
        packer.join()
    try:
        if packer.error is not None:
            if isinstance(packer.error, BackupError):
                raise packer.error
            raise BackupError(e.LOCAL_IO, f"packing {vdir} failed: {packer.error}") from packer.error
        compare_to_manifest(expected, packer.hashes, str(vdir), algorithm)
    except BackupError:
        client.delete_object(Bucket=loc.bucket, Key=key)
        raise
    return reader.hash.hexdigest(), reader.size, packer.tar_bytes


def _existing(
    client: Any, loc: S3Location, version: str, manifest_bytes: bytes, signing_key: bytes | None
) -> dict[str, Any] | None:
    """The record of a complete backup of `version` already in S3 (validly signed, with a
    signing key), or None."""
    marker = s3.get_text(client, loc.bucket, loc.key(version, CHECKSUM))
    if marker is None:
        return None
    remote_manifest = s3.get_text(client, loc.bucket, loc.key(version, MANIFEST))
    if remote_manifest is None or remote_manifest.encode() != manifest_bytes:
        raise BackupError(
            e.VERSION_CONFLICT,
            f"{loc.uri(version)} already holds a different index under the same version name; "
            "refusing to overwrite it",
        )
    record_text = s3.get_text(client, loc.bucket, loc.key(version, RECORD))
    record: dict[str, Any] = json.loads(record_text) if record_text else {}
    record.setdefault("sha256", marker.split()[0])
    if signing_key is not None:
        document = s3.get_text(client, loc.bucket, loc.key(version, SIGNATURE))
        if not signing.is_valid(signing_key, document, version, marker.split()[0].lower(), record):
            return None  # uploaded again and signed: only bytes this backup packed get signed
    return record


def run_backup(
    index_dir: Path,
    loc: S3Location,
    *,
    endpoint: str | None = None,
    region: str | None = None,
    keep_last: int = 7,
    level: int = -1,
    upload_checksum: str = "crc32",
    owner: Owner | None = None,
    signing_key: bytes | None = None,
    client: Any = None,
) -> BackupResult:
    """`signing_key`: sign the artifact (PREFIX/<V>/index.tar.zst.sig), so that a restore with
    the same key can tell it from a planted one."""
    if not loc.prefix:
        raise BackupError(
            e.INVALID_URI,
            f"{loc.uri()}: a backup needs a prefix (s3://BUCKET/PREFIX), so that it shares the "
            "bucket with nothing it could prune; the operator's default is <namespace>/<name>",
        )
    owner = owner or Owner(CLI_OWNER)
    meta = {OWNER_METADATA: owner.id}
    version, vdir = current_version(index_dir)
    manifest_bytes = (vdir / MANIFEST).read_bytes()
    started = time.monotonic()
    with s3.s3_errors(f"backup to s3://{loc.bucket}/{loc.prefix}", loc.bucket, endpoint):
        client = client or s3.make_client(endpoint, region, upload_checksum=upload_checksum)
        # Before any write: a prefix another corpus writes stays untouched.
        owned = check_owner(client, loc, owner)
        record = _existing(client, loc, version, manifest_bytes, signing_key)
        unchanged = record is not None
        if record is None:
            sha256, size, tar_bytes = _upload_artifact(
                client, loc, version, vdir, level, upload_checksum, owner.id
            )
            if not owned:  # claimed only now, so a backup that failed above left nothing behind
                try:
                    claim(client, loc, owner)
                except BackupError:
                    client.delete_object(Bucket=loc.bucket, Key=loc.key(version, ARTIFACT))
                    raise
            record = {
                "version": version,
                "sha256": sha256,
                "sizeBytes": size,
                "uncompressedSizeBytes": tar_bytes,
                "time": now_iso(),
                "uri": loc.uri(version, ARTIFACT),
                "manifestSha256": hashlib.sha256(manifest_bytes).hexdigest(),
                "format": "tar+zstd",
                "oozoVersion": __version__,
            }
            s3.put_bytes(
                client, loc.bucket, loc.key(version, MANIFEST), manifest_bytes, "application/json", meta
            )
            s3.put_bytes(
                client,
                loc.bucket,
                loc.key(version, RECORD),
                json.dumps(record, indent=2).encode(),
                "application/json",
                meta,
            )
            if signing_key is not None:  # before the marker: a complete backup is a signed one
                document = signing.signature_document(signing_key, version, sha256, size, tar_bytes)
                s3.put_bytes(
                    client, loc.bucket, loc.key(version, SIGNATURE), document, "application/json", meta
                )
            s3.put_bytes(
                client,
                loc.bucket,
                loc.key(version, CHECKSUM),
                f"{sha256}  {ARTIFACT}\n".encode(),
                "text/plain",
                meta,
            )
        elif not owned:  # a prefix from before owner records: the first backup claims it
            claim(client, loc, owner)
        if (s3.get_text(client, loc.bucket, loc.key(LATEST)) or "").strip() != version:
            s3.put_bytes(client, loc.bucket, loc.key(LATEST), f"{version}\n".encode(), "text/plain", meta)
        pruned = apply_retention(client, loc, keep_last, keep={version}, owner_id=owner.id)
    return BackupResult(
        time=record.get("time", now_iso()),
        uri=record.get("uri", loc.uri(version, ARTIFACT)),
        sha256=record["sha256"],
        size_bytes=record.get("sizeBytes"),
        version=version,
        unchanged=unchanged,
        pruned=pruned,
        seconds=round(time.monotonic() - started, 3),
    )

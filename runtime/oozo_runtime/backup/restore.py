"""`oozo restore`: bring an index version back from S3, verified before anything is published.

    0. read who owns the prefix (PREFIX/oozo-owner.json) and refuse another corpus's backups unless
       they were asked for by name (ownership.check_restore); the result names the owner
    1. resolve @latest through PREFIX/latest; read the version's .sha256 marker and backup.json;
       with a signing key, the signature of both (SignatureMissing, SignatureInvalid: signing.py)
    2. take the index's build lock (a build and a restore never interleave)
    3. stream the artifact: every byte is hashed and counted as it arrives while a second thread
       unpacks it into INDEX_DIR/.tmp-<random>/ (same filesystem as versions/), refusing unsafe
       members (UnsafeArchive) and hashing every file it writes. Both stop at the sizes
       backup.json recorded (ExceedsRecordedSize): the download at sizeBytes, the unpack at
       uncompressedSizeBytes, so a small artifact that expands cannot fill the volume
    4. size must match backup.json (Truncated), sha256 the marker (ChecksumMismatch), every file
       the manifest (VerificationFailed), with nothing missing or extra
    5. publish with the runtime's own helper: rename to versions/<V>, flip `current` atomically;
       then export the ONNX query graph the manifest records when the volume lacks it
       (query_graph.py: a backup holds the version, not the graph beside it)
Only step 5 touches what a server reads, and only after every check passed. The .tmp- directory
is removed on any failure, so the existing index stays exactly as it was.

Why stream instead of staging the artifact in a file: one pass instead of three over the bytes
(download, hash, unpack), half the free space needed, and the same guarantee, since nothing
unpacked is visible before the checks pass.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from pathlib import Path
from typing import Any

from oozo_contract.manifest import Manifest
from oozo_contract.results import RestoreResult
from oozo_runtime.backup import errors as e
from oozo_runtime.backup import s3, signing
from oozo_runtime.backup.archive import unpack
from oozo_runtime.backup.backup import now_iso
from oozo_runtime.backup.errors import BackupError
from oozo_runtime.backup.layout import (
    MANIFEST,
    clean_stale_tmp,
    compare_to_manifest,
    exclusive,
    file_checksums,
    load_manifest,
    publish,
    restore_result,
    scratch_dir,
    set_current,
    verify_local,
)
from oozo_runtime.backup.ownership import Owner, check_restore, read_owner
from oozo_runtime.backup.query_graph import restore_query_graph
from oozo_runtime.backup.stream import ChunkPipe
from oozo_runtime.backup.uri import ARTIFACT, CHECKSUM, LATEST, RECORD, SIGNATURE, S3Location, check_version
from oozo_runtime.versions import checksum_file

MiB = 1024 * 1024
RESUMES = 3  # a dropped connection resumes with a Range request from the last byte received
# Every unpacked file is checksummed as it is written with xxh3_128, which manifests list beside
# the sha256 since fileChecksums exist: the artifact's sha256 against its marker is the
# cryptographic proof; this catches a file that unpacked differently from what was built.
UNPACK_CHECKSUM = "xxh3_128"
# Backups written before backup.json recorded uncompressedSizeBytes are bounded by their size
# instead: an index stored at zstd's fast levels shrinks ~1.1x (vectors) to ~3x (text), so an
# artifact that unpacks to a hundred times its size is not one Oozo wrote.
LEGACY_EXPANSION = 100
LEGACY_SLACK = 64 * MiB


def resolve_version(client: Any, loc: S3Location) -> str:
    if loc.version and loc.version != "latest":
        return loc.version
    pointer = s3.get_text(client, loc.bucket, loc.key(LATEST))
    if not pointer or not pointer.strip():
        raise BackupError(
            e.BACKUP_NOT_FOUND, f"{loc.uri(LATEST)} does not exist: no backup has completed there"
        )
    return check_version(pointer.strip())


class _Unpacker(threading.Thread):
    def __init__(self, pipe: ChunkPipe, dest: Path, tar_limit: tuple[int, str]) -> None:
        super().__init__(name="oozo-unpack", daemon=True)
        self.pipe, self.dest = pipe, dest
        self.max_tar_bytes, self.limit_source = tar_limit
        self.hashes: dict[str, str] = {}
        self.error: BaseException | None = None

    def hostile(self) -> bool:
        """Gave up on what the archive is, not on damaged bytes: no need to download the rest."""
        reasons = (e.EXCEEDS_RECORDED_SIZE, e.UNSAFE_ARCHIVE)
        return isinstance(self.error, BackupError) and self.error.reason in reasons

    def run(self) -> None:
        try:
            self.hashes = unpack(
                self.pipe,
                self.dest,
                UNPACK_CHECKSUM,
                max_tar_bytes=self.max_tar_bytes,
                limit_source=self.limit_source,
            )
            while self.pipe.read(MiB):  # trailing padding: keep the downloader from blocking
                pass
        except BaseException as exc:  # reported after the download finished
            self.error = exc
        finally:
            self.pipe.abort()  # a downloader still writing gets BrokenPipeError, not a hang


def _tar_limit(record: dict[str, Any], record_uri: str, artifact_size: int) -> tuple[int, str]:
    """The most the artifact may unpack to, and where that number comes from."""
    recorded = record.get("uncompressedSizeBytes")
    if isinstance(recorded, int) and recorded >= 0:
        return recorded, f"{record_uri} recorded"
    return (
        LEGACY_EXPANSION * artifact_size + LEGACY_SLACK,
        f"allowed for a backup that recorded no unpacked size ({LEGACY_EXPANSION} x its "
        f"{artifact_size} bytes + {LEGACY_SLACK // MiB} MiB)",
    )


def _stream_artifact(
    client: Any, bucket: str, key: str, dest: Path, record: dict[str, Any], record_uri: str
) -> tuple[str, int, _Unpacker]:
    """Download `key` once, hashing it and feeding the unpacker; returns (sha256, size, unpacker).
    The download stops at the size `record` states, the unpack at the tar size it states."""
    from botocore.exceptions import (
        ConnectionClosedError,
        IncompleteReadError,
        ReadTimeoutError,
        ResponseStreamingError,
    )

    recorded = record.get("sizeBytes")
    expected_size = recorded if isinstance(recorded, int) else None
    uri = f"s3://{bucket}/{key}"
    pipe = ChunkPipe(limit=16 * MiB)  # the downloader stays at most 16 MiB ahead of the unpacker
    resp = client.get_object(Bucket=bucket, Key=key)
    etag, length = resp["ETag"], int(resp["ContentLength"])
    if expected_size is not None and length > expected_size:
        resp["Body"].close()
        raise BackupError(
            e.EXCEEDS_RECORDED_SIZE,
            f"{uri} is {length} bytes, the backup recorded {expected_size}: replaced; nothing unpacked",
        )
    unpacker = _Unpacker(pipe, dest, _tar_limit(record, record_uri, expected_size or length))
    unpacker.start()
    digest, size, resumes = hashlib.sha256(), 0, 0
    feeding, resumed = True, False
    try:
        while True:
            if resumed:  # from the last byte received, of the same object
                resp = client.get_object(Bucket=bucket, Key=key, Range=f"bytes={size}-", IfMatch=etag)
            resumed = True
            try:
                for chunk in resp["Body"].iter_chunks(MiB):
                    digest.update(chunk)
                    size += len(chunk)
                    if expected_size is not None and size > expected_size:
                        raise BackupError(
                            e.EXCEEDS_RECORDED_SIZE,
                            f"{uri} goes on past the {expected_size} bytes the backup recorded; "
                            "stopped downloading",
                        )
                    if feeding:
                        try:
                            pipe.write(chunk)
                        except BrokenPipeError:  # the unpacker gave up; finish hashing anyway
                            feeding = False
                            if unpacker.hostile():  # ...unless the archive itself is the problem
                                return digest.hexdigest(), size, unpacker
                break
            except (IncompleteReadError, ResponseStreamingError, ReadTimeoutError, ConnectionClosedError):
                resumes += 1
                if resumes > RESUMES:
                    raise
    finally:
        pipe.close()
        unpacker.join()
    return digest.hexdigest(), size, unpacker


def _parse_record(text: str | None) -> dict[str, Any]:
    """backup.json; one that is not a JSON object counts as absent (its sizes then bound nothing
    more than a legacy backup's, and a signature over it does not verify)."""
    try:
        parsed = json.loads(text) if text else {}
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _verify_unpacked(tree: Path, manifest: Manifest, unpacked: dict[str, str], where: str) -> None:
    """Every unpacked file against the manifest, nothing missing or extra. A manifest without
    xxh3_128 checksums (built before they existed) is checked by reading the files back for
    their sha256."""
    algorithm, expected = file_checksums(manifest)
    if algorithm != UNPACK_CHECKSUM:
        unpacked = {rel: checksum_file(tree / rel, algorithm)[0] for rel in unpacked if rel != MANIFEST}
    compare_to_manifest(expected, unpacked, where, algorithm)


def run_restore(
    index_dir: Path,
    loc: S3Location,
    *,
    endpoint: str | None = None,
    region: str | None = None,
    owner: Owner | None = None,
    from_owner: str | None = None,
    signing_key: bytes | None = None,
    client: Any = None,
) -> RestoreResult:
    """`owner`: whom the restore is for (None: a plain CLI restore, any owner's backups);
    `from_owner`: the owner id or <namespace>/<name> whose backups are asked for by name;
    `signing_key`: restore only a backup signed with it."""
    started = time.monotonic()
    with s3.s3_errors(f"restore from s3://{loc.bucket}/{loc.prefix}", loc.bucket, endpoint):
        client = client or s3.make_client(endpoint, region)
        found = read_owner(client, loc)
        check_restore(found, owner, from_owner, loc)
        version = resolve_version(client, loc)
        marker = s3.get_text(client, loc.bucket, loc.key(version, CHECKSUM))
        if marker is None or not marker.split():
            raise BackupError(e.BACKUP_NOT_FOUND, f"{loc.uri(version)} holds no complete backup")
        expected_sha = marker.split()[0].lower()
        record_text = s3.get_text(client, loc.bucket, loc.key(version, RECORD))
        record = _parse_record(record_text)
        expected_size = record.get("sizeBytes")
        artifact_uri = loc.uri(version, ARTIFACT)
        if signing_key is not None:  # before anything is unpacked, or a local copy trusted
            document = s3.get_text(client, loc.bucket, loc.key(version, SIGNATURE))
            signing.verify(signing_key, document, version, expected_sha, record, artifact_uri)
        started_at = now_iso()
        recorded_size = expected_size if isinstance(expected_size, int) else None

        index_dir.mkdir(parents=True, exist_ok=True)
        with exclusive(index_dir):
            clean_stale_tmp(index_dir)  # leftovers of a killed build or restore
            existing = index_dir / "versions" / version
            if existing.is_dir():
                # Versions are immutable: a local copy that still verifies is as good as the download.
                verify_local(existing)
                set_current(index_dir, version)
                restore_query_graph(index_dir, load_manifest(existing / MANIFEST))
                return restore_result(
                    load_manifest(existing / MANIFEST),
                    time=started_at,
                    uri=artifact_uri,
                    sha256=expected_sha,
                    version=version,
                    size_bytes=recorded_size,
                    downloaded=False,
                    seconds=round(time.monotonic() - started, 3),
                    owner=found,
                )

            with scratch_dir(index_dir) as tree:
                sha, size, unpacker = _stream_artifact(
                    client, loc.bucket, loc.key(version, ARTIFACT), tree, record, loc.uri(version, RECORD)
                )
                if unpacker.hostile() and unpacker.error is not None:
                    raise unpacker.error  # stopped early: the size and checksum are of a part
                if isinstance(expected_size, int) and size != expected_size:
                    raise BackupError(
                        e.TRUNCATED,
                        f"{artifact_uri} is {size} bytes, the backup recorded {expected_size}: "
                        "truncated or replaced",
                    )
                if sha != expected_sha:
                    raise BackupError(
                        e.CHECKSUM_MISMATCH,
                        f"{artifact_uri} has sha256 {sha}, its .sha256 says {expected_sha}",
                    )
                if unpacker.error is not None:
                    raise unpacker.error
                manifest = load_manifest(tree / MANIFEST)
                _verify_unpacked(tree, manifest, unpacker.hashes, f"the backup {loc.uri(version)}")
                if manifest.version != version:
                    raise BackupError(
                        e.VERIFICATION_FAILED,
                        f"{loc.uri(version)} holds a manifest for version {manifest.version!r}",
                    )
                publish(index_dir, tree, version)
            restore_query_graph(index_dir, manifest)
    return restore_result(
        manifest,
        time=started_at,
        uri=artifact_uri,
        sha256=expected_sha,
        version=version,
        size_bytes=recorded_size,
        downloaded=True,
        seconds=round(time.monotonic() - started, 3),
        owner=found,
    )

"""The local index layout, through the runtime's own helpers (`oozo_runtime.versions`), so a
restored version is published exactly the way a build publishes one:

    INDEX_DIR/versions/<VERSION>/manifest.json   immutable version directories
    INDEX_DIR/current -> versions/<VERSION>      relative symlink, flipped with os.replace
    INDEX_DIR/.tmp-*/                            work in progress; never read by the server
    INDEX_DIR/.lock                              held by a build, and by a restore

This module only adds what backup needs on top: errors with reasons, and the comparison of
hashes computed while streaming against the manifest's "files".
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from oozo_contract.manifest import Manifest
from oozo_contract.results import RestoreResult
from oozo_runtime import versions
from oozo_runtime.backup import errors as e
from oozo_runtime.backup.errors import BackupError

MANIFEST = versions.MANIFEST


def current_version(index_dir: Path) -> tuple[str, Path]:
    """The version `current` points to and its directory."""
    try:
        vdir = versions.resolve(index_dir)
    except versions.VersionNotFound as exc:
        raise BackupError(e.INDEX_NOT_FOUND, str(exc)) from exc
    return vdir.name, vdir


def file_checksums(manifest: Manifest) -> tuple[str, dict[str, str]]:
    """What a backup checks each file against while packing, and a restore each file it
    unpacked: the manifest's xxh3_128 checksums when it has them for exactly the files it lists
    (a sure catch of corruption at a thirtieth of sha256's CPU), else the sha256 of "files"
    (manifests from builds older than fileChecksums)."""
    if not manifest.files:
        raise BackupError(e.VERIFICATION_FAILED, "the manifest lists no files with their sha256")
    fast = manifest.file_checksums.xxh3_128 if manifest.file_checksums else {}
    if fast and set(fast) == set(manifest.files):
        return "xxh3_128", dict(fast)
    return "sha256", dict(manifest.files)


def restore_result(
    manifest: Manifest,
    *,
    time: str,
    uri: str,
    sha256: str,
    version: str,
    size_bytes: int | None,
    downloaded: bool,
    seconds: float,
    owner: Any = None,
) -> RestoreResult:
    """A restore's result: the artifact, and what a build reports about its index read back from
    the manifest, so status.index gets documents, chunks and model the way a build fills it."""
    counts = manifest.counts
    return RestoreResult(
        time=time,
        uri=uri,
        sha256=sha256,
        size_bytes=size_bytes,
        version=version,
        downloaded=downloaded,
        seconds=seconds,
        documents=counts.documents if counts else None,
        chunks=counts.chunks if counts else None,
        skipped_documents=len(manifest.skipped),
        embedding_model=manifest.model,
        dimensions=manifest.dimension,
        built_at=manifest.built_at,
        owner=owner.id if owner else None,
        owner_corpus=owner.corpus if owner else None,
    )


def load_manifest(path: Path) -> Manifest:
    try:
        return Manifest.parse(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise BackupError(
            e.VERIFICATION_FAILED, f"{path.parent.name}: no readable manifest ({_first_line(exc)})"
        ) from exc


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def compare_to_manifest(
    expected: dict[str, str], actual: dict[str, str], where: str, algorithm: str = "sha256"
) -> None:
    """Raise VerificationFailed unless `actual` files are exactly the manifest's, hash for hash."""
    actual = {k: v for k, v in actual.items() if k != MANIFEST}
    missing = sorted(set(expected) - set(actual))
    extra = sorted(set(actual) - set(expected))
    wrong = sorted(k for k in set(expected) & set(actual) if expected[k] != actual[k])
    if missing or extra or wrong:
        detail = "; ".join(
            f"{label}: {', '.join(names[:3])}{' …' if len(names) > 3 else ''}"
            for label, names in (("missing", missing), ("unexpected", extra), (f"{algorithm} differs", wrong))
            if names
        )
        raise BackupError(e.VERIFICATION_FAILED, f"{where} does not match its manifest ({detail})")


def verify_local(vdir: Path) -> None:
    """A version already on disk must still match its manifest before it is trusted."""
    bad = versions.verify(vdir)
    if bad:
        raise BackupError(
            e.VERIFICATION_FAILED,
            f"{vdir} does not match its manifest (sha256 differs: {', '.join(bad[:3])})",
        )


@contextlib.contextmanager
def exclusive(index_dir: Path) -> Iterator[None]:
    """The build lock: a restore and a build never write the same index at once (and a build's
    cleanup of stale .tmp-* directories never removes a restore in progress)."""
    lock = versions.build_lock(index_dir)
    try:
        lock.__enter__()
    except RuntimeError as exc:
        raise BackupError(e.INDEX_BUSY, f"{exc}; try again when it is done") from exc
    try:
        yield
    finally:
        lock.__exit__(None, None, None)


clean_stale_tmp = versions.clean_stale_tmp
scratch_dir = versions.scratch_dir
set_current = versions.set_current


def publish(index_dir: Path, built: Path, version: str) -> Path:
    try:
        return versions.publish(index_dir, built, version)
    except (ValueError, FileExistsError) as exc:
        raise BackupError(e.VERIFICATION_FAILED, f"cannot publish version {version!r}: {exc}") from exc

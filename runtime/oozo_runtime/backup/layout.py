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
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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


def manifest_hashes(manifest: dict[str, Any]) -> dict[str, str]:
    """{file name: sha256} from a manifest's "files" (also accepts {name: {"sha256": ...}})."""
    files = manifest.get("files")
    if not isinstance(files, dict) or not files:
        raise BackupError(e.VERIFICATION_FAILED, "the manifest lists no files with their sha256")
    return {str(k): str(v["sha256"] if isinstance(v, dict) else v) for k, v in files.items()}


def file_checksums(manifest: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """What a backup checks each file against while packing, and a restore each file it
    unpacked: the manifest's xxh3_128 checksums when it has them for exactly the files it lists
    (a sure catch of corruption at a thirtieth of sha256's CPU), else the sha256 of "files"
    (manifests from builds older than fileChecksums)."""
    strong = manifest_hashes(manifest)
    fast = (manifest.get("fileChecksums") or {}).get("xxh3_128")
    if isinstance(fast, dict) and set(fast) == set(strong):
        return "xxh3_128", {str(k): str(v) for k, v in fast.items()}
    return "sha256", strong


def index_summary(manifest: dict[str, Any]) -> dict[str, Any]:
    """What a build reports about its index, read back from a manifest, so a restore's result
    fills status.index (documents, chunks, model) the way a build's does."""
    counts = manifest.get("counts")
    counts = counts if isinstance(counts, dict) else {}
    embedding = manifest.get("embedding")
    embedding = embedding if isinstance(embedding, dict) else {}
    skipped = manifest.get("skipped")
    summary = {
        "documents": counts.get("documents"),
        "chunks": counts.get("chunks"),
        "skippedDocuments": len(skipped) if isinstance(skipped, list) else None,
        "embeddingModel": embedding.get("model"),
        "dimensions": embedding.get("dimension"),
        "builtAt": manifest.get("builtAt"),
    }
    return {k: v for k, v in summary.items() if v is not None}


def load_manifest(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise BackupError(
            e.VERIFICATION_FAILED, f"{path.parent.name}: no readable JSON manifest ({exc})"
        ) from exc
    if not isinstance(data, dict):
        raise BackupError(e.VERIFICATION_FAILED, f"{path} is not a JSON object")
    return data


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

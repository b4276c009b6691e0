"""The local index layout, as far as backup and restore need it.

    INDEX_DIR/versions/<VERSION>/manifest.json   immutable version directories
    INDEX_DIR/current -> versions/<VERSION>      relative symlink, flipped with os.replace
    INDEX_DIR/.tmp-*/                            work in progress; never read by the server

The manifest records the sha256 of every file of its version ("files"); verification checks
that the directory holds exactly those files with exactly those hashes.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

from oozo_runtime.backup import errors as e
from oozo_runtime.backup.archive import version_files
from oozo_runtime.backup.errors import BackupError
from oozo_runtime.backup.uri import check_version

MANIFEST = "manifest.json"


def current_version(index_dir: Path) -> tuple[str, Path]:
    """The version `current` points to and its directory."""
    link = index_dir / "current"
    if not link.is_symlink():
        raise BackupError(e.INDEX_NOT_FOUND, f"{index_dir} has no published index ({link} is missing)")
    target = Path(os.readlink(link))
    version = check_version(target.name)
    vdir = index_dir / "versions" / version
    if not (vdir / MANIFEST).is_file():
        raise BackupError(e.INDEX_NOT_FOUND, f"{link} points to {target}, which has no {MANIFEST}")
    return version, vdir


def manifest_hashes(manifest: dict[str, Any]) -> dict[str, str]:
    """{relpath: sha256} from a manifest's "files" (a mapping path → sha256 or → {sha256, ...},
    or a list of {path, sha256, ...})."""
    files = manifest.get("files")
    out: dict[str, str] = {}
    if isinstance(files, dict):
        for path, value in files.items():
            out[str(path)] = str(value["sha256"] if isinstance(value, dict) else value)
    elif isinstance(files, list):
        for item in files:
            out[str(item["path"])] = str(item["sha256"])
    else:
        raise BackupError(e.VERIFICATION_FAILED, "the manifest lists no files with their sha256")
    return out


def load_manifest(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise BackupError(e.VERIFICATION_FAILED, f"{path} is not a readable JSON manifest: {exc}") from exc
    if not isinstance(data, dict):
        raise BackupError(e.VERIFICATION_FAILED, f"{path} is not a JSON object")
    return data


def compare_to_manifest(expected: dict[str, str], actual: dict[str, str], where: str) -> None:
    """Raise VerificationFailed unless `actual` files are exactly the manifest's, hash for hash."""
    actual = {k: v for k, v in actual.items() if k != MANIFEST}
    missing = sorted(set(expected) - set(actual))
    extra = sorted(set(actual) - set(expected))
    wrong = sorted(k for k in set(expected) & set(actual) if expected[k] != actual[k])
    if missing or extra or wrong:
        detail = "; ".join(
            f"{label}: {', '.join(names[:3])}{' …' if len(names) > 3 else ''}"
            for label, names in (("missing", missing), ("unexpected", extra), ("sha256 differs", wrong))
            if names
        )
        raise BackupError(e.VERIFICATION_FAILED, f"{where} does not match its manifest ({detail})")


def verify_version_dir(vdir: Path) -> dict[str, Any]:
    """Hash every file of `vdir` and compare with its manifest; returns the manifest."""
    import hashlib

    manifest = load_manifest(vdir / MANIFEST)
    actual: dict[str, str] = {}
    for rel in version_files(vdir):
        digest = hashlib.sha256()
        with (vdir / rel).open("rb") as f:
            while chunk := f.read(1024 * 1024):
                digest.update(chunk)
        actual[rel] = digest.hexdigest()
    compare_to_manifest(manifest_hashes(manifest), actual, str(vdir))
    return manifest


def make_tmp_dir(index_dir: Path, label: str) -> Path:
    index_dir.mkdir(parents=True, exist_ok=True)
    path = index_dir / f".tmp-{label}-{secrets.token_hex(6)}"
    path.mkdir()
    return path


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def point_current(index_dir: Path, version: str) -> None:
    """Flip INDEX_DIR/current to versions/<version> atomically (temp symlink + os.replace)."""
    tmp_link = index_dir / f".tmp-current-{secrets.token_hex(6)}"
    os.symlink(f"versions/{version}", tmp_link)
    try:
        os.replace(tmp_link, index_dir / "current")
    except BaseException:
        tmp_link.unlink(missing_ok=True)
        raise
    _fsync_dir(index_dir)


def publish(index_dir: Path, built: Path, version: str) -> Path:
    """Move the verified directory `built` (inside INDEX_DIR) to versions/<version>, then point
    current at it. A crash before the rename leaves only a .tmp-* directory behind."""
    versions = index_dir / "versions"
    versions.mkdir(exist_ok=True)
    final = versions / version
    os.rename(built, final)  # atomic; fails if the version appeared meanwhile
    _fsync_dir(versions)
    point_current(index_dir, version)
    return final

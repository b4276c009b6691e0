"""The index directory layout, shared with the operator and backup/restore:

    INDEX_DIR/versions/<VERSION>/   immutable: index.faiss, chunks.jsonl, manifest.json
    INDEX_DIR/current               relative symlink to versions/<VERSION>, replaced atomically
    INDEX_DIR/cache/                embedding cache
    INDEX_DIR/.tmp-<random>/        a build in progress, or a pruned version being deleted
    INDEX_DIR/.lock                 flock held by the running build

A build fills a .tmp- directory and publishes it with one rename; `current` moves with
symlink-to-temp-name + os.replace. A kill -9 at any moment therefore leaves either the old or the
new version current, never a partial one; the next build removes the orphaned .tmp- directory.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import secrets
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from oozo_contract.defaults import VERSION_PATTERN
from oozo_contract.manifest import MANIFEST_FILE, FileChecksums, Manifest
from oozo_contract.results import AVAILABLE_MAX, AvailableVersion

VERSIONS = "versions"
CURRENT = "current"
CACHE = "cache"
TMP_PREFIX = ".tmp-"
MANIFEST = MANIFEST_FILE
INDEX_FILE = "index.faiss"
CHUNKS_FILE = "chunks.jsonl"
VERSION_RE = re.compile(VERSION_PATTERN)


class VersionNotFound(LookupError):
    pass


class IndexCorrupt(RuntimeError):
    """A version's files differ from its manifest. The message names the version and the files,
    never a path, so it can go to /ready as it is."""


def version_name(content_digest: str, now: datetime | None = None) -> str:
    """`20261124t120301z-1a2b3c4d`: UTC build time + short content hash; lowercase, label-safe."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    return f"{now.strftime('%Y%m%dt%H%M%Sz')}-{content_digest[:8]}"


@contextlib.contextmanager
def build_lock(root: Path) -> Iterator[None]:
    """One build at a time per index dir. The kernel drops the lock when the holder dies, so a
    kill -9 never leaves a stale lock behind."""
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise RuntimeError(f"another build holds {root / '.lock'}") from exc
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def clean_stale_tmp(root: Path) -> list[str]:
    """Remove .tmp-* leftovers of killed builds (call with the build lock held)."""
    removed = []
    for entry in root.glob(f"{TMP_PREFIX}*"):
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed.append(entry.name)
    return removed


@contextlib.contextmanager
def scratch_dir(root: Path) -> Iterator[Path]:
    """A new .tmp- directory for work in progress, removed on the way out whatever happens (if it
    was published it has been renamed away already). It is created inside the `try`: a SIGTERM
    (raised as an exception by `oozo restore`) landing right after the mkdir still removes it,
    where a mkdir before the `try` would leak it."""
    path = root / f"{TMP_PREFIX}{secrets.token_hex(6)}"
    try:
        path.mkdir(parents=True)
        yield path
    finally:
        if path.exists():
            shutil.rmtree(path, ignore_errors=True)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish(root: Path, tmp: Path, version: str) -> Path:
    """Move a finished build into versions/ and make it current."""
    if not VERSION_RE.match(version):
        raise ValueError(f"invalid version name {version!r}")
    versions = root / VERSIONS
    versions.mkdir(exist_ok=True)
    for name in os.listdir(tmp):
        with open(tmp / name, "rb") as fh:
            os.fsync(fh.fileno())
    _fsync_dir(tmp)
    target = versions / version
    os.rename(tmp, target)  # fails if target exists: versions are immutable
    _fsync_dir(versions)
    set_current(root, version)
    return target


def set_current(root: Path, version: str) -> None:
    if not (root / VERSIONS / version).is_dir():
        raise VersionNotFound(f"no version {version} in {root / VERSIONS}")
    link = root / f"{TMP_PREFIX}link-{secrets.token_hex(4)}"
    os.symlink(f"{VERSIONS}/{version}", link)
    os.replace(link, root / CURRENT)
    _fsync_dir(root)


def current_version(root: Path) -> str | None:
    link = root / CURRENT
    if not link.is_symlink():
        return None
    return Path(os.readlink(link)).name


def list_versions(root: Path) -> list[str]:
    versions = root / VERSIONS
    return sorted(p.name for p in versions.iterdir() if p.is_dir()) if versions.is_dir() else []


def oldest_first(root: Path) -> list[str]:
    """The versions Oozo wrote, oldest first: directories (not symlinks) with a version name and a
    manifest; anything else under versions/ is not ours. Version names begin with their UTC build
    time to the second; builds within one second (an incremental rebuild can take less) are
    ordered by when their manifest was written, not by the digest that ends the name."""
    base = root / VERSIONS
    ours = [
        name
        for name in list_versions(root)
        if VERSION_RE.match(name) and not (base / name).is_symlink() and (base / name / MANIFEST).is_file()
    ]
    ours.sort(key=lambda name: (name.split("-", 1)[0], (base / name / MANIFEST).stat().st_mtime_ns, name))
    return ours


def available(root: Path, limit: int = AVAILABLE_MAX) -> list[AvailableVersion]:
    """The newest `limit` versions on the volume, newest first, each described by its manifest:
    what a build reports as status.index.available, the versions a pin may choose. A version
    whose manifest cannot be read is left out: the server could not load it either."""
    out = []
    for name in reversed(oldest_first(root)):
        try:
            manifest = read_manifest(root / VERSIONS / name)
        except (OSError, ValueError):
            continue
        counts = manifest.counts
        out.append(
            AvailableVersion(
                version=name,
                built_at=manifest.built_at,
                documents=counts.documents if counts else len(manifest.documents),
                chunks=counts.chunks if counts else None,
                embedding_model=manifest.model,
            )
        )
        if len(out) == limit:
            break
    return out


def prune(root: Path, keep_newest: int, keep: set[str]) -> list[str]:
    """Delete every version that is neither among the `keep_newest` newest nor in `keep` (see
    `oldest_first` for which are ours and how they are ordered); return their names. Each goes
    by a rename to a .tmp- name first: a kill mid-delete leaves no half version under versions/,
    and the next build's clean_stale_tmp finishes the job. Call with the build lock held."""
    base = root / VERSIONS
    ours = oldest_first(root)
    newest = set(ours[-keep_newest:]) if keep_newest > 0 else set()
    doomed = [name for name in ours if name not in newest and name not in keep]
    for name in doomed:
        trash = root / f"{TMP_PREFIX}pruned-{secrets.token_hex(6)}"
        os.rename(base / name, trash)
        shutil.rmtree(trash, ignore_errors=True)
    if doomed:
        _fsync_dir(base)
    return doomed


def resolve(root: Path, version: str | None = None) -> Path:
    """The directory of `version`, or of the current one."""
    name = version or current_version(root)
    if not name:
        raise VersionNotFound(f"{root} has no current index version (run `oozo index` first)")
    path = root / VERSIONS / name
    if not (path / MANIFEST).is_file():
        raise VersionNotFound(f"index version {name} not found in {root / VERSIONS}")
    return path


def new_checksum(algorithm: str) -> Any:
    """A hash object for a manifest checksum: "sha256" (files) or "xxh3_128" (fileChecksums)."""
    if algorithm == "xxh3_128":
        import xxhash

        return xxhash.xxh3_128()
    return hashlib.new(algorithm)


def checksum_file(path: Path, *algorithms: str) -> list[str]:
    """Hex digests of a file, one per algorithm, in one read."""
    digests = [new_checksum(a) for a in algorithms]
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            for digest in digests:
                digest.update(block)
    return [d.hexdigest() for d in digests]


def sha256_file(path: Path) -> str:
    return checksum_file(path, "sha256")[0]


def file_digests(version_dir: Path) -> dict[str, str]:
    """sha256 of every file in a version except the manifest that lists them."""
    return {
        p.name: sha256_file(p) for p in sorted(version_dir.iterdir()) if p.is_file() and p.name != MANIFEST
    }


def write_manifest(version_dir: Path, manifest: Manifest) -> None:
    """Adds "files" {name: sha256}, the end-to-end proof a restore checks, and
    "fileChecksums".xxh3_128, which a backup checks while packing: 30x cheaper than sha256 and
    as sure to catch disk corruption, so a nightly backup does not hash every byte twice."""
    files = sorted(p for p in version_dir.iterdir() if p.is_file() and p.name != MANIFEST)
    digests = {p.name: checksum_file(p, "sha256", "xxh3_128") for p in files}
    manifest.model_copy(
        update={
            "files": {name: strong for name, (strong, _) in digests.items()},
            "file_checksums": FileChecksums(xxh3_128={name: fast for name, (_, fast) in digests.items()}),
        }
    ).write(version_dir)


def read_manifest(version_dir: Path) -> Manifest:
    return Manifest.read(version_dir)


def verify(version_dir: Path) -> list[str]:
    """Names of files whose sha256 differs from the manifest (or that are missing / extra)."""
    expected = read_manifest(version_dir).files
    actual = file_digests(version_dir)
    return sorted(n for n in set(expected) | set(actual) if expected.get(n) != actual.get(n))


def check_files(version_dir: Path, manifest: Manifest) -> str:
    """Every file the manifest lists must be there and have its checksum, before the version is
    trusted: the manifest's xxh3_128 (about 10 GB/s, so a 1 GB index costs a tenth of a second
    at load), or the sha256 of "files" when a manifest predates them. A manifest listing no
    checksums proves nothing and is refused: every Oozo build writes them. Returns the
    algorithm used; raises IndexCorrupt naming the files that differ."""
    version = manifest.version
    fast = manifest.file_checksums.xxh3_128 if manifest.file_checksums else {}
    # the xxh3_128 only when it covers every listed file, as backup's check does (layout.file_checksums)
    use_fast = bool(fast) and (set(fast) == set(manifest.files) or not manifest.files)
    algorithm, expected = ("xxh3_128", fast) if use_fast else ("sha256", manifest.files)
    if not expected:
        raise IndexCorrupt(f"index version {version}: its manifest lists no file checksums; rebuild it")
    unlisted = [name for name in (INDEX_FILE, CHUNKS_FILE) if name not in expected]
    if unlisted:
        raise IndexCorrupt(f"index version {version}: its manifest has no checksum for {', '.join(unlisted)}")
    bad: list[str] = []
    for name, digest in sorted(expected.items()):
        if "/" in name or name in ("", ".", "..", MANIFEST):  # a manifest names files of its own directory
            bad.append(f"{name!r} (not a file of the version)")
            continue
        try:
            actual = checksum_file(version_dir / name, algorithm)[0]
        except FileNotFoundError:
            bad.append(f"{name} (missing)")
            continue
        except OSError:
            bad.append(f"{name} (unreadable)")
            continue
        if actual != digest:
            bad.append(name)
    if bad:
        raise IndexCorrupt(
            f"index version {version} does not match its manifest ({algorithm} differs: "
            f"{', '.join(bad[:3])}{' …' if len(bad) > 3 else ''}); refusing to load it"
        )
    return algorithm

"""Make a folder hold exactly the files of a Git tree, touching only what changed.

The rules, in the order they are applied:
- Only regular files are materialised. Symlinks are skipped (a link to `../../etc/passwd` must
  not become a document, and `into` must hold no link a later writer could follow), submodules
  are skipped (they are other repositories), paths with `..`, `.git` or control characters are
  skipped; each is counted with its reason. A blob over `max_file_bytes` is skipped too; more
  than `max_files` files fails the fetch with SourceRefused instead of indexing a silent subset.
- A file whose bytes already equal the blob is left alone (unchanged), others are written
  (fetched), files this fetcher wrote before that are no longer in the tree are deleted.
- Never delete or overwrite what Oozo did not write: the state folder's shared fetch-state.json
  (`sync.load_state`/`save_state`, the record every fetcher keeps) lists the files a fetch wrote
  into `into`, whatever its kind, so a source switched from S3 to Git replaces the S3 files, and
  back. A file found in `into` that no fetch recorded is adopted only when its bytes are already
  the blob's; any other foreign file or symlink fails the fetch before anything moves.
- `into` is unchanged on failure: every read and check happens first, new content is staged in a
  sibling folder (`sync.staging`), and only then are files removed and staged files renamed.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from dulwich.object_store import BaseObjectStore, tree_lookup_path
from dulwich.objects import Blob, ObjectID

from oozo_contract.fetch import SkippedObject
from oozo_runtime.sources import sync
from oozo_runtime.sources.errors import SOURCE_INVALID, SOURCE_NOT_FOUND, SOURCE_REFUSED, SourceError

MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_FILES = 50_000
LEGACY_RECORD_FILE = "checkout.json"  # the Git-only record before fetch-state.json was shared
_GITLINK = 0o160000


@dataclass
class CheckoutCounts:
    fetched: int = 0
    unchanged: int = 0
    removed: int = 0
    skipped: list[SkippedObject] = field(default_factory=list)


@dataclass(frozen=True)
class _Recorded:
    blob: str
    size: int
    mtime_ns: int


def _unsafe(path: str) -> bool:
    parts = path.split("/")
    return any(
        part in ("", ".", "..") or part.lower() == ".git" or "\\" in part or any(ord(ch) < 32 for ch in part)
        for part in parts
    )


def _git_blob_id(path: Path) -> str:
    return Blob.from_string(path.read_bytes()).id.decode()


def _read_record(state: dict[str, Any], state_dir: Path) -> dict[str, _Recorded]:
    """Blob, size and mtime of each file the last Git fetch wrote: from the shared state, or from
    the checkout.json an earlier Oozo kept. Nothing readable means "compare by bytes"."""
    files: Any = state.get("files")
    if not state:
        try:
            legacy = json.loads((state_dir / LEGACY_RECORD_FILE).read_text())
            files = legacy["files"]
        except (OSError, ValueError, KeyError, TypeError):
            return {}
    try:
        return {rel: _Recorded(**entry) for rel, entry in files.items()}
    except (AttributeError, TypeError):
        return {}


def _save(state_dir: Path, source: str, files: dict[str, _Recorded]) -> None:
    record = {rel: vars(entry) for rel, entry in sorted(files.items())}
    sync.save_state(state_dir, "git", {"source": source, "files": record}, files)


def _scan(into: Path) -> tuple[dict[str, os.stat_result], list[str]]:
    """Regular files under `into` by relative path, and whatever else is there (symlinks,
    sockets): Oozo never writes those, so they are always foreign."""
    files: dict[str, os.stat_result] = {}
    others: list[str] = []
    if not into.is_dir():
        return files, others
    for dirpath, dirnames, filenames in os.walk(into):
        base = Path(dirpath)
        for name in [*dirnames, *filenames]:
            full = base / name
            info = full.lstat()
            rel = full.relative_to(into).as_posix()
            if stat.S_ISREG(info.st_mode):
                files[rel] = info
            elif not stat.S_ISDIR(info.st_mode):
                others.append(rel)
    return files, others


def _target_files(
    store: BaseObjectStore, tree_id: ObjectID, subdir: PurePosixPath | None, named: str, max_files: int
) -> tuple[dict[str, ObjectID], list[SkippedObject]]:
    """The regular files of the tree (relative path -> blob id) and what was skipped, why."""
    prefix = ""
    if subdir is not None:
        try:
            mode, tree_id = tree_lookup_path(store.__getitem__, tree_id, str(subdir).encode())
        except KeyError:
            mode = 0
        if not stat.S_ISDIR(mode):
            raise SourceError(SOURCE_NOT_FOUND, f"folder {subdir} not found in {named}")
        prefix = f"{subdir}/"
    files: dict[str, ObjectID] = {}
    skipped: list[SkippedObject] = []
    for entry in store.iter_tree_contents(tree_id):
        assert entry.path is not None and entry.mode is not None and entry.sha is not None
        rel = entry.path.decode("utf-8", "replace")
        name = prefix + rel
        if _unsafe(rel) or "\ufffd" in rel:
            skipped.append(SkippedObject(name=name, reason="unsafe or non-UTF-8 path"))
        elif entry.mode == _GITLINK:
            skipped.append(SkippedObject(name=name, reason="submodule (not fetched)"))
        elif stat.S_ISLNK(entry.mode):
            skipped.append(SkippedObject(name=name, reason="symlink (not followed)"))
        elif stat.S_ISREG(entry.mode):
            files[rel] = entry.sha
    if len(files) > max_files:
        raise SourceError(
            SOURCE_REFUSED,
            f"{named} holds {len(files)} files, more than the cap of {max_files}; name a folder with #SUBDIR",
        )
    return files, skipped


def materialise_tree(
    store: BaseObjectStore,
    tree_id: ObjectID,
    subdir: PurePosixPath | None,
    into: Path,
    state_dir: Path,
    *,
    named: str,
    max_file_bytes: int = MAX_FILE_BYTES,
    max_files: int = MAX_FILES,
) -> CheckoutCounts:
    targets, skipped = _target_files(store, tree_id, subdir, named, max_files)
    counts = CheckoutCounts(skipped=skipped)
    state, written = sync.load_state(state_dir, "git")
    # checkout.json is read only when no fetch-state.json exists yet: once another kind wrote one,
    # an old Git record would describe files that fetch has since replaced.
    record = _read_record(state, state_dir) if state or not written else {}
    owned = written | set(record)  # every file some fetch wrote, whatever the source kind was
    on_disk, others = _scan(into)
    foreign = sorted(
        others
        + [
            rel
            for rel in on_disk
            if rel not in owned and (rel not in targets or _git_blob_id(into / rel) != targets[rel].decode())
        ]
    )
    if foreign:
        raise SourceError(
            SOURCE_INVALID,
            f"{into} holds {len(foreign)} entries this fetch did not write (first: {foreign[0]}); "
            "refusing to overwrite or delete them: give an empty or fetch-owned folder",
        )
    with sync.staging(into) as stage:
        keep: set[str] = set()
        prefix = f"{subdir}/" if subdir is not None else ""
        for rel, blob_id in sorted(targets.items()):
            seen, known = on_disk.get(rel), record.get(rel)
            if (
                seen is not None
                and known is not None
                and known.blob == blob_id.decode()
                and (known.size, known.mtime_ns) == (seen.st_size, seen.st_mtime_ns)
            ):
                keep.add(rel)  # recorded as this blob and untouched since: no need to read it
                continue
            data = store[blob_id].as_raw_string()
            if len(data) > max_file_bytes:
                counts.skipped.append(
                    SkippedObject(name=prefix + rel, reason=f"larger than {max_file_bytes} bytes")
                )
                continue
            if seen is not None and seen.st_size == len(data) and (into / rel).read_bytes() == data:
                keep.add(rel)
                continue
            stage.path(rel).write_bytes(data)
            stage.add(rel)
        staged = set(stage.staged)
        removed = sorted(rel for rel in on_disk if rel not in keep and rel not in staged)
        # Recorded before anything moves: a crash mid-swap leaves every file Oozo wrote recorded.
        pending = _Recorded(blob="", size=-1, mtime_ns=-1)  # matches no file: compared by bytes next time
        in_flight = {**{rel: pending for rel in owned | keep | staged}, **record}
        _save(state_dir, named, in_flight)
        stage.commit(removed)
        into_real = into.resolve()
        _save(state_dir, named, {rel: _stat_record(into_real / rel, targets[rel]) for rel in keep | staged})
        (state_dir / LEGACY_RECORD_FILE).unlink(missing_ok=True)  # superseded by fetch-state.json
        counts.fetched, counts.unchanged, counts.removed = len(staged), len(keep), len(removed)
        return counts


def _stat_record(path: Path, blob_id: bytes) -> _Recorded:
    info = path.stat()
    return _Recorded(blob=blob_id.decode(), size=info.st_size, mtime_ns=info.st_mtime_ns)

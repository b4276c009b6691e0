"""What every fetcher does the same way: safe relative paths, the revision digest, the state file
kept between runs, and staging, so `into` changes only after everything was fetched.

A fetch downloads new and changed files into a staging folder next to `into` (same filesystem),
and only when all of them arrived moves them into place (one rename each) and removes the files
that disappeared at the source. A failure before that leaves `into` as it was; the staging
folder is always removed. Only files a fetch wrote (listed in its state) are ever removed.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from oozo_contract.fetch import SKIPPED_LISTED, FetchResult, SkippedObject, SourceKind
from oozo_runtime.sources.errors import SOURCE_BUSY, SOURCE_INVALID, SourceError

STATE_FORMAT = 1


def digest(pairs: Iterable[tuple[str, str]]) -> str:
    """ "sha256:" + hex of the sorted pairs, one `name\\0value\\n` each: stable, order-free."""
    h = hashlib.sha256()
    for name, value in sorted(pairs):
        h.update(f"{name}\0{value}\n".encode())
    return "sha256:" + h.hexdigest()


def safe_relative(name: str) -> str | None:
    """`name` as a relative POSIX path that stays inside a folder, or None when it would not:
    absolute, `..` or `.` or empty segments, NUL bytes."""
    if not name or name.startswith("/") or "\0" in name:
        return None
    parts = name.split("/")
    if any(part in ("", ".", "..") for part in parts):
        return None
    return "/".join(parts)


def folder_conflicts(paths: Iterable[str]) -> set[str]:
    """Paths that are also a folder of another path (`a` next to `a/b`): a folder cannot be a
    file too, so such files are skipped."""
    paths = set(paths)
    folders = {"/".join(p.split("/")[:i]) for p in paths for i in range(1, p.count("/") + 1)}
    return paths & folders


STATE_FILE = "fetch-state.json"
LOCK_FILE = "fetch.lock"
LOCK_POLL_SECONDS = 0.2


@contextlib.contextmanager
def fetch_lock(state_dir: Path, wait_seconds: float) -> Iterator[None]:
    """One fetch at a time per state folder: the index Job and the refresh CronJob may overlap,
    and two fetches interleaving their staging, deletions and state writes would leave DIR and
    the state disagreeing. An exclusive flock (like the build lock of versions.py): the kernel
    drops it when the holder dies, so a killed fetch never leaves a stale lock. The second fetch
    polls until `wait_seconds` passed, then fails with SourceBusy."""
    state_dir.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + wait_seconds
    with open(state_dir / LOCK_FILE, "a+") as fh:
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise SourceError(
                        SOURCE_BUSY,
                        f"another fetch has held {state_dir / LOCK_FILE} for more than {wait_seconds:g} s; "
                        "it is still running (or stuck): try again when it ended",
                    ) from None
                time.sleep(LOCK_POLL_SECONDS)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def load_state(state_dir: Path, kind: SourceKind) -> tuple[dict[str, Any], set[str]]:
    """The previous fetch's record if it was of the same kind (`{}` otherwise), and the files in
    DIR it wrote, whatever its kind: a source switched from S3 to HTTP must not leave the S3
    files behind. No record, or an unreadable one, means "fetch everything", never a failure."""
    try:
        state = json.loads((state_dir / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}, set()
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
        return {}, set()
    written = {str(rel) for rel in state.get("written", [])}
    return (state if state.get("kind") == kind else {}), written


def save_state(state_dir: Path, kind: SourceKind, state: dict[str, Any], written: Iterable[str]) -> None:
    """Write the state atomically (temp file + rename): a kill leaves the old or the new one."""
    state_dir.mkdir(parents=True, exist_ok=True)
    record = {**state, "kind": kind, "written": sorted(written), "format": STATE_FORMAT}
    tmp = state_dir / (STATE_FILE + ".tmp")
    tmp.write_text(json.dumps(record, sort_keys=True), encoding="utf-8")
    os.replace(tmp, state_dir / STATE_FILE)


class Staging:
    """A folder next to `into` where new files wait until the whole fetch succeeded."""

    def __init__(self, into: Path) -> None:
        self.into = into
        into.parent.mkdir(parents=True, exist_ok=True)
        self.root = Path(tempfile.mkdtemp(prefix=f".{into.name}.staging-", dir=into.parent))
        self.staged: list[str] = []

    def path(self, rel: str) -> Path:
        """Where the new copy of `rel` is written; commit() moves it into `into`."""
        target = self.root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def add(self, rel: str) -> None:
        self.staged.append(rel)

    def commit(self, removed: Iterable[str]) -> None:
        """Delete `removed` (files a fetch wrote), then move every staged file into place.
        Deleting first lets a file give way to a folder of the same name (`a` → `a/b`); every
        path is checked to stay inside `into` (no symlinked folder leads out of it)."""
        self.into.mkdir(parents=True, exist_ok=True)
        into_real = self.into.resolve()
        for rel in removed:
            inside(into_real, rel).unlink(missing_ok=True)
            _prune_empty_parents(into_real, into_real / rel)
        for rel in self.staged:
            target = inside(into_real, rel)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(self.root / rel, inside(into_real, rel))  # re-checked now its folders exist

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def staging(into: Path) -> Iterator[Staging]:
    stage = Staging(into)
    try:
        yield stage
    finally:
        stage.close()


def inside(into_real: Path, rel: str) -> Path:
    """`into/rel`, checked to resolve inside `into` (no symlinked folder on the way out)."""
    target = into_real / rel
    if not target.parent.resolve().is_relative_to(into_real):
        raise SourceError(SOURCE_INVALID, f"refusing to write {rel}: its folder leads outside the target")
    return target


def _prune_empty_parents(root: Path, path: Path) -> None:
    """Remove folders left empty by a deletion, up to (not including) `root`."""
    folder = path.parent
    while folder != root and root in folder.parents:
        try:
            folder.rmdir()
        except OSError:  # not empty (or gone): what is left belongs there
            return
        folder = folder.parent


def check_into(into: Path, state_dir: Path) -> None:
    """`into` and the state folder must be apart: state files inside `into` would be indexed,
    and `into` inside the state folder could be overwritten by it."""
    a, b = into.resolve(), state_dir.resolve()
    if a == b or a in b.parents or b in a.parents:
        raise SourceError(
            SOURCE_INVALID, f"--into {into} and --state-dir {state_dir} must not contain each other"
        )


def unchanged_result(kind: SourceKind, revision: str) -> FetchResult:
    """`--unless-revision` matched: nothing was downloaded, DIR and the state were not touched."""
    return FetchResult(
        kind=kind, revision=revision, fetched=0, unchanged=0, removed=0, skipped_because_unchanged=True
    )


def result(
    kind: SourceKind,
    revision: str,
    *,
    fetched: int,
    unchanged: int,
    removed: int,
    skipped: list[SkippedObject],
) -> FetchResult:
    return FetchResult(
        kind=kind,
        revision=revision,
        fetched=fetched,
        unchanged=unchanged,
        removed=removed,
        skipped_objects=len(skipped),
        skipped=skipped[:SKIPPED_LISTED],
    )

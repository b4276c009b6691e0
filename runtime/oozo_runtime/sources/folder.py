"""A local folder as a source. `oozo index FOLDER` indexes it in place (no copy); `oozo fetch
FOLDER --into DIR` mirrors it into DIR the same way the remote fetchers do, so a folder on a
shared volume can feed the same pipeline.

Only regular files are copied; a symlink is followed only when it stays inside the folder (the
indexer's own rule), so a link to /etc/passwd never leaves the source. A file is copied again
when its size or modification time changed since the last fetch.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from oozo_contract.fetch import FetchResult, SkippedObject
from oozo_runtime.sources import sync
from oozo_runtime.sources.errors import SOURCE_NOT_FOUND, SourceError


def folder_revision(files: dict[str, os.stat_result]) -> str:
    return sync.digest((rel, f"{st.st_size}:{st.st_mtime_ns}") for rel, st in files.items())


def scan_folder(folder: Path) -> tuple[dict[str, os.stat_result], list[SkippedObject]]:
    """Every regular file under `folder` by relative POSIX path, and the links that leave it."""
    root = folder.resolve()
    files: dict[str, os.stat_result] = {}
    skipped: list[SkippedObject] = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        here = Path(dirpath)
        for name in sorted(dirnames):
            if (here / name).is_symlink():
                dirnames.remove(name)  # never walk through a linked folder: it may lead anywhere
                skipped.append(
                    SkippedObject(
                        name=(here / name).relative_to(folder).as_posix(), reason="symlinked folder"
                    )
                )
        for name in filenames:
            path = here / name
            rel = path.relative_to(folder).as_posix()
            if path.is_symlink() and root not in path.resolve().parents:
                skipped.append(SkippedObject(name=rel, reason="symlink to a file outside the source folder"))
                continue
            try:
                st = path.stat()
            except OSError as exc:
                skipped.append(SkippedObject(name=rel, reason=f"unreadable: {exc.strerror}"))
                continue
            files[rel] = st
    return files, skipped


def fetch_folder(uri: str, into: Path, state_dir: Path, *, unless_revision: str | None = None) -> FetchResult:
    source = Path(uri)
    if not source.is_dir():
        raise SourceError(SOURCE_NOT_FOUND, f"source folder {source} does not exist or is not a folder")
    sync.check_into(into, state_dir)
    files, skipped = scan_folder(source)
    if unless_revision is not None and folder_revision(files) == unless_revision:
        return sync.unchanged_result("folder", unless_revision)
    seen = {rel: f"{st.st_size}:{st.st_mtime_ns}" for rel, st in files.items()}
    state, written = sync.load_state(state_dir, "folder")
    previous: dict[str, str] = state.get("files", {}) if state.get("source") == str(source.resolve()) else {}
    changed = [rel for rel, stamp in seen.items() if previous.get(rel) != stamp or not (into / rel).is_file()]
    removed = sorted(written - seen.keys())
    with sync.staging(into) as stage:
        for rel in changed:
            try:
                shutil.copy2(source / rel, stage.path(rel))
            except OSError as exc:
                raise SourceError(SOURCE_NOT_FOUND, f"copying {rel} from {source}: {exc.strerror}") from exc
            stage.add(rel)
        stage.commit(removed)
    sync.save_state(state_dir, "folder", {"source": str(source.resolve()), "files": seen}, seen)
    return sync.result(
        "folder",
        folder_revision(files),
        fetched=len(changed),
        unchanged=len(seen) - len(changed),
        removed=len(removed),
        skipped=skipped,
    )

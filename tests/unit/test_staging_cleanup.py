"""Cleanup of a parallel build's staging folder (docs/runtime.md, "Parallel builds"): removing a
build deletes only the files of the shard layout Oozo writes, and the retention removes other
builds only when they are older than it. Real files in a real folder."""

from __future__ import annotations

import os
import time
from pathlib import Path

from oozo_runtime.indexing.staging import FolderStaging, remove_expired
from oozo_runtime.indexing.staging_layout import MERGE_CLAIM, SHARD_FILES

PUBLISHED, ABANDONED, RECENT = "a" * 64, "b" * 64, "c" * 64


def stage(root: Path, key: str, shards: int, age_hours: float = 0) -> Path:
    """A build's folder as shards leave it: shard-K/ with the layout's files, and the claim."""
    build = root / key
    for k in range(shards):
        (build / f"shard-{k}").mkdir(parents=True)
        for name in SHARD_FILES:
            (build / f"shard-{k}" / name).write_text("{}")
    (build / MERGE_CLAIM).write_text("0")
    then = time.time() - age_hours * 3600
    for path in [build, *build.rglob("*")]:
        os.utime(path, (then, then))
    return build


def test_removing_a_build_keeps_what_oozo_did_not_write(tmp_path: Path) -> None:
    build = stage(tmp_path, PUBLISHED, 2)
    (build / "notes.txt").write_text("mine")
    (build / "shard-1" / "extra.bin").write_bytes(b"mine too")

    FolderStaging(tmp_path).remove_build(PUBLISHED)

    left = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*"))
    assert left == [
        PUBLISHED,
        f"{PUBLISHED}/notes.txt",
        f"{PUBLISHED}/shard-1",
        f"{PUBLISHED}/shard-1/extra.bin",
    ]


def test_a_merge_removes_other_builds_staging_only_past_the_retention(tmp_path: Path) -> None:
    stage(tmp_path, PUBLISHED, 3)
    stage(tmp_path, ABANDONED, 1, age_hours=25)
    stage(tmp_path, RECENT, 2, age_hours=1)
    (tmp_path / "README").write_text("a foreign file beside the builds")
    (tmp_path / ("d" * 63)).mkdir()  # not a build's name: not Oozo's
    os.utime(tmp_path / ("d" * 63), (0, 0))

    removed = remove_expired(FolderStaging(tmp_path), keep=PUBLISHED, retention_hours=24)

    assert removed == [ABANDONED]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([PUBLISHED, RECENT, "README", "d" * 63])
    assert remove_expired(FolderStaging(tmp_path), keep=PUBLISHED, retention_hours=0) == [RECENT]
    assert (tmp_path / PUBLISHED / "shard-2" / "vectors.npy").is_file(), "the kept build is the caller's"

"""Where the shards of a parallel build leave their results for the merge: a folder (one machine,
or a volume every shard pod mounts) or an `s3://BUCKET/PREFIX` (any number of nodes).

Both keep one build's shards under `<build>/shard-K/` (indexing/shards.py names the files) and
give the same promises:
- a shard is staged whole or not at all: a folder appears by an atomic rename; on S3 the data
  objects are uploaded first and a small completion marker (`complete.json`, recording each
  object's sha256) last, and a reader trusts only a shard whose marker exists and whose objects
  match it;
- one claimant wins the merge: an O_EXCL create of `<build>/merge-claim`, on S3 a conditional
  put (`If-None-Match: *`) of the same key;
- removal deletes only what Oozo wrote: the shard layout's files of a build (named, never a
  listing taken on trust), so a foreign file under the staging area survives.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from oozo_contract.index_settings import IndexSettings
from oozo_runtime.indexing.staging_layout import (
    BUILD_NAME,
    MERGE_CLAIM,
    RESULT_FILE,
    SHARD_FILES,
    SHARD_NAME,
    TMP_PREFIX,
    ShardMissing,
)
from oozo_runtime.indexing.staging_s3 import S3Staging, open_s3_staging


class FolderStaging:
    """Staging in a folder: STAGING/<build>/shard-K/ appears by an atomic rename."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def __str__(self) -> str:
        return str(self.root)

    def where(self, key: str, shard: int | None = None) -> str:
        folder = self.root / key
        return str(folder / f"shard-{shard}" if shard is not None else folder)

    def has_shard(self, key: str, shard: int) -> bool:
        return (self.root / key / f"shard-{shard}" / RESULT_FILE).is_file()

    def read_file(self, key: str, shard: int, name: str) -> bytes | None:
        """One file of a staged shard, None when the shard is not staged."""
        if not self.has_shard(key, shard):
            return None
        return (self.root / key / f"shard-{shard}" / name).read_bytes()

    @contextmanager
    def writing(self, key: str, shard: int) -> Iterator[Path]:
        """A folder to write shard `shard`'s files into; staged when the block ends without error."""
        target = self.root / key / f"shard-{shard}"
        target.parent.mkdir(parents=True, exist_ok=True)
        for stale in target.parent.glob(f"{TMP_PREFIX}{target.name}-*"):  # this shard's killed tries
            shutil.rmtree(stale, ignore_errors=True)
        tmp = target.parent / f"{TMP_PREFIX}{target.name}-{os.urandom(4).hex()}"
        tmp.mkdir()
        try:
            yield tmp
            for path in tmp.iterdir():
                with open(path, "rb") as fh:
                    os.fsync(fh.fileno())
            os.rename(tmp, target)
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
            if not self.has_shard(key, shard):  # not a twin pod's rename that won the race
                raise
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    @contextmanager
    def reading(self, key: str, shard: int) -> Iterator[Path]:
        """The folder of a staged shard, as the merge reads it."""
        folder = self.root / key / f"shard-{shard}"
        if not self.has_shard(key, shard):
            raise ShardMissing("ShardMissing", f"no result in {folder}")
        yield folder

    def claim_merge(self, key: str, claimant: str) -> bool:
        claim = self.root / key / MERGE_CLAIM
        try:
            fd = os.open(claim, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return claim.read_text(encoding="utf-8").strip() == claimant
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(claimant)
        return True

    def builds(self) -> dict[str, tuple[list[int], float]]:
        """Every build staged here: its staged shards and when its newest file was written."""
        out: dict[str, tuple[list[int], float]] = {}
        if not self.root.is_dir():
            return out
        for build in self.root.iterdir():
            if not (build.is_dir() and BUILD_NAME.match(build.name)):
                continue
            shards, newest = [], build.stat().st_mtime
            for entry in build.iterdir():
                newest = max(newest, entry.stat().st_mtime)
                match = SHARD_NAME.match(entry.name)
                if match and (entry / RESULT_FILE).is_file():
                    shards.append(int(match.group(1)))
            out[build.name] = (sorted(shards), newest)
        return out

    def remove_build(self, key: str) -> None:
        """Delete the files of the shard layout and the claim, then the folders they leave empty:
        anything else put there by someone else stays (and so does its folder)."""
        build = self.root / key
        if not build.is_dir():
            return
        for entry in build.iterdir():
            name = entry.name
            if SHARD_NAME.match(name) or (name.startswith(f"{TMP_PREFIX}shard-") and entry.is_dir()):
                for file in SHARD_FILES:
                    (entry / file).unlink(missing_ok=True)
                _rmdir_if_empty(entry)
        (build / MERGE_CLAIM).unlink(missing_ok=True)
        _rmdir_if_empty(build)


def _rmdir_if_empty(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not empty: something Oozo did not write is there
        folder.rmdir()


Staging = FolderStaging | S3Staging


def open_staging(settings: IndexSettings, endpoint: str | None = None, region: str | None = None) -> Staging:
    """The staging area `settings` name. An s3:// one: the endpoint and region of
    OOZO_STAGING_S3_*, else those given (`--s3-endpoint`), else the AWS environment."""
    if not settings.staging_is_s3():
        return FolderStaging(settings.resolved_staging_dir())
    return open_s3_staging(settings, endpoint, region)


def remove_expired(staging: Staging, keep: str, retention_hours: float) -> list[str]:
    """Remove the staging of builds other than `keep` whose newest file is older than the
    retention: builds abandoned when their source changed before the merge."""
    cutoff = time.time() - retention_hours * 3600
    removed = []
    for key, (_, newest) in staging.builds().items():
        if key != keep and newest < cutoff:
            staging.remove_build(key)
            removed.append(key)
    return sorted(removed)

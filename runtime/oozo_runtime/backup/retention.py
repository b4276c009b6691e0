"""Retention of backups: which versions go, and only ever objects Oozo wrote.

Buckets are shared with other data, and a prefix may hold another corpus's prefix below it
(`backups/` and `backups/b/`), so what retention may touch is narrow:

- a *version* is a first-level folder PREFIX/<V>/ whose name is a version name (the runtime's own
  rule, `versions.VERSION_RE`); other first-level names are not looked at;
- Oozo's objects in it are exactly PREFIX/<V>/<name> with <name> one of `uri.VERSION_FILES`.
  Nothing deeper (PREFIX/b/<V>/... of a nested corpus) and no other name is ever deleted,
  whatever its age;
- a *complete* version has its .sha256 marker. They are ranked by the time the marker was
  written: the newest `keep_last` stay, and so does every version in `keep`. One that goes must
  have a marker in Oozo's format (`<sha256>  index.tar.zst`);
- an *incomplete* version (a crash mid-upload) goes when its newest object is a day older than
  the newest of all, its folder holds nothing but Oozo's names, and every object to delete
  carries the `oozo-owner` metadata of this owner. A leftover without that proof (written by an
  Oozo from before the metadata, or by someone else) stays: a manual cleanup is cheaper than a
  wrong delete.

Retention runs only after the backup claimed the prefix (`ownership.claim`), so it never prunes
under a prefix another owner writes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from oozo_runtime.backup import s3
from oozo_runtime.backup.uri import ARTIFACT, CHECKSUM, OWNER_METADATA, VERSION_FILES, S3Location
from oozo_runtime.versions import VERSION_RE

LEFTOVER_AGE_SECONDS = 86400
_MARKER = re.compile(rf"^[0-9a-f]{{64}}  {re.escape(ARTIFACT)}\n?$")


def is_version_name(name: str) -> bool:
    return bool(VERSION_RE.match(name)) and ".." not in name


@dataclass
class _Folder:
    keys: list[str] = field(default_factory=list)  # Oozo's objects: PREFIX/<V>/<one of VERSION_FILES>
    foreign: bool = False  # anything else under PREFIX/<V>/
    marker_time: Any = None
    newest: Any = None


def _folders(objects: list[dict[str, Any]], loc: S3Location) -> dict[str, _Folder]:
    base = loc.key() + "/" if loc.prefix else ""
    folders: dict[str, _Folder] = {}
    for obj in objects:
        if not obj["Key"].startswith(base):
            continue
        version, sep, name = obj["Key"][len(base) :].partition("/")
        if not sep or not is_version_name(version):
            continue  # PREFIX/latest, PREFIX/oozo-owner.json, or not a version folder
        folder = folders.setdefault(version, _Folder())
        modified = obj["LastModified"]
        folder.newest = modified if folder.newest is None else max(folder.newest, modified)
        if name not in VERSION_FILES:  # another name, or deeper: never Oozo's
            folder.foreign = True
            continue
        folder.keys.append(obj["Key"])
        if name == CHECKSUM:
            folder.marker_time = modified
    return folders


def _plan(folders: dict[str, _Folder], keep_last: int, keep: set[str]) -> tuple[list[str], list[str]]:
    """(complete versions to delete, incomplete leftovers to delete)."""
    complete = {v: f for v, f in folders.items() if f.marker_time is not None}
    ranked = sorted(complete, key=lambda v: (complete[v].marker_time, v), reverse=True)
    doomed = [v for v in ranked[keep_last:] if v not in keep]
    leftovers: list[str] = []
    if folders:
        horizon = max(f.newest for f in folders.values()).timestamp() - LEFTOVER_AGE_SECONDS
        leftovers = sorted(
            v
            for v, f in folders.items()
            if v not in complete
            and v not in keep
            and not f.foreign
            and f.keys
            and f.newest.timestamp() < horizon
        )
    return doomed, leftovers


def plan_retention(
    objects: list[dict[str, Any]], loc: S3Location, keep_last: int, keep: set[str]
) -> list[str]:
    """Pure: which versions are candidates for deletion, complete ones first, by the rules above
    (the proofs that need a request are checked by `apply_retention`)."""
    doomed, leftovers = _plan(_folders(objects, loc), keep_last, keep)
    return doomed + leftovers


def _marker_is_oozos(client: Any, loc: S3Location, version: str) -> bool:
    text = s3.get_text(client, loc.bucket, loc.key(version, CHECKSUM))
    return text is not None and bool(_MARKER.match(text))


def _written_by(client: Any, bucket: str, key: str, owner_id: str) -> bool:
    meta = client.head_object(Bucket=bucket, Key=key).get("Metadata", {})
    return bool(meta.get(OWNER_METADATA) == owner_id)


def apply_retention(client: Any, loc: S3Location, keep_last: int, keep: set[str], owner_id: str) -> list[str]:
    """Delete what the plan names and the proofs allow; returns the versions deleted."""
    if keep_last <= 0:
        return []
    base = loc.key() + "/" if loc.prefix else ""
    folders = _folders(list(s3.list_objects(client, loc.bucket, base)), loc)
    doomed, leftovers = _plan(folders, keep_last, keep)
    pruned = [v for v in doomed if _marker_is_oozos(client, loc, v)]
    pruned += [
        v for v in leftovers if all(_written_by(client, loc.bucket, key, owner_id) for key in folders[v].keys)
    ]
    s3.delete_keys(client, loc.bucket, [key for v in pruned for key in folders[v].keys])
    return pruned

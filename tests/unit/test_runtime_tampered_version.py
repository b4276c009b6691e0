"""A version whose files differ from its manifest is never trusted: `versions.check_files`, the
check the server and `oozo query` run before loading (real files; the runtime tier runs it
through a real server and the real CLI in tests/runtime/test_tampered_index.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from oozo_contract.manifest import Manifest
from oozo_runtime import versions
from tests.unit.test_runtime_versions import fake_version


def test_an_untouched_version_passes_with_the_fast_checksums(tmp_path: Path) -> None:
    vdir = fake_version(tmp_path, "v1")
    assert versions.check_files(vdir, versions.read_manifest(vdir)) == "xxh3_128"


@pytest.mark.parametrize(
    ("tamper", "named"),
    [
        (lambda v: (v / versions.CHUNKS_FILE).write_text('{"text": "rewritten"}\n'), "chunks.jsonl"),
        (lambda v: (v / versions.INDEX_FILE).write_bytes(b"vec"), "index.faiss"),  # truncated
        (lambda v: (v / versions.INDEX_FILE).unlink(), "index.faiss (missing)"),
    ],
)
def test_a_changed_truncated_or_missing_file_is_refused_by_name(
    tmp_path: Path, tamper: object, named: str
) -> None:
    vdir = fake_version(tmp_path, "v1")
    tamper(vdir)  # type: ignore[operator]
    with pytest.raises(versions.IndexCorrupt) as caught:
        versions.check_files(vdir, versions.read_manifest(vdir))
    message = str(caught.value)
    assert named in message and "v1" in message
    assert str(tmp_path) not in message  # no internal paths: the message goes to /ready


def _rewrite_manifest(vdir: Path, **changes: object) -> Manifest:
    data = json.loads((vdir / versions.MANIFEST).read_text())
    data.update(changes)
    data = {k: v for k, v in data.items() if v is not None}
    (vdir / versions.MANIFEST).write_text(json.dumps(data))
    return versions.read_manifest(vdir)


def test_a_manifest_from_before_fast_checksums_is_checked_with_its_sha256(tmp_path: Path) -> None:
    vdir = fake_version(tmp_path, "v1")
    manifest = _rewrite_manifest(vdir, fileChecksums=None)
    assert versions.check_files(vdir, manifest) == "sha256"
    (vdir / versions.CHUNKS_FILE).write_text('{"text": "rewritten"}\n')
    with pytest.raises(versions.IndexCorrupt, match=r"sha256 differs: chunks\.jsonl"):
        versions.check_files(vdir, manifest)


def test_a_manifest_without_checksums_or_with_foreign_names_proves_nothing(tmp_path: Path) -> None:
    vdir = fake_version(tmp_path, "v1")
    with pytest.raises(versions.IndexCorrupt, match="lists no file checksums"):
        versions.check_files(vdir, _rewrite_manifest(vdir, fileChecksums=None, files={}))
    escaping = {"xxh3_128": {"index.faiss": "0", "chunks.jsonl": "0", "../../etc/passwd": "0"}}
    with pytest.raises(versions.IndexCorrupt, match="not a file of the version"):
        versions.check_files(vdir, _rewrite_manifest(vdir, fileChecksums=escaping, files={}))

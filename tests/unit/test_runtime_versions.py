"""Index versions: names, manifest with sha256 of every file, atomic publish, stale build
clean-up, the embedding cache and the termination message size cap."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xxhash

from oozo_contract.manifest import EmbeddingInfo, Manifest
from oozo_contract.results import AVAILABLE_MAX, AvailableVersion, IndexBuildResult
from oozo_runtime import versions
from oozo_runtime.indexing.cache import EmbeddingCache
from oozo_runtime.termination import termination_message


def fake_version(root: Path, name: str, payload: bytes = b"vectors") -> Path:
    with versions.scratch_dir(root) as tmp:
        (tmp / versions.INDEX_FILE).write_bytes(payload)
        (tmp / versions.CHUNKS_FILE).write_text('{"text": "x"}\n')
        versions.write_manifest(tmp, Manifest(version=name, embedding=EmbeddingInfo(model="m")))
        return versions.publish(root, tmp, name)


def test_version_name_is_label_safe() -> None:
    name = versions.version_name("1a2b3c4d" * 8, datetime(2026, 11, 24, 12, 3, 1, tzinfo=UTC))
    assert name == "20261124t120301z-1a2b3c4d"
    assert versions.VERSION_RE.match(name)
    assert len(versions.version_name("f" * 64)) <= 63


def test_manifest_lists_sha256_of_every_file_and_verify_detects_tampering(tmp_path: Path) -> None:
    path = fake_version(tmp_path, "v1")
    manifest = versions.read_manifest(path)
    assert set(manifest.files) == {versions.INDEX_FILE, versions.CHUNKS_FILE}
    assert manifest.files[versions.INDEX_FILE] == versions.sha256_file(path / versions.INDEX_FILE)
    assert manifest.file_checksums is not None
    fast = manifest.file_checksums.xxh3_128  # what a backup checks while packing
    assert set(fast) == set(manifest.files)
    assert fast[versions.INDEX_FILE] == xxhash.xxh3_128(b"vectors").hexdigest()
    assert versions.verify(path) == []
    (path / versions.INDEX_FILE).write_bytes(b"tampered")
    assert versions.verify(path) == [versions.INDEX_FILE]


def test_publish_makes_a_relative_current_link_and_keeps_old_versions(tmp_path: Path) -> None:
    fake_version(tmp_path, "v1")
    fake_version(tmp_path, "v2")
    assert os.readlink(tmp_path / "current") == "versions/v2"
    assert versions.current_version(tmp_path) == "v2"
    assert versions.list_versions(tmp_path) == ["v1", "v2"]
    assert versions.resolve(tmp_path, "v1") == tmp_path / "versions" / "v1"
    assert not list(tmp_path.glob(".tmp-*"))


def test_versions_are_immutable(tmp_path: Path) -> None:
    fake_version(tmp_path, "v1")
    with pytest.raises(OSError):
        fake_version(tmp_path, "v1")


def test_resolve_without_any_version_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(versions.VersionNotFound, match="oozo index"):
        versions.resolve(tmp_path)
    with pytest.raises(versions.VersionNotFound, match="nope"):
        versions.resolve(tmp_path, "nope")


def test_stale_tmp_dirs_are_cleaned_and_lock_is_exclusive(tmp_path: Path) -> None:
    stale = tmp_path / f"{versions.TMP_PREFIX}killed-build"
    stale.mkdir()
    (stale / "index.faiss").write_bytes(b"half")
    with versions.build_lock(tmp_path):
        assert versions.clean_stale_tmp(tmp_path) == [stale.name]
        with pytest.raises(RuntimeError, match="another build"), versions.build_lock(tmp_path):
            pass
    assert not stale.exists()


def test_embedding_cache_round_trip(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path, "model-a", "", 4)
    vecs = np.arange(12, dtype=np.float32).reshape(3, 4)
    cache.replace(["c" * 64, "a" * 64, "b" * 64], vecs)
    again = EmbeddingCache(tmp_path, "model-a", "", 4)
    found, got = again.lookup(["b" * 64, "z" * 64, "c" * 64])
    assert found.tolist() == [True, False, True]
    assert np.array_equal(got, vecs[[2, 0]])
    other_model = EmbeddingCache(tmp_path, "model-b", "", 4)
    assert len(other_model) == 0
    assert len(list(tmp_path.rglob("*.npz"))) == 1  # one file per model, not one per chunk


def test_termination_message_stays_under_4096_bytes() -> None:
    result = {"version": "v", "skippedDocuments": 500}
    result["skipped"] = [
        {"document": f"folder/{i:04d}-" + "x" * 80 + ".docx", "reason": "corrupt"} for i in range(500)
    ]
    text = termination_message(result)
    assert len(text.encode()) < 4096
    data = json.loads(text)
    assert data["skippedTruncated"] is True
    assert data["skippedDocuments"] == 500
    assert 0 < len(data["skipped"]) < 500


def test_small_termination_message_is_untouched() -> None:
    result = {"version": "v", "skipped": [{"document": "a", "reason": "empty file"}]}
    assert json.loads(termination_message(result)) == result


def test_a_scratch_dir_is_removed_even_when_interrupted_right_after_it_was_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_mkdir = Path.mkdir

    def mkdir_then_sigterm(self: Path, *args: Any, **kwargs: Any) -> None:
        real_mkdir(self, *args, **kwargs)
        raise KeyboardInterrupt  # what `oozo restore` turns a SIGTERM into, at the worst moment

    monkeypatch.setattr(Path, "mkdir", mkdir_then_sigterm)
    with pytest.raises(KeyboardInterrupt), versions.scratch_dir(tmp_path):
        pass
    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == []

    with pytest.raises(RuntimeError), versions.scratch_dir(tmp_path) as work:
        (work / "half").write_bytes(b"x")
        raise RuntimeError("build failed")
    assert list(tmp_path.iterdir()) == []

    with versions.scratch_dir(tmp_path) as work:
        versions.write_manifest(work, Manifest(version="v1"))
        versions.publish(tmp_path, work, "v1")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["current", "versions"]


def test_available_lists_the_newest_versions_first_with_what_their_manifests_say(tmp_path: Path) -> None:
    for i in range(12):
        fake_version(tmp_path, f"2026010{i % 10}t00000{i // 10}z-v{i:02d}")
    (tmp_path / versions.VERSIONS / "not-ours").mkdir()  # no manifest: not an Oozo version
    listed = versions.available(tmp_path)
    assert len(listed) == 10  # bounded: status.index.available holds at most AVAILABLE_MAX
    names = sorted(versions.oldest_first(tmp_path), key=lambda n: n.split("-", 1)[0])
    assert [a.version for a in listed] == names[::-1][:10]
    assert {a.embedding_model for a in listed} == {"m"}
    assert versions.available(tmp_path, limit=2)[0].version == names[-1]


def test_a_build_result_listing_every_available_version_fits_a_termination_message() -> None:
    available = [
        AvailableVersion(
            version=f"20261124t12030{i}z-1a2b3c4d",
            built_at="2026-11-24T12:03:01Z",
            documents=123456,
            chunks=9876543,
            embedding_model="sentence-transformers/paraphrase-multilingual-MiniLM-L12-v2",
        )
        for i in range(AVAILABLE_MAX + 5)
    ]
    result = IndexBuildResult(
        version=available[0].version, documents=1, chunks=1, skipped_documents=100,
        skipped=[{"document": f"docs/{'deep/' * 20}file-{i}.pdf", "reason": "x" * 200} for i in range(100)],
        embedding_model="m", dimensions=384, size_bytes=1, built_at="t", build_seconds=1.0,
        reused_embeddings=0, available=available,
    )  # fmt: skip
    assert len(result.available) == AVAILABLE_MAX
    message = termination_message(result.model_dump(mode="json", by_alias=True, exclude_none=True))
    assert len(message.encode()) <= 4096
    read = IndexBuildResult.model_validate_json(message)
    assert read.available[0].version == available[0].version  # the newest survive the fitting

"""Index versions are bounded: a build of unchanged inputs publishes nothing, retention keeps the
newest `keep_versions` plus the serving and pinned ones, and the embedding cache holds only what
the current version uses. Real model, real files; the assertions count versions, cache entries
and bytes, never time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from oozo_contract.index_settings import IndexSettings
from oozo_runtime import versions
from oozo_runtime.indexing.build import build
from oozo_runtime.indexing.cache import EmbeddingCache


def _write_handbook(source: Path, documents: int = 4) -> None:
    source.mkdir(parents=True, exist_ok=True)
    for i in range(documents):
        (source / f"policy-{i}.md").write_text(
            f"# Policy {i}\n\nEmployees of team {i} file travel expenses within {i + 10} days.\n"
        )


def _change_one(source: Path, round_: int) -> None:
    (source / f"policy-{round_ % 4}.md").write_text(
        f"# Policy {round_ % 4}\n\nRevision {round_}: expenses are due within {round_ + 20} days.\n"
    )


def _bytes_on_disk(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and not p.is_symlink())


def _version_bytes(root: Path, version: str) -> int:
    return _bytes_on_disk(root / versions.VERSIONS / version)


def _cache_entries(root: Path, embedder: Any) -> int:
    return len(EmbeddingCache(root / versions.CACHE, embedder.model_id, embedder.prefixes.passage, 384))


def test_ten_builds_of_an_unchanged_source_leave_one_version(tmp_path: Path, embedder: Any) -> None:
    source, index_dir = tmp_path / "docs", tmp_path / "index"
    _write_handbook(source)
    settings = IndexSettings(source=str(source), index_dir=index_dir)
    first = build(settings, embedder=embedder)
    results = [build(settings, embedder=embedder) for _ in range(9)]
    assert versions.list_versions(index_dir) == [first.version]
    assert all(r.version == first.version and r.unchanged for r in results)
    assert not first.unchanged
    # the report still describes the index that serves
    last = results[-1]
    assert (last.documents, last.chunks, last.built_at) == (first.documents, first.chunks, first.built_at)
    assert last.reused_embeddings == last.chunks and last.size_bytes == first.size_bytes
    assert _cache_entries(index_dir, embedder) == first.chunks


def test_ten_builds_each_with_one_changed_document_keep_keep_versions_and_bounded_disk(
    tmp_path: Path, embedder: Any
) -> None:
    source, index_dir = tmp_path / "docs", tmp_path / "index"
    _write_handbook(source)
    settings = IndexSettings(source=str(source), index_dir=index_dir, keep_versions=3)
    published = [build(settings, embedder=embedder).version]
    for round_ in range(1, 10):
        _change_one(source, round_)
        result = build(settings, embedder=embedder)
        assert not result.unchanged
        published.append(result.version)
    assert len(set(published)) == 10
    # the three built last, whatever their names (builds within one second share a timestamp)
    assert versions.list_versions(index_dir) == sorted(published[-3:])
    assert versions.current_version(index_dir) == published[-1]
    current = versions.read_manifest(versions.resolve(index_dir))
    assert current.counts is not None
    assert _cache_entries(index_dir, embedder) == current.counts.chunks
    assert not list(index_dir.glob(f"{versions.TMP_PREFIX}*"))
    # three versions and a cache the size of one index: a bounded multiple of one version
    largest = max(_version_bytes(index_dir, v) for v in versions.list_versions(index_dir))
    # plus the ONNX query graph, a fixed cost per model revision: one folder for the ten builds
    graphs = list((index_dir / "onnx").iterdir())
    assert len(graphs) == 1, graphs
    assert _bytes_on_disk(index_dir) - _bytes_on_disk(graphs[0]) <= 4 * largest


def test_retention_keeps_the_serving_and_pinned_versions(tmp_path: Path, embedder: Any) -> None:
    source, index_dir = tmp_path / "docs", tmp_path / "index"
    _write_handbook(source)
    keep_one = IndexSettings(source=str(source), index_dir=index_dir, keep_versions=1)
    a = build(keep_one, embedder=embedder).version
    _change_one(source, 1)
    b = build(keep_one, embedder=embedder).version
    # `a` was current when the build started: the server is pinned to it until the rollout
    assert versions.list_versions(index_dir) == sorted([a, b])
    _change_one(source, 2)
    pinned = keep_one.model_copy(update={"pinned_versions": [a]})
    c = build(pinned, embedder=embedder).version
    assert versions.list_versions(index_dir) == sorted([a, b, c])
    _change_one(source, 3)
    d = build(keep_one, embedder=embedder)
    assert versions.list_versions(index_dir) == sorted([c, d.version])
    assert d.pruned_versions == 2


def test_retention_deletes_only_what_oozo_wrote(tmp_path: Path, embedder: Any) -> None:
    source, index_dir = tmp_path / "docs", tmp_path / "index"
    _write_handbook(source)
    settings = IndexSettings(source=str(source), index_dir=index_dir, keep_versions=1)
    build(settings, embedder=embedder)
    foreign_version = index_dir / versions.VERSIONS / "20000101t000000z-notoozo"
    foreign_version.mkdir()
    (foreign_version / "notes.txt").write_text("kept by hand")
    other_model = index_dir / versions.CACHE / "some-other-model-0123456789ab"
    other_model.mkdir()
    (other_model / "embeddings.npz").write_bytes(b"vectors of a model no version uses")
    foreign_cache = index_dir / versions.CACHE / "my-notes"
    foreign_cache.mkdir()
    for round_ in range(1, 3):
        _change_one(source, round_)
        build(settings, embedder=embedder)
    assert (foreign_version / "notes.txt").read_text() == "kept by hand"
    assert foreign_cache.is_dir()
    assert not other_model.exists()
    assert len([v for v in versions.list_versions(index_dir) if v != foreign_version.name]) == 2


def test_a_build_reports_the_versions_it_kept_newest_first(tmp_path: Path, embedder: Any) -> None:
    """status.index.available: what a pin may choose, as retention left it."""
    source, index_dir = tmp_path / "docs", tmp_path / "index"
    _write_handbook(source)
    keep_two = IndexSettings(source=str(source), index_dir=index_dir, keep_versions=2)
    a = build(keep_two, embedder=embedder)
    assert [v.version for v in a.available] == [a.version]
    _change_one(source, 1)
    b = build(keep_two, embedder=embedder)
    _change_one(source, 2)
    c = build(keep_two.model_copy(update={"pinned_versions": [a.version]}), embedder=embedder)
    assert [v.version for v in c.available] == [c.version, b.version, a.version]
    newest = c.available[0]
    assert (newest.documents, newest.chunks, newest.built_at) == (c.documents, c.chunks, c.built_at)
    assert newest.embedding_model == c.embedding_model
    unchanged = build(keep_two, embedder=embedder)  # a has no pin now: retention lets it go
    assert unchanged.unchanged
    assert [v.version for v in unchanged.available] == [c.version, b.version]

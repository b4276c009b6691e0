"""Every bad document gets a clear reason and loses nothing: pathological, oversized, unreadable
and escaping files are skipped, counted and named in the build result, and the build indexes
every other document. Real files, real model."""

from __future__ import annotations

import multiprocessing
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from oozo_contract.index_settings import IndexSettings
from oozo_contract.results import IndexBuildResult
from oozo_runtime import versions
from oozo_runtime.indexing.build import build
from tests.runtime.corpus import make_docx_bomb, make_shared_stream_pdf

GOOD = {
    "leave.md": "# Leave\n\nEvery employee has 27 days of paid leave a year.\n",
    "travel.txt": "Travel expenses are filed within 30 days of the trip.\n",
}


def _source(root: Path) -> Path:
    source = root / "docs"
    source.mkdir(parents=True)
    for name, text in GOOD.items():
        (source / name).write_text(text)
    return source


def _build(source: Path, index_dir: Path, embedder: Any, **settings: Any) -> IndexBuildResult:
    return build(IndexSettings(source=str(source), index_dir=index_dir, **settings), embedder=embedder)


def _reasons(result: IndexBuildResult) -> dict[str, str]:
    assert result.skipped_documents == len(result.skipped)
    return {s.document: s.reason for s in result.skipped}


def _indexed_everything_else(result: IndexBuildResult, index_dir: Path) -> None:
    manifest = versions.read_manifest(versions.resolve(index_dir))
    assert set(GOOD) <= set(manifest.documents)
    assert result.documents == len(manifest.documents)


def test_a_docx_zip_bomb_is_skipped_with_a_reason(tmp_path: Path, embedder: Any) -> None:
    source = _source(tmp_path)
    bomb = make_docx_bomb(source / "bomb.docx")
    assert bomb.stat().st_size < 300_000
    result = _build(source, tmp_path / "index", embedder)
    assert "unpacks to" in _reasons(result)["bomb.docx"]
    _indexed_everything_else(result, tmp_path / "index")


def test_a_pdf_whose_pages_share_one_content_stream_stops_at_the_character_cap(
    tmp_path: Path, embedder: Any
) -> None:
    source = _source(tmp_path)
    make_shared_stream_pdf(source / "shared.pdf", pages=1000)  # 7.8M characters when read to the end
    # a lower cap than the default 5M keeps the test short; the default stops it the same way
    result = _build(source, tmp_path / "index", embedder, max_document_chars=1_000_000)
    assert "more than 1,000,000 characters" in _reasons(result)["shared.pdf"]
    _indexed_everything_else(result, tmp_path / "index")


def test_a_pdf_with_more_pages_than_the_cap_is_skipped(tmp_path: Path, embedder: Any) -> None:
    source = _source(tmp_path)
    make_shared_stream_pdf(source / "long.pdf", pages=12, lines_per_page=2)
    result = _build(source, tmp_path / "index", embedder, max_document_pages=10)
    assert _reasons(result)["long.pdf"].startswith("12 pages, more than 10")
    _indexed_everything_else(result, tmp_path / "index")


def test_a_document_with_more_chunks_than_the_cap_is_skipped(tmp_path: Path, embedder: Any) -> None:
    source = _source(tmp_path)
    (source / "long.md").write_text("\n\n".join(f"Paragraph {i}. " + "word " * 60 for i in range(40)))
    result = _build(source, tmp_path / "index", embedder, max_document_chunks=5)
    assert "chunks, more than 5" in _reasons(result)["long.md"]
    _indexed_everything_else(result, tmp_path / "index")


def test_a_4kb_markdown_heading_line_parses_at_once(tmp_path: Path, embedder: Any) -> None:
    """The former heading regex backtracked cubically on this line (52 s for 4 KB); now it is a
    heading like any other, well inside the default time budget."""
    source = _source(tmp_path)
    (source / "wide.md").write_text("#" + " " * 4000 + "Wide heading\n\nBody under the wide heading.\n")
    result = _build(source, tmp_path / "index", embedder)
    assert "wide.md" not in _reasons(result)
    chunks = (versions.resolve(tmp_path / "index") / versions.CHUNKS_FILE).read_text()
    assert '"heading": "Wide heading"' in chunks


def test_a_document_over_the_time_budget_is_skipped_and_the_next_one_still_parses(
    tmp_path: Path, embedder: Any
) -> None:
    source = _source(tmp_path)
    make_shared_stream_pdf(source / "a-slow.pdf", pages=1000)
    (source / "z-after.md").write_text("# After\n\nParsed by a fresh parser process.\n")
    result = _build(source, tmp_path / "index", embedder, document_timeout_seconds=0.5)
    assert "parsing took longer than 0.5 s" in _reasons(result)["a-slow.pdf"]
    manifest = versions.read_manifest(versions.resolve(tmp_path / "index"))
    assert "z-after.md" in manifest.documents


def test_a_document_over_the_parser_memory_budget_is_skipped(tmp_path: Path, embedder: Any) -> None:
    source = _source(tmp_path)
    # 90M characters: under the zip-directory check of the default cap, over 256 MB to parse
    make_docx_bomb(source / "heavy.docx", characters=90_000_000)
    result = _build(source, tmp_path / "index", embedder, parser_memory_mb=256)
    reason = _reasons(result)["heavy.docx"]
    assert reason == "needs more than 256 MB of memory to parse (OOZO_PARSER_MEMORY_MB)", reason
    _indexed_everything_else(result, tmp_path / "index")


def test_symlinks_outside_the_source_and_broken_ones_are_skipped(tmp_path: Path, embedder: Any) -> None:
    source = _source(tmp_path)
    secret = tmp_path / "secret.txt"
    secret.write_text("The database password is hunter2.")
    (source / "escape.txt").symlink_to(secret)
    (source / "linked-dir").symlink_to(tmp_path, target_is_directory=True)
    (source / "missing.md").symlink_to(source / "gone.md")
    (source / "inside.txt").symlink_to(source / "travel.txt")  # inside the root: indexed
    result = _build(source, tmp_path / "index", embedder, include=["**/*.txt", "*.md", "linked-dir/*.txt"])
    reasons = _reasons(result)
    assert reasons["escape.txt"] == "symlink to a file outside the source folder"
    assert reasons["linked-dir/secret.txt"] == "symlink to a file outside the source folder"
    assert reasons["missing.md"].startswith("broken symlink")
    chunks = (versions.resolve(tmp_path / "index") / versions.CHUNKS_FILE).read_text()
    assert "hunter2" not in chunks
    assert "inside.txt" in versions.read_manifest(versions.resolve(tmp_path / "index")).documents


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A folder an unprivileged user can reach (pytest's tmp_path sits under a 0700 folder)."""
    path = Path(tempfile.mkdtemp(prefix="oozo-unreadable-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path)


def _build_as_nobody(settings: IndexSettings, conn: Any) -> None:
    os.setgid(65534)
    os.setuid(65534)
    try:
        conn.send(build(settings).model_dump(mode="json"))
    except BaseException as exc:
        conn.send(f"{type(exc).__name__}: {exc}")


def test_an_unreadable_file_is_skipped_and_never_aborts_the_build(shared_tmp: Path, embedder: Any) -> None:
    """Tests run as root, who reads any file: the build runs in a child that dropped to nobody."""
    source, index_dir = _source(shared_tmp), shared_tmp / "index"
    first = _build(source, index_dir, embedder)
    locked = source / "locked.md"
    locked.write_text("# Locked\n\nOnly root may read this.\n")
    locked.chmod(0o000)
    for path in [index_dir, *index_dir.rglob("*")]:
        os.chown(path, 65534, 65534, follow_symlinks=False)
    receive, send = multiprocessing.get_context("fork").Pipe(duplex=False)
    child = multiprocessing.get_context("fork").Process(
        target=_build_as_nobody, args=(IndexSettings(source=str(source), index_dir=index_dir), send)
    )
    child.start()
    outcome = receive.recv()
    child.join()
    assert isinstance(outcome, dict), outcome
    result = IndexBuildResult.model_validate(outcome)
    assert _reasons(result)["locked.md"] == "unreadable: Permission denied"
    assert result.version == first.version and result.unchanged


@pytest.mark.parametrize("pattern", ["/etc/*.conf", "../other-corpus/*.md", "**/docs/**/*.md"])
def test_include_patterns_outside_the_source_are_refused(pattern: str) -> None:
    with pytest.raises(ValidationError, match="include pattern"):
        IndexSettings(include=[pattern])

"""`fetch_git` against a real Git server: the commit SHA is the revision, only changed files
are written, what disappeared is removed, and an unchanged ref transfers no pack."""

from __future__ import annotations

from pathlib import Path

import pytest
from dulwich.objects import ObjectID
from dulwich.repo import Repo

from oozo_runtime.sources.git import STORE_FOLDER, fetch_git
from tests.git.conftest import GIT_PASSWORD, GIT_USERNAME, SourceRepoFactory, tree


@pytest.fixture
def into(tmp_path: Path) -> Path:
    return tmp_path / "source-cache" / "files"


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "source-cache" / "state"


def test_first_fetch_at_a_branch_brings_every_file_and_names_the_commit(
    source_repo: SourceRepoFactory, into: Path, state: Path
) -> None:
    repo = source_repo()
    repo.write("guide.md", "# Guide\n")
    repo.write("ops/runbook.md", "# Runbook\n")
    sha = repo.commit("first")

    result = fetch_git(repo.uri("main"), into, state)

    assert result.kind == "git"
    assert result.revision == sha
    assert (result.fetched, result.unchanged, result.removed) == (2, 0, 0)
    assert tree(into) == {"guide.md": b"# Guide\n", "ops/runbook.md": b"# Runbook\n"}
    assert not (into / ".git").exists()


def test_no_ref_means_the_remote_head(source_repo: SourceRepoFactory, into: Path, state: Path) -> None:
    repo = source_repo()
    repo.write("guide.md", "# Guide\n")
    sha = repo.commit("first")

    assert fetch_git(repo.uri(), into, state).revision == sha


def test_refetch_of_an_unchanged_ref_writes_nothing_and_transfers_no_pack(
    source_repo: SourceRepoFactory, into: Path, state: Path
) -> None:
    repo = source_repo()
    repo.write("guide.md", "# Guide\n")
    sha = repo.commit("first")
    fetch_git(repo.uri("main"), into, state)
    written_at = (into / "guide.md").stat().st_mtime_ns
    packs_before = repo.server.pack_requests

    again = fetch_git(repo.uri("main"), into, state)

    assert again.revision == sha
    assert (again.fetched, again.unchanged, again.removed) == (0, 1, 0)
    assert repo.server.pack_requests == packs_before
    assert (into / "guide.md").stat().st_mtime_ns == written_at


def test_a_commit_changing_one_file_fetches_only_that_file(
    source_repo: SourceRepoFactory, into: Path, state: Path
) -> None:
    repo = source_repo()
    repo.write("guide.md", "# Guide\n")
    repo.write("faq.md", "# FAQ\n")
    first = repo.commit("first")
    fetch_git(repo.uri("main"), into, state)
    faq_written_at = (into / "faq.md").stat().st_mtime_ns

    repo.write("guide.md", "# Guide\n\nA new section.\n")
    second = repo.commit("second")
    result = fetch_git(repo.uri("main"), into, state)

    assert result.revision == second != first
    assert (result.fetched, result.unchanged, result.removed) == (1, 1, 0)
    assert (into / "guide.md").read_text() == "# Guide\n\nA new section.\n"
    assert (into / "faq.md").stat().st_mtime_ns == faq_written_at


def test_a_file_deleted_at_the_source_is_removed_with_the_folder_it_emptied(
    source_repo: SourceRepoFactory, into: Path, state: Path
) -> None:
    repo = source_repo()
    repo.write("guide.md", "# Guide\n")
    repo.write("old/notes.md", "# Notes\n")
    repo.commit("first")
    fetch_git(repo.uri("main"), into, state)

    repo.remove("old/notes.md")
    repo.commit("drop the notes")
    result = fetch_git(repo.uri("main"), into, state)

    assert (result.fetched, result.unchanged, result.removed) == (0, 1, 1)
    assert tree(into) == {"guide.md": b"# Guide\n"}
    assert not (into / "old").exists()


def test_a_file_replaced_by_a_folder_of_the_same_name_is_materialised(
    source_repo: SourceRepoFactory, into: Path, state: Path
) -> None:
    repo = source_repo()
    repo.write("manual", "one file\n")
    repo.commit("first")
    fetch_git(repo.uri("main"), into, state)

    repo.remove("manual")
    repo.write("manual/index.md", "# Manual\n")
    repo.commit("a folder now")
    result = fetch_git(repo.uri("main"), into, state)

    assert (result.fetched, result.removed) == (1, 1)
    assert tree(into) == {"manual/index.md": b"# Manual\n"}


@pytest.mark.parametrize("annotated", [False, True], ids=["lightweight-tag", "annotated-tag"])
def test_a_tag_resolves_to_its_commit(
    source_repo: SourceRepoFactory, into: Path, state: Path, annotated: bool
) -> None:
    repo = source_repo()
    repo.write("guide.md", "v1\n")
    tagged = repo.commit("release")
    repo.tag("v1.0", annotated=annotated)
    repo.write("guide.md", "v2 in progress\n")
    repo.commit("after the release")

    result = fetch_git(repo.uri("v1.0"), into, state)

    assert result.revision == tagged
    assert tree(into) == {"guide.md": b"v1\n"}


def test_a_full_commit_sha_fetches_that_commit_even_below_the_branch_tip(
    source_repo: SourceRepoFactory, into: Path, state: Path
) -> None:
    repo = source_repo()
    repo.write("guide.md", "old\n")
    old = repo.commit("old")
    repo.write("guide.md", "new\n")
    repo.commit("new")

    result = fetch_git(repo.uri(old), into, state)

    assert result.revision == old
    assert tree(into) == {"guide.md": b"old\n"}


def test_subdir_fetches_only_that_folder_under_relative_paths(
    source_repo: SourceRepoFactory, into: Path, state: Path
) -> None:
    repo = source_repo()
    repo.write("README.md", "# Project\n")
    repo.write("docs/handbook/intro.md", "# Intro\n")
    repo.write("docs/handbook/deep/setup.md", "# Setup\n")
    repo.commit("first")

    result = fetch_git(repo.uri("main", subdir="docs/handbook"), into, state)

    assert result.fetched == 2
    assert tree(into) == {"intro.md": b"# Intro\n", "deep/setup.md": b"# Setup\n"}


def test_credentials_from_the_environment_open_a_private_repository(
    source_repo: SourceRepoFactory,
    private_git_server,
    into: Path,
    state: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    repo = source_repo(server=private_git_server)
    repo.write("secret-plans.md", "# Plans\n")
    sha = repo.commit("first")
    monkeypatch.setenv("OOZO_GIT_USERNAME", GIT_USERNAME)
    monkeypatch.setenv("OOZO_GIT_PASSWORD", GIT_PASSWORD)

    result = fetch_git(repo.uri("main"), into, state)

    assert result.revision == sha
    assert tree(into) == {"secret-plans.md": b"# Plans\n"}


def test_the_fetch_is_shallow_only_the_named_commit_travels(
    source_repo: SourceRepoFactory, into: Path, state: Path
) -> None:
    repo = source_repo()
    repo.write("guide.md", "one\n")
    older = repo.commit("one")
    repo.write("guide.md", "two\n")
    tip = repo.commit("two")

    fetch_git(repo.uri("main"), into, state)

    store = Repo(str(state / STORE_FOLDER))
    try:
        assert ObjectID(tip.encode()) in store.object_store
        assert ObjectID(older.encode()) not in store.object_store
        assert store.get_shallow() == {tip.encode()}
    finally:
        store.close()


def test_unless_revision_equal_to_the_ref_stops_after_the_refs_and_touches_nothing(
    source_repo: SourceRepoFactory, into: Path, state: Path
) -> None:
    repo = source_repo()
    repo.write("guide.md", "# Guide\n")
    sha = repo.commit("first")
    fetch_git(repo.uri("main"), into, state)
    (into / "guide.md").unlink()  # a fetch that ran would bring it back
    packs_before = repo.server.pack_requests

    same = fetch_git(repo.uri("main"), into, state, unless_revision=sha)

    assert same.skipped_because_unchanged and same.revision == sha
    assert (same.fetched, same.unchanged, same.removed) == (0, 0, 0)
    assert repo.server.pack_requests == packs_before
    assert not (into / "guide.md").exists()

    repo.write("guide.md", "# Guide v2\n")
    newer = repo.commit("second")
    moved = fetch_git(repo.uri("main"), into, state, unless_revision=sha)
    assert not moved.skipped_because_unchanged and moved.revision == newer
    assert tree(into) == {"guide.md": b"# Guide v2\n"}

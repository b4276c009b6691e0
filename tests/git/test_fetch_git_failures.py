"""`fetch_git` when things go wrong: each failure is a SourceError with the reason the operator
puts into a condition, names the repository and ref, never a credential, and leaves `into` as it
was; unsafe or oversized entries are skipped with a reason instead of written."""

from __future__ import annotations

from pathlib import Path

import pytest

from devcluster.gitserver import GitServer
from devcluster.ports import free_port
from oozo_runtime.sources.errors import SourceError
from oozo_runtime.sources.git import fetch_git
from tests.git.conftest import (
    FORBIDDEN_REPOSITORY,
    GIT_PASSWORD,
    GIT_USERNAME,
    SourceRepo,
    SourceRepoFactory,
    tree,
)


@pytest.fixture
def into(tmp_path: Path) -> Path:
    return tmp_path / "files"


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def fetched(source_repo: SourceRepoFactory, into: Path, state: Path) -> SourceRepo:
    """A repository already fetched once into `into`."""
    repo = source_repo()
    repo.write("guide.md", "# Guide\n")
    repo.write("docs/faq.md", "# FAQ\n")
    repo.commit("first")
    fetch_git(repo.uri("main"), into, state)
    return repo


def test_missing_repository_is_source_not_found(git_server: GitServer, into: Path, state: Path) -> None:
    with pytest.raises(SourceError) as failure:
        fetch_git("git+" + git_server.url("nobody-made-this.git"), into, state)
    assert failure.value.reason == "SourceNotFound"
    assert "nobody-made-this.git" in failure.value.message


def test_missing_ref_is_source_not_found_and_leaves_into_as_it_was(
    fetched: SourceRepo, into: Path, state: Path
) -> None:
    before = tree(into)
    with pytest.raises(SourceError) as failure:
        fetch_git(fetched.uri("no-such-branch"), into, state)
    assert failure.value.reason == "SourceNotFound"
    assert "no-such-branch" in failure.value.message and fetched.name in failure.value.message
    assert tree(into) == before


def test_unknown_commit_sha_is_source_not_found(fetched: SourceRepo, into: Path, state: Path) -> None:
    before = tree(into)
    with pytest.raises(SourceError) as failure:
        fetch_git(fetched.uri("0123456789abcdef0123456789abcdef01234567"), into, state)
    assert failure.value.reason == "SourceNotFound"
    assert tree(into) == before


def test_missing_subdir_is_source_not_found_and_leaves_into_as_it_was(
    fetched: SourceRepo, into: Path, state: Path
) -> None:
    before = tree(into)
    with pytest.raises(SourceError) as failure:
        fetch_git(fetched.uri("main", subdir="handbook"), into, state)
    assert failure.value.reason == "SourceNotFound"
    assert "handbook" in failure.value.message
    assert tree(into) == before


def test_wrong_password_is_auth_failed_and_the_message_never_holds_it(
    source_repo: SourceRepoFactory,
    private_git_server: GitServer,
    into: Path,
    state: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    repo = source_repo(server=private_git_server)
    repo.write("guide.md", "# Guide\n")
    repo.commit("first")
    wrong = GIT_PASSWORD + "-but-wrong"
    monkeypatch.setenv("OOZO_GIT_USERNAME", GIT_USERNAME)
    monkeypatch.setenv("OOZO_GIT_PASSWORD", wrong)

    with pytest.raises(SourceError) as failure:
        fetch_git(repo.uri("main"), into, state)

    assert failure.value.reason == "SourceAuthFailed"
    assert repo.name in failure.value.message
    assert GIT_PASSWORD not in str(failure.value.to_dict()) and wrong not in str(failure.value.to_dict())
    assert not into.exists()


def test_no_credentials_for_a_private_repository_is_auth_failed(
    source_repo: SourceRepoFactory, private_git_server: GitServer, into: Path, state: Path
) -> None:
    repo = source_repo(server=private_git_server)
    repo.write("guide.md", "# Guide\n")
    repo.commit("first")
    with pytest.raises(SourceError) as failure:
        fetch_git(repo.uri("main"), into, state)
    assert failure.value.reason == "SourceAuthFailed"


def test_a_repository_the_credentials_may_not_read_is_auth_failed(
    private_git_server: GitServer, into: Path, state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OOZO_GIT_USERNAME", GIT_USERNAME)
    monkeypatch.setenv("OOZO_GIT_PASSWORD", GIT_PASSWORD)
    with pytest.raises(SourceError) as failure:
        fetch_git("git+" + private_git_server.url(FORBIDDEN_REPOSITORY), into, state)
    assert failure.value.reason == "SourceAuthFailed"
    assert "403" in failure.value.message and GIT_PASSWORD not in failure.value.message


def test_a_port_nobody_listens_on_is_source_unreachable(into: Path, state: Path) -> None:
    with pytest.raises(SourceError) as failure:
        fetch_git(f"git+http://127.0.0.1:{free_port()}/docs.git@main", into, state)
    assert failure.value.reason == "SourceUnreachable"
    assert "/docs.git" in failure.value.message


def test_a_symlink_pointing_outside_is_skipped_with_its_reason(
    source_repo: SourceRepoFactory, into: Path, state: Path
) -> None:
    repo = source_repo()
    repo.write("guide.md", "# Guide\n")
    repo.symlink("passwords.md", "../../../../etc/passwd")
    repo.commit("a link out")

    result = fetch_git(repo.uri("main"), into, state)

    assert tree(into) == {"guide.md": b"# Guide\n"}
    assert result.skipped_objects == 1
    assert result.skipped[0].name == "passwords.md"
    assert "symlink" in result.skipped[0].reason


def test_a_file_over_the_size_cap_is_skipped_and_its_old_copy_removed(
    source_repo: SourceRepoFactory, into: Path, state: Path
) -> None:
    repo = source_repo()
    repo.write("guide.md", "# Guide\n")
    repo.write("dump.md", "small\n")
    repo.commit("first")
    fetch_git(repo.uri("main"), into, state, max_file_bytes=1000)

    repo.write("dump.md", "x" * 5000)
    repo.commit("a big dump")
    result = fetch_git(repo.uri("main"), into, state, max_file_bytes=1000)

    assert tree(into) == {"guide.md": b"# Guide\n"}
    assert (result.skipped_objects, result.removed) == (1, 1)
    assert result.skipped[0].name == "dump.md" and "1000 bytes" in result.skipped[0].reason


def test_more_files_than_the_cap_is_refused_and_leaves_into_as_it_was(
    fetched: SourceRepo, into: Path, state: Path
) -> None:
    fetched.write("third.md", "# Third\n")
    fetched.commit("a third file")
    before = tree(into)
    with pytest.raises(SourceError) as failure:
        fetch_git(fetched.uri("main"), into, state, max_files=2)
    assert failure.value.reason == "SourceRefused"
    assert tree(into) == before


def test_files_the_fetch_did_not_write_are_never_deleted_or_overwritten(
    fetched: SourceRepo, into: Path, state: Path
) -> None:
    (into / "mine.txt").write_text("a file a person put here")
    (into / "guide.md").write_text("edited by hand")
    before = tree(into)

    fetched.write("guide.md", "# Guide v2\n")
    fetched.commit("second")
    with pytest.raises(SourceError) as failure:
        fetch_git(fetched.uri("main"), into, state)

    assert failure.value.reason == "SourceInvalid"
    assert "mine.txt" in failure.value.message
    assert tree(into) == before


def test_files_already_equal_to_the_source_are_adopted_without_a_record(
    fetched: SourceRepo, into: Path, tmp_path: Path
) -> None:
    """A lost state folder (a new PVC for the state only) does not strand the previous files."""
    result = fetch_git(fetched.uri("main"), into, tmp_path / "fresh-state")
    assert (result.fetched, result.unchanged) == (0, 2)


@pytest.mark.parametrize(
    "uri",
    [
        "git+http://user:hunter2@127.0.0.1:1/docs.git",
        "git+ssh://git:hunter2@127.0.0.1/docs.git",
        "https://127.0.0.1/docs.git",
        "git+http://127.0.0.1:1/docs.git#../../etc",
    ],
    ids=["password-in-uri", "password-in-ssh-uri", "no-git-plus", "subdir-escapes"],
)
def test_uris_oozo_cannot_fetch_are_source_invalid_without_their_secrets(
    uri: str, into: Path, state: Path
) -> None:
    with pytest.raises(SourceError) as failure:
        fetch_git(uri, into, state)
    assert failure.value.reason == "SourceInvalid"
    assert "hunter2" not in failure.value.message
    assert not state.exists() and not into.exists()

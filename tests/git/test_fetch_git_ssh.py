"""`fetch_git` over `git+ssh://` against Debian's sshd on loopback: the same behaviour as over
https (commit SHA as revision, only changed files written, an unchanged ref costs one ref
listing), with the key and known_hosts from files the environment names, strict host key
checking, and failures that name the server, never the key."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from devcluster.sshserver import make_key
from oozo_runtime.sources.errors import SourceError
from oozo_runtime.sources.git import fetch_git
from tests.git.conftest import SourceRepo, SourceRepoFactory, SshAccess, tree


@pytest.fixture
def into(tmp_path: Path) -> Path:
    return tmp_path / "source-cache" / "files"


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "source-cache" / "state"


@pytest.fixture
def repo(source_repo: SourceRepoFactory) -> SourceRepo:
    repo = source_repo("handbook")
    repo.write("guide/intro.md", "# Intro\n")
    repo.write("guide/faq.md", "# FAQ\n")
    repo.write("README.md", "outside the subdir\n")
    repo.commit("first")
    return repo


def test_fetch_over_ssh_brings_the_ref_and_names_its_commit(
    repo: SourceRepo, ssh_env: SshAccess, into: Path, state: Path
) -> None:
    repo.write("guide/news.md", "# News\n")
    sha = repo.commit("the tip")
    result = fetch_git(ssh_env.uri(repo, "main", subdir="guide"), into, state)
    assert result.revision == sha
    assert (result.fetched, result.unchanged, result.removed) == (3, 0, 0)
    assert tree(into) == {"faq.md": b"# FAQ\n", "intro.md": b"# Intro\n", "news.md": b"# News\n"}


def test_unchanged_revision_over_ssh_transfers_nothing(
    repo: SourceRepo, ssh_env: SshAccess, into: Path, state: Path
) -> None:
    uri = ssh_env.uri(repo, "main")
    first = fetch_git(uri, into, state)
    sessions = ssh_env.server.sessions()
    again = fetch_git(uri, into, state)  # the commit is in the store: the ref listing only
    assert (again.revision, again.fetched, again.unchanged) == (first.revision, 0, 3)
    assert ssh_env.server.sessions() == sessions + 1
    (into / "README.md").write_text("left alone")
    skipped = fetch_git(uri, into, state, unless_revision=first.revision)
    assert skipped.skipped_because_unchanged
    assert ssh_env.server.sessions() == sessions + 2
    assert (into / "README.md").read_text() == "left alone"


def test_a_commit_changing_one_file_over_ssh_rewrites_only_that_file(
    repo: SourceRepo, ssh_env: SshAccess, into: Path, state: Path
) -> None:
    fetch_git(ssh_env.uri(repo, "main"), into, state)
    repo.write("guide/faq.md", "# FAQ\n\nNew answer.\n")
    repo.remove("README.md")
    sha = repo.commit("second")
    result = fetch_git(ssh_env.uri(repo, "main"), into, state)
    assert (result.revision, result.fetched, result.unchanged, result.removed) == (sha, 1, 1, 1)
    assert (into / "guide/faq.md").read_text() == "# FAQ\n\nNew answer.\n"


def test_wrong_key_is_source_auth_failed_naming_server_and_user_not_the_key(
    repo: SourceRepo,
    ssh_env: SshAccess,
    into: Path,
    state: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stranger = tmp_path / "stranger_ed25519"
    make_key(stranger)
    monkeypatch.setenv("OOZO_GIT_SSH_KEY_FILE", str(stranger))
    with pytest.raises(SourceError) as failure:
        fetch_git(ssh_env.uri(repo, "main"), into, state)
    assert failure.value.reason == "SourceAuthFailed"
    assert f"127.0.0.1:{ssh_env.server.port}" in failure.value.message
    assert ssh_env.server.user in failure.value.message
    assert_no_key_material(failure.value.message, stranger)
    assert not into.exists()


def test_unknown_host_key_is_refused_naming_the_host(
    repo: SourceRepo,
    ssh_env: SshAccess,
    into: Path,
    state: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    other_host = tmp_path / "known_hosts"
    other_host.write_text(f"[git.example.com]:22 {ssh_env.server.host_public_key()}\n")
    monkeypatch.setenv("OOZO_GIT_KNOWN_HOSTS_FILE", str(other_host))
    with pytest.raises(SourceError) as failure:
        fetch_git(ssh_env.uri(repo, "main"), into, state)
    assert failure.value.reason == "SourceRefused"
    assert f"[127.0.0.1]:{ssh_env.server.port}" in failure.value.message
    assert "OOZO_GIT_KNOWN_HOSTS_FILE" in failure.value.message
    assert not into.exists()


def test_changed_host_key_is_refused_before_the_key_is_offered(
    repo: SourceRepo,
    ssh_env: SshAccess,
    into: Path,
    state: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    impostor = make_key(tmp_path / "impostor_host").split()
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(f"[127.0.0.1]:{ssh_env.server.port} {impostor[0]} {impostor[1]}\n")
    monkeypatch.setenv("OOZO_GIT_KNOWN_HOSTS_FILE", str(known_hosts))
    accepted_before = ssh_env.server.log_path.read_text().count("Accepted publickey")
    with pytest.raises(SourceError) as failure:
        fetch_git(ssh_env.uri(repo, "main"), into, state)
    assert failure.value.reason == "SourceRefused"
    assert f"127.0.0.1:{ssh_env.server.port}" in failure.value.message
    assert ssh_env.server.log_path.read_text().count("Accepted publickey") == accepted_before


def test_missing_ref_over_ssh_is_source_not_found(
    repo: SourceRepo, ssh_env: SshAccess, into: Path, state: Path
) -> None:
    fetch_git(ssh_env.uri(repo, "main"), into, state)
    before = tree(into)
    with pytest.raises(SourceError) as failure:
        fetch_git(ssh_env.uri(repo, "no-such-branch"), into, state)
    assert failure.value.reason == "SourceNotFound"
    assert "no-such-branch" in failure.value.message and repo.name in failure.value.message
    assert tree(into) == before


def test_missing_repository_over_ssh_is_source_not_found(
    ssh_env: SshAccess, into: Path, state: Path, tmp_path: Path
) -> None:
    uri = "git+" + ssh_env.server.url(str(tmp_path / "nobody-made-this.git")) + "@main"
    with pytest.raises(SourceError) as failure:
        fetch_git(uri, into, state)
    assert failure.value.reason == "SourceNotFound"
    assert "nobody-made-this.git" in failure.value.message


def test_ssh_without_key_files_in_the_environment_is_source_invalid(
    repo: SourceRepo, ssh_access: SshAccess, into: Path, state: Path
) -> None:
    assert "OOZO_GIT_SSH_KEY_FILE" not in os.environ
    with pytest.raises(SourceError) as failure:
        fetch_git(ssh_access.uri(repo, "main"), into, state)
    assert failure.value.reason == "SourceInvalid"
    assert "OOZO_GIT_SSH_KEY_FILE" in failure.value.message
    assert not into.exists()


def assert_no_key_material(message: str, key_file: Path) -> None:
    private_lines = [line for line in key_file.read_text().splitlines() if "PRIVATE KEY" not in line]
    public_blob = key_file.with_name(key_file.name + ".pub").read_text().split()[1]
    assert public_blob not in message
    assert all(line not in message for line in private_lines if line)

"""How a `git+` URI is read: the repository, REF after the last '@' of the path, SUBDIR after
'#', and a display name that never carries userinfo or a query."""

from __future__ import annotations

import pytest

from oozo_runtime.sources.errors import SourceError
from oozo_runtime.sources.git import parse_git_uri


def test_ref_and_subdir_are_split_off_the_repository_url() -> None:
    source = parse_git_uri("git+https://git.example.com/team/docs.git@release/2024#handbook/ops/")
    assert source.url == "https://git.example.com/team/docs.git"
    assert (source.ref, source.subdir) == ("release/2024", "handbook/ops")
    assert source.named == "https://git.example.com/team/docs.git@release/2024"


def test_without_ref_the_remote_head_is_named() -> None:
    source = parse_git_uri("git+http://git.internal:8080/docs.git")
    assert (source.url, source.ref, source.subdir) == ("http://git.internal:8080/docs.git", None, None)
    assert source.named.endswith("@HEAD")


def test_a_query_reaches_the_server_but_not_the_messages() -> None:
    source = parse_git_uri("git+https://git.example.com/docs.git?sig=abc@main")
    assert "sig=abc" in source.url
    assert "sig=abc" not in source.display


@pytest.mark.parametrize(
    "uri",
    [
        "git+https://reader:hunter2@git.example.com/docs.git",
        "git+https://hunter2@git.example.com/docs.git",
    ],
)
def test_userinfo_in_the_uri_is_refused_without_quoting_it(uri: str) -> None:
    with pytest.raises(SourceError) as failure:
        parse_git_uri(uri)
    assert failure.value.reason == "SourceInvalid"
    assert "hunter2" not in failure.value.message
    assert "OOZO_GIT_PASSWORD" in failure.value.message


@pytest.mark.parametrize(
    "uri",
    ["git+ssh://git@host/", "git+ftp://host/docs.git", "git+https:///docs.git", "git+https://host/"],
)
def test_uris_that_name_no_fetchable_repository_are_source_invalid(uri: str) -> None:
    with pytest.raises(SourceError) as failure:
        parse_git_uri(uri)
    assert failure.value.reason == "SourceInvalid"


def test_an_ssh_uri_keeps_its_user_port_and_path_but_shows_no_user() -> None:
    source = parse_git_uri("git+ssh://deploy@git.example.com:2222/srv/git/docs.git@v1.2#handbook")
    assert source.ssh is not None
    assert (source.ssh.host, source.ssh.port, source.ssh.user, source.ssh.path) == (
        "git.example.com",
        2222,
        "deploy",
        "/srv/git/docs.git",
    )
    assert (source.ref, source.subdir, source.remote_path) == ("v1.2", "handbook", b"/srv/git/docs.git")
    assert source.display == "ssh://git.example.com:2222/srv/git/docs.git"


def test_an_ssh_uri_without_user_logs_in_as_git_on_port_22() -> None:
    source = parse_git_uri("git+ssh://github.com/team/docs.git")
    assert source.ssh is not None
    assert (source.ssh.login, source.ssh.server) == ("git", "github.com:22")


def test_a_password_in_an_ssh_uri_is_refused_without_quoting_it() -> None:
    with pytest.raises(SourceError) as failure:
        parse_git_uri("git+ssh://git:hunter2@git.example.com/docs.git")
    assert failure.value.reason == "SourceInvalid"
    assert "hunter2" not in failure.value.message
    assert "OOZO_GIT_SSH_KEY_FILE" in failure.value.message

"""A corpus whose source switches between S3 and Git on the same source cache: both fetchers
keep one fetch-state.json per state folder recording the files they wrote, so the switch neither
fails (Git refusing the S3 files as foreign) nor leaves the other kind's files behind."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devcluster.gitserver import GitServer
from devcluster.s3server import S3Server
from oozo_runtime.sources.git import fetch_git
from oozo_runtime.sources.s3 import fetch_s3
from tests.git.conftest import SourceRepo, tree


@pytest.fixture(scope="module")
def git_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitServer]:
    server = GitServer(tmp_path_factory.mktemp("git")).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def repo(git_server: GitServer, tmp_path: Path) -> SourceRepo:
    repo = SourceRepo(git_server, f"handbook-{secrets.token_hex(4)}", tmp_path / "work")
    repo.write("guide.md", "# Guide (git)\n")
    repo.write("shared/faq.md", "# FAQ\n")
    repo.commit("first")
    return repo


@pytest.fixture
def s3_uri(s3_server: S3Server, bucket: str, s3_env: dict[str, str]) -> str:
    client: Any = s3_server.client()
    client.put_object(Bucket=bucket, Key="docs/leave.md", Body=b"# Leave (s3)\n")
    client.put_object(Bucket=bucket, Key="docs/shared/faq.md", Body=b"# FAQ\n")
    return f"s3://{bucket}/docs"


def test_switching_from_s3_to_git_replaces_the_s3_files(
    s3_server: S3Server, s3_uri: str, repo: SourceRepo, tmp_path: Path
) -> None:
    into, state = tmp_path / "files", tmp_path / "state"
    fetch_s3(s3_uri, into, state, endpoint=s3_server.endpoint)

    result = fetch_git(repo.uri("main"), into, state)

    assert tree(into) == {"guide.md": b"# Guide (git)\n", "shared/faq.md": b"# FAQ\n"}
    assert (result.fetched, result.unchanged, result.removed) == (1, 1, 1)


def test_switching_from_git_to_s3_replaces_the_git_files(
    s3_server: S3Server, s3_uri: str, repo: SourceRepo, tmp_path: Path
) -> None:
    into, state = tmp_path / "files", tmp_path / "state"
    fetch_git(repo.uri("main"), into, state)

    result = fetch_s3(s3_uri, into, state, endpoint=s3_server.endpoint)

    assert tree(into) == {"leave.md": b"# Leave (s3)\n", "shared/faq.md": b"# FAQ\n"}
    assert result.removed == 1


def test_switching_back_to_git_after_s3_fetches_again_what_s3_replaced(
    s3_server: S3Server, s3_uri: str, repo: SourceRepo, tmp_path: Path
) -> None:
    into, state = tmp_path / "files", tmp_path / "state"
    fetch_git(repo.uri("main"), into, state)
    fetch_s3(s3_uri, into, state, endpoint=s3_server.endpoint)

    fetch_git(repo.uri("main"), into, state)

    assert tree(into) == {"guide.md": b"# Guide (git)\n", "shared/faq.md": b"# FAQ\n"}

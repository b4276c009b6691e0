"""Git and HTTP sources end to end, on the real control plane with the real operator and the
local kubelet (whose pod processes run on this host, so loopback servers are reachable):

- a RagCorpus over a repository on the loopback Git server (git http-backend behind basic auth),
  its credentials in a Secret: Ready, status.sourceRevision is the commit SHA, the right answer;
  a new commit and the reindex annotation give a new version that serves the new answer;
- a RagCorpus over two URLs of a loopback HTTP server with ETags: Ready with a digest revision
  and the right answer; a refresh of the unchanged URLs (all 304) publishes no new version.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devcluster.gitserver import GitServer
from devcluster.stack import Stack
from tests.e2e.conftest import REFRESH_BY_HAND, DeployedCorpus, deployed_source
from tests.e2e.test_s3_source import fetch_result_of, wait_for_status
from tests.git.conftest import SourceRepo
from tests.runtime.http_docs import DocServer, serve_docs

REINDEX = "rag.oozo.dev/reindex-requested-at"
GIT_USER, GIT_TOKEN = "oozo-reader", "e2e-t0ken-" + secrets.token_hex(8)
QUESTION = "What is the code word for the Aurora launch?"


def aurora(word: str) -> str:
    return (
        "# Aurora launch\n\nThe Aurora launch is the spring release of the handbook tooling. "
        f"The code word for the Aurora launch is {word}. Say it at the start of every launch call.\n"
    )


LEAVE = "# Leave\n\nEvery employee has 27 days of paid leave a year, booked in the HR portal.\n"
TRAVEL = "# Travel\n\nBook trains for trips under 600 km; flights need a manager's approval.\n"


@pytest.fixture(scope="module")
def git_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitServer]:
    server = GitServer(tmp_path_factory.mktemp("git"), username=GIT_USER, password=GIT_TOKEN).start()
    try:
        yield server
    finally:
        server.stop()


def first_commit(repo: SourceRepo) -> SourceRepo:
    """The handbook's first commit: two pages under docs/ (the corpus's path) and a README
    outside it, which the corpus must not index."""
    repo.write("docs/aurora-launch.md", aurora("PERIWINKLE"))
    repo.write("docs/leave.md", LEAVE)
    repo.write("README.md", "# Not part of the corpus (outside docs/)\n")
    repo.commit("first")
    return repo


@pytest.fixture(scope="module")
def repo(git_server: GitServer, tmp_path_factory: pytest.TempPathFactory) -> SourceRepo:
    return first_commit(
        SourceRepo(git_server, "handbook", Path(tmp_path_factory.mktemp("work")) / "handbook")
    )


@pytest.fixture(scope="module")
def git_handbook(stack: Stack, repo: SourceRepo) -> Iterator[DeployedCorpus]:
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "git-token"},
        "stringData": {"username": GIT_USER, "password": GIT_TOKEN},
    }
    source = {
        "git": {
            "url": repo.server.url(repo.name),
            "ref": "main",
            "path": "docs",
            "credentialsSecret": "git-token",
        }
    }
    with deployed_source(stack, "git", source, secret) as deployed:
        yield deployed


@pytest.fixture(scope="module")
def site() -> Iterator[DocServer]:
    yield from serve_docs()


@pytest.fixture(scope="module")
def http_handbook(stack: Stack, site: DocServer) -> Iterator[DeployedCorpus]:
    site.put("/handbook/aurora-launch.md", aurora("PERIWINKLE").encode())
    site.put("/handbook/travel.md", TRAVEL.encode())
    source = {"http": {"urls": [site.url("/handbook/aurora-launch.md"), site.url("/handbook/travel.md")]}}
    with deployed_source(stack, "http", source, refresh=REFRESH_BY_HAND) as deployed:
        yield deployed


def answers(corpus: DeployedCorpus, word: str, document: str) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while word not in json.dumps(reply := corpus.query(QUESTION)):
        assert time.monotonic() < deadline, f"{word} is not served: {reply}"
        time.sleep(2)
    assert any(s["document"].endswith(document) for s in reply["sources"][:2]), reply
    return reply


def test_a_git_corpus_is_ready_at_its_commit_and_answers(
    git_handbook: DeployedCorpus, repo: SourceRepo
) -> None:
    status = git_handbook.get()["status"]
    head = repo._git("rev-parse", "HEAD")
    assert status["sourceRevision"] == head == status["index"]["sourceRevision"], status
    assert status["index"]["documents"] == 2, status  # docs/ only: README.md is outside the path
    answers(git_handbook, "PERIWINKLE", "aurora-launch.md")
    assert GIT_TOKEN not in json.dumps(git_handbook.get())


def test_a_new_commit_is_built_after_the_reindex_annotation_and_served(
    git_handbook: DeployedCorpus, repo: SourceRepo
) -> None:
    before = git_handbook.get()["status"]
    repo.write("docs/aurora-launch.md", aurora("MARIGOLD"))
    newer = repo.commit("the code word changed")
    git_handbook.kubectl(
        "annotate", "ragcorpus", "handbook", "--overwrite", f"{REINDEX}=2026-05-01T10:00:00Z"
    )
    after = wait_for_status(
        git_handbook,
        "a new version built from the new commit",
        lambda s: (s.get("index") or {}).get("version") not in (None, before["index"]["version"]),
    )
    assert after["sourceRevision"] == newer, after
    fetched = fetch_result_of(git_handbook, after["index"]["job"])
    assert (fetched["kind"], fetched["fetched"], fetched["unchanged"]) == ("git", 1, 1), fetched
    git_handbook.wait_ready()
    answers(git_handbook, "MARIGOLD", "aurora-launch.md")


def test_an_http_corpus_is_ready_with_a_digest_revision_and_answers(http_handbook: DeployedCorpus) -> None:
    status = http_handbook.get()["status"]
    assert status["sourceRevision"].startswith("sha256:"), status
    assert status["index"]["documents"] == 2, status
    answers(http_handbook, "PERIWINKLE", "aurora-launch.md")


def test_an_http_refresh_of_unchanged_urls_is_skipped_and_publishes_no_version(
    http_handbook: DeployedCorpus, site: DocServer
) -> None:
    before = http_handbook.get()["status"]
    asked = len(site.requests)
    job = "handbook-refresh-unchanged"
    http_handbook.kubectl("create", "job", job, "--from=cronjob/handbook-refresh")
    after = wait_for_status(http_handbook, "the refresh read into status", lambda s: s["index"]["job"] == job)
    assert after["index"]["version"] == before["index"]["version"], after
    assert after["index"]["reusedEmbeddings"] == after["index"]["chunks"], after
    fetched = fetch_result_of(http_handbook, job)
    assert fetched["skippedBecauseUnchanged"] is True and fetched["revision"] == before["sourceRevision"]
    refresh_requests = [headers for _, headers in site.requests[asked:]]
    assert len(refresh_requests) == 2 and all("if-none-match" in h for h in refresh_requests)

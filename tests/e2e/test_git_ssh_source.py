"""A git+ssh source end to end, on the real control plane with the real operator and the local
kubelet: a RagCorpus over a repository that Debian's sshd serves on loopback, its deploy key and
known_hosts in a kubernetes.io/ssh-auth Secret, goes Ready at the commit and answers; a refresh
of the unchanged ref lists the refs over ssh once, transfers no pack and publishes no version;
the key appears nowhere in the corpus's status."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from devcluster.gitserver import GitServer
from devcluster.sshserver import SshServer, make_key
from devcluster.stack import Stack
from tests.e2e.conftest import REFRESH_BY_HAND, DeployedCorpus, deployed_source
from tests.e2e.test_git_http_sources import answers, first_commit
from tests.e2e.test_s3_source import fetch_result_of, wait_for_status
from tests.git.conftest import SourceRepo


@pytest.fixture(scope="module")
def client_key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    key = tmp_path_factory.mktemp("deploy-key") / "id_ed25519"
    make_key(key, "oozo-e2e-deploy-key")
    return key


@pytest.fixture(scope="module")
def ssh_server(tmp_path_factory: pytest.TempPathFactory, client_key: Path) -> Iterator[SshServer]:
    public_key = client_key.with_name(client_key.name + ".pub").read_text().strip()
    server = SshServer(tmp_path_factory.mktemp("sshd"), [public_key]).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> SourceRepo:
    # A GitServer only as the folder of bare repositories SourceRepo pushes to: sshd serves them.
    repositories = GitServer(tmp_path_factory.mktemp("repositories"))
    return first_commit(
        SourceRepo(repositories, "handbook", Path(tmp_path_factory.mktemp("work")) / "handbook")
    )


@pytest.fixture(scope="module")
def ssh_handbook(
    stack: Stack, repo: SourceRepo, ssh_server: SshServer, client_key: Path
) -> Iterator[DeployedCorpus]:
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "kubernetes.io/ssh-auth",
        "metadata": {"name": "deploy-key"},
        "stringData": {
            "ssh-privatekey": client_key.read_text(),
            "known_hosts": ssh_server.known_hosts_line() + "\n",
        },
    }
    source = {
        "git": {
            "url": ssh_server.url(str(repo.bare)),
            "ref": "main",
            "path": "docs",
            "credentialsSecret": "deploy-key",
        }
    }
    with deployed_source(stack, "git-ssh", source, secret, refresh=REFRESH_BY_HAND) as deployed:
        yield deployed


def test_a_git_ssh_corpus_is_ready_at_its_commit_and_answers(
    ssh_handbook: DeployedCorpus, repo: SourceRepo, client_key: Path
) -> None:
    body = ssh_handbook.get()
    status = body["status"]
    head = repo._git("rev-parse", "HEAD")
    assert status["sourceRevision"] == head == status["index"]["sourceRevision"], status
    assert status["index"]["documents"] == 2, status  # docs/ only: README.md is outside the path
    answers(ssh_handbook, "PERIWINKLE", "aurora-launch.md")
    key_body = [line for line in client_key.read_text().splitlines() if "PRIVATE KEY" not in line]
    assert not any(line in str(body) for line in key_body if line)


def test_a_git_ssh_refresh_of_the_unchanged_ref_transfers_nothing_and_publishes_no_version(
    ssh_handbook: DeployedCorpus, ssh_server: SshServer
) -> None:
    before = ssh_handbook.get()["status"]
    sessions = ssh_server.sessions()
    job = "handbook-refresh-unchanged"
    ssh_handbook.kubectl("create", "job", job, "--from=cronjob/handbook-refresh")
    after = wait_for_status(ssh_handbook, "the refresh read into status", lambda s: s["index"]["job"] == job)
    assert after["index"]["version"] == before["index"]["version"], after
    fetched = fetch_result_of(ssh_handbook, job)
    assert fetched["skippedBecauseUnchanged"] is True and fetched["revision"] == before["sourceRevision"]
    assert ssh_server.sessions() == sessions + 1  # the ref listing only: no pack travelled

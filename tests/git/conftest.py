"""The git tier: a real Git server (`git http-backend` behind devcluster/gitserver.py) on
loopback, one open and one behind basic auth, a real sshd serving the same repositories over
ssh (devcluster/sshserver.py, `ssh_access`), and repositories made with the git CLI.

    repo = source_repo("docs")              # an empty repository served as docs.git
    repo.write("guide.md", "# Guide")
    sha = repo.commit("first")              # commits and pushes: the server has it now
    repo.uri("main", subdir="guide")        # git+http://127.0.0.1:PORT/docs.git@main#guide
"""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from devcluster.gitserver import GitServer
from devcluster.sshserver import SshServer, make_key

GIT_USERNAME = "oozo-reader"
GIT_PASSWORD = "s3cr3t-t0ken-" + "f" * 20  # long and distinctive: easy to spot if it ever leaks
FORBIDDEN_REPOSITORY = "not-yours.git"  # the private server answers 403 for it, credentials or not


@pytest.fixture(scope="session")
def git_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitServer]:
    server = GitServer(tmp_path_factory.mktemp("git-open")).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def private_git_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitServer]:
    server = GitServer(
        tmp_path_factory.mktemp("git-private"),
        username=GIT_USERNAME,
        password=GIT_PASSWORD,
        forbidden=(FORBIDDEN_REPOSITORY,),
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def no_git_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Credentials only as a test sets them (the shell's own OOZO_GIT_* removed)."""
    for name in list(os.environ):
        if name.startswith("OOZO_GIT_"):
            monkeypatch.delenv(name)


class SourceRepo:
    """A working repository whose commits are pushed to a bare repository the server serves."""

    def __init__(self, server: GitServer, name: str, work: Path) -> None:
        self.server = server
        self.name = f"{name}.git"
        self.work = work
        self.bare = server.root / self.name
        self._git("init", "-q", "--bare", "-b", "main", str(self.bare), cwd=server.root)
        self._git("init", "-q", "-b", "main", str(work), cwd=server.root)
        self._git("remote", "add", "origin", str(self.bare))

    def _git(self, *args: str, cwd: Path | None = None) -> str:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.work.parent),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": "/dev/null",
            "GIT_AUTHOR_NAME": "Oozo Test",
            "GIT_AUTHOR_EMAIL": "test@oozo.invalid",
            "GIT_COMMITTER_NAME": "Oozo Test",
            "GIT_COMMITTER_EMAIL": "test@oozo.invalid",
        }
        done = subprocess.run(
            ["git", *args], cwd=cwd or self.work, env=env, capture_output=True, text=True, check=True
        )
        return done.stdout.strip()

    def write(self, rel: str, text: str | bytes) -> None:
        path = self.work / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode() if isinstance(text, str) else text)

    def remove(self, rel: str) -> None:
        (self.work / rel).unlink()

    def symlink(self, rel: str, target: str) -> None:
        (self.work / rel).parent.mkdir(parents=True, exist_ok=True)
        (self.work / rel).symlink_to(target)

    def commit(self, message: str) -> str:
        """Commit everything in the working tree and push branch and tags; the commit's SHA."""
        self._git("add", "-A")
        self._git("commit", "-q", "-m", message)
        self._git("push", "-q", "--tags", "origin", "main")
        return self._git("rev-parse", "HEAD")

    def tag(self, name: str, *, annotated: bool = False) -> None:
        self._git("tag", *(["-a", "-m", f"release {name}"] if annotated else []), name)
        self._git("push", "-q", "origin", f"refs/tags/{name}")

    def uri(self, ref: str | None = None, subdir: str | None = None) -> str:
        uri = "git+" + self.server.url(self.name)
        return uri + (f"@{ref}" if ref else "") + (f"#{subdir}" if subdir else "")


SourceRepoFactory = Callable[..., SourceRepo]


@pytest.fixture
def source_repo(git_server: GitServer, tmp_path: Path) -> SourceRepoFactory:
    def make(name: str = "docs", server: GitServer | None = None) -> SourceRepo:
        unique = f"{name}-{secrets.token_hex(4)}"
        return SourceRepo(server or git_server, unique, tmp_path / f"work-{unique}")

    return make


def tree(folder: Path) -> dict[str, bytes]:
    """Every entry under `folder` (files by content; anything else, e.g. a symlink, as b'<link>')."""
    entries: dict[str, bytes] = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if path.is_symlink():
            entries[rel] = b"<link>"
        elif path.is_file():
            entries[rel] = path.read_bytes()
    return entries


# -- git over ssh: Debian's sshd on loopback (devcluster/sshserver.py) -----------------------


@dataclass(frozen=True)
class SshAccess:
    """A client key the server accepts and a known_hosts file naming the server's host key."""

    server: SshServer
    key_file: Path
    known_hosts_file: Path

    def uri(self, repo: SourceRepo, ref: str | None = None, subdir: str | None = None) -> str:
        """git+ssh://USER@127.0.0.1:PORT/ABSOLUTE/PATH/NAME.git@REF#SUBDIR for `repo`."""
        uri = "git+" + self.server.url(str(repo.bare))
        return uri + (f"@{ref}" if ref else "") + (f"#{subdir}" if subdir else "")


@pytest.fixture(scope="session")
def ssh_access(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshAccess]:
    folder = tmp_path_factory.mktemp("git-ssh")
    key_file = folder / "client_ed25519"
    server = SshServer(folder / "sshd", [make_key(key_file)]).start()
    known_hosts = folder / "known_hosts"
    known_hosts.write_text(server.known_hosts_line() + "\n")
    try:
        yield SshAccess(server, key_file, known_hosts)
    finally:
        server.stop()


@pytest.fixture
def ssh_env(ssh_access: SshAccess, monkeypatch: pytest.MonkeyPatch) -> SshAccess:
    """The key and known_hosts as the index Job gets them: files named by the environment."""
    monkeypatch.setenv("OOZO_GIT_SSH_KEY_FILE", str(ssh_access.key_file))
    monkeypatch.setenv("OOZO_GIT_KNOWN_HOSTS_FILE", str(ssh_access.known_hosts_file))
    return ssh_access

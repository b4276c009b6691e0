"""Fetch a Git repository's documents: `git+https://HOST/PATH.git@REF#SUBDIR` into a folder.

    result = fetch_git("git+https://git.example.com/team/docs.git@main#handbook", into, state_dir)
    result = fetch_git("git+ssh://git@git.example.com/team/docs.git@v2", into, state_dir)

Why dulwich and not the git CLI: dulwich is a maintained pure-Python Git implementation (its
speedups are optional wheels), so the slim runtime image needs no git binary, no shell-out and
no parsing of porcelain output; it speaks smart HTTP protocol v0 and v2, fetches at depth 1,
fetches a commit by its SHA (protocol v2 servers allow any reachable commit), sends HTTP basic
credentials only to the origin they were given for, and raises typed errors (NotGitRepository,
HTTPUnauthorized, GitProtocolError wrapping the urllib3 error) that map onto `SourceError`.

How a fetch goes:
1. Ask the server for its refs (one round trip) and resolve REF: a branch, then a tag (peeled
   to its commit), a full `refs/...` name, or a full 40-hex commit SHA; no REF = the remote HEAD.
   With `unless_revision` equal to that commit, the fetch ends here: nothing else travels.
2. If the commit is already in the bare object store in `state_dir` (kept between runs), no pack
   is transferred; otherwise a shallow fetch (depth 1) of exactly that commit.
3. Materialise the commit's tree, or its SUBDIR, into `into` (see `git_checkout`): only changed
   files are written, files gone at the source are removed, symlinks and submodules are skipped.

Credentials for http(s) come only from the environment: OOZO_GIT_USERNAME and
OOZO_GIT_PASSWORD (a password or an access token; with a token alone the username defaults to
`oozo`, which GitHub and GitLab accept with tokens). A URI carrying userinfo is refused, so a
credential never sits in a spec, a log line or a status; a `git+ssh://` URI may name its login
user (no secret), never a password. Over ssh the key and the server's host key come from the
files OOZO_GIT_SSH_KEY_FILE and OOZO_GIT_KNOWN_HOSTS_FILE name, with strict host key checking
(oozo_runtime.sources.git_ssh, which says why paramiko); everything else goes as over https.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING
from urllib.parse import SplitResult, urlsplit

import urllib3.exceptions
from dulwich.client import GitClient, HTTPUnauthorized, Urllib3HttpGitClient
from dulwich.errors import GitProtocolError, HangupException, NotGitRepository
from dulwich.objects import Commit, ObjectID, Tag
from dulwich.refs import Ref
from dulwich.repo import Repo

from oozo_contract.fetch import SKIPPED_LISTED, FetchResult
from oozo_runtime.sources import sync
from oozo_runtime.sources.errors import (
    SOURCE_AUTH_FAILED,
    SOURCE_INVALID,
    SOURCE_NOT_FOUND,
    SOURCE_UNREACHABLE,
    SourceError,
)
from oozo_runtime.sources.git_checkout import MAX_FILE_BYTES, MAX_FILES, materialise_tree

if TYPE_CHECKING:  # dulwich declares its callback protocols for type checkers only
    from dulwich.client import DetermineWantsFunc

    from oozo_runtime.sources.git_ssh import SshAddress

USERNAME_ENV = "OOZO_GIT_USERNAME"
PASSWORD_ENV = "OOZO_GIT_PASSWORD"  # a password or an access token
TOKEN_ONLY_USERNAME = "oozo"
TIMEOUT_SECONDS = 60.0
STORE_FOLDER = "repository.git"
FETCHED_REF = Ref(b"refs/oozo/fetched")  # keeps the materialised commit reachable in the store
_FULL_SHA = re.compile(r"^[0-9a-f]{40}$")
_HTTP_STATUS = re.compile(r"unexpected http resp (\d{3})")
# What git-upload-pack (and hosted servers' ssh front ends) say for a repository they lack.
_NO_REPOSITORY = re.compile(r"not a git repository|does not appear to be a git repository|not found", re.I)


@dataclass(frozen=True)
class GitSource:
    """A parsed `git+` URI. `url` is what an http(s) client connects to, `ssh` where an ssh one
    does; `display` names the repository in messages (scheme, host, port and path: never
    userinfo or query)."""

    url: str
    display: str
    ref: str | None
    subdir: str | None
    ssh: SshAddress | None = None

    @property
    def remote_path(self) -> bytes:
        """The path the client asks for: an http(s) client holds the whole URL already."""
        return self.ssh.path.encode() if self.ssh is not None else b""

    @property
    def named(self) -> str:
        return f"{self.display}@{self.ref or 'HEAD'}"


def parse_git_uri(uri: str) -> GitSource:
    scheme, sep, rest = uri.partition("+")
    if scheme != "git" or not sep:
        raise SourceError(
            SOURCE_INVALID, "a Git source URI starts with git+https://, git+http:// or git+ssh://"
        )
    parts = urlsplit(rest)
    if parts.scheme not in ("http", "https", "ssh") or not parts.hostname:
        raise SourceError(
            SOURCE_INVALID,
            "a Git source URI starts with git+https://HOST/, git+http://HOST/ or git+ssh://[USER@]HOST/",
        )
    try:
        host = parts.hostname + (f":{parts.port}" if parts.port else "")
    except ValueError:  # a port that is no number, or out of range
        raise SourceError(
            SOURCE_INVALID, f"the Git source URI for {parts.hostname} has an invalid port"
        ) from None
    if parts.scheme == "ssh":
        return _parse_ssh(parts, host)
    if parts.username is not None or parts.password is not None:
        raise SourceError(
            SOURCE_INVALID,
            f"the Git source URI for {parts.scheme}://{host} carries credentials; "
            f"give them as {USERNAME_ENV}/{PASSWORD_ENV} from a Secret instead",
        )
    path, ref = _path_and_ref(parts, host)
    display = f"{parts.scheme}://{host}{path}"
    url = display + (f"?{parts.query}" if parts.query else "")
    return GitSource(url=url, display=display, ref=ref or None, subdir=_subdir(parts.fragment, display))


def _path_and_ref(parts: SplitResult, host: str) -> tuple[str, str]:
    path, at, ref = parts.path.rpartition("@")
    if not at:
        path, ref = parts.path, ""
    if path.strip("/") == "":
        raise SourceError(
            SOURCE_INVALID, f"the Git source URI for {parts.scheme}://{host} names no repository"
        )
    return path, ref


def _parse_ssh(parts: SplitResult, host: str) -> GitSource:
    """`ssh://[USER@]HOST[:PORT]/PATH@REF#SUBDIR`: a user name is fine, a password never is."""
    from oozo_runtime.sources.git_ssh import KEY_FILE_ENV, SshAddress

    if parts.password is not None:
        raise SourceError(
            SOURCE_INVALID,
            f"the Git source URI for ssh://{host} carries a password; give a key as {KEY_FILE_ENV} "
            "from a Secret instead",
        )
    if parts.query:
        raise SourceError(SOURCE_INVALID, f"the Git source URI for ssh://{host} may not carry a query")
    path, ref = _path_and_ref(parts, host)
    display = f"ssh://{host}{path}"
    address = SshAddress(host=parts.hostname or "", port=parts.port, user=parts.username or None, path=path)
    return GitSource(
        url=display, display=display, ref=ref or None, subdir=_subdir(parts.fragment, display), ssh=address
    )


def _subdir(fragment: str, display: str) -> str | None:
    segments = [s for s in fragment.split("/") if s not in ("", ".")]
    if ".." in segments:
        raise SourceError(SOURCE_INVALID, f"the SUBDIR of {display} may not contain '..'")
    return "/".join(segments) or None


def _credentials() -> tuple[str | None, str | None]:
    username = os.environ.get(USERNAME_ENV) or None
    password = os.environ.get(PASSWORD_ENV) or None
    if password is not None and username is None:
        username = TOKEN_ONLY_USERNAME
    return username, password


@contextmanager
def _remote_errors(source: GitSource, *, fetching: bool = False) -> Iterator[None]:
    """dulwich's exceptions as SourceErrors. Their own text is not passed on: it may quote
    server output or URLs; our messages name the repository and the ref only. `fetching`: the
    pack request, where a server refuses a commit SHA it does not have."""
    try:
        yield
    except HTTPUnauthorized as error:
        raise SourceError(
            SOURCE_AUTH_FAILED,
            f"the Git server refused the credentials for {source.display} (HTTP 401): check "
            f"{USERNAME_ENV}/{PASSWORD_ENV}",
        ) from error
    except NotGitRepository as error:
        raise SourceError(SOURCE_NOT_FOUND, f"no Git repository at {source.display}") from error
    except GitProtocolError as error:  # HangupException included
        if source.ssh is not None and _NO_REPOSITORY.search(_remote_text(error)):
            raise SourceError(SOURCE_NOT_FOUND, f"no Git repository at {source.display}") from error
        raise _protocol_error(source, error, fetching) from error


def _protocol_error(source: GitSource, error: GitProtocolError, fetching: bool) -> SourceError:
    if isinstance(error.__cause__, urllib3.exceptions.HTTPError):
        kind = type(error.__cause__).__name__
        return SourceError(SOURCE_UNREACHABLE, f"cannot reach the Git server of {source.display} ({kind})")
    status = _HTTP_STATUS.search(str(error))
    if status is not None:
        code = int(status.group(1))
        if code == 403:
            return SourceError(
                SOURCE_AUTH_FAILED,
                f"the Git server denied access to {source.display} (HTTP 403): check "
                f"{USERNAME_ENV}/{PASSWORD_ENV} and the token's scopes",
            )
        if code in (404, 410):
            return SourceError(SOURCE_NOT_FOUND, f"no Git repository at {source.display} (HTTP {code})")
        return SourceError(SOURCE_UNREACHABLE, f"the Git server of {source.display} answered HTTP {code}")
    if fetching and source.ref is not None and _FULL_SHA.match(source.ref):
        # upload-pack answers "not our ref" (git http-backend: hangs up) to a want it lacks
        return SourceError(SOURCE_NOT_FOUND, f"commit {source.ref} not found in {source.display}")
    return SourceError(SOURCE_UNREACHABLE, f"the Git server failed while serving {source.named}")


def _remote_text(error: GitProtocolError) -> str:
    """What the server said before it hung up (git's stderr over ssh; "ERROR: " lines); only
    matched against, never passed on."""
    if isinstance(error, HangupException) and error.stderr_lines:
        return b"\n".join(error.stderr_lines).decode("utf-8", "replace")
    return str(error)


def _client(source: GitSource, timeout: float) -> GitClient:
    if source.ssh is not None:
        from oozo_runtime.sources.git_ssh import ssh_client  # paramiko only for ssh sources

        return ssh_client(source.ssh, timeout)
    username, password = _credentials()
    return Urllib3HttpGitClient(source.url, username=username, password=password, timeout=timeout)


def resolve_ref(source: GitSource, refs: Mapping[Ref, ObjectID | None]) -> ObjectID:
    """The object id REF names on the server: a commit, or an annotated tag (peeled later)."""
    if source.ref is None:
        head = refs.get(Ref(b"HEAD"))
        if head is None:
            raise SourceError(SOURCE_NOT_FOUND, f"{source.display} has no HEAD (an empty repository?)")
        return head
    if _FULL_SHA.match(source.ref):
        return ObjectID(source.ref.encode())
    name = source.ref.encode()
    candidates = [name] if name.startswith(b"refs/") else [b"refs/heads/" + name, b"refs/tags/" + name]
    for candidate in candidates:
        sha = refs.get(Ref(candidate + b"^{}")) or refs.get(Ref(candidate))
        if sha is not None:
            return sha
    raise SourceError(
        SOURCE_NOT_FOUND,
        f"ref {source.ref} not found in {source.display} (branches and tags are looked up; "
        "a commit must be given as its full 40-hex SHA)",
    )


def _open_store(state_dir: Path) -> Repo:
    path = state_dir / STORE_FOLDER
    if path.is_dir():
        try:
            return Repo(str(path))
        except NotGitRepository:  # a half-made store from a killed first run: start over
            shutil.rmtree(path)
    path.mkdir(parents=True)
    return Repo.init_bare(str(path))


def _only(wanted: ObjectID) -> DetermineWantsFunc:
    def determine_wants(refs: Mapping[Ref, ObjectID], depth: int | None = None) -> list[ObjectID]:
        return [wanted]

    return determine_wants


def _commit_in(store: Repo, sha: ObjectID) -> Commit | None:
    """The commit `sha` names (peeling annotated tags), if the store holds it and its tree."""
    if sha not in store.object_store:
        return None
    obj = store.object_store[sha]
    while isinstance(obj, Tag):
        target = obj.object[1]
        if target not in store.object_store:
            return None
        obj = store.object_store[target]
    if isinstance(obj, Commit) and obj.tree in store.object_store:
        return obj
    return None


def fetch_git(
    uri: str,
    into: Path,
    state_dir: Path,
    *,
    max_file_bytes: int = MAX_FILE_BYTES,
    max_files: int = MAX_FILES,
    timeout: float = TIMEOUT_SECONDS,
    unless_revision: str | None = None,
) -> FetchResult:
    """Fetch the commit REF names and make `into` hold exactly its files (under SUBDIR).

    Raises SourceError: SourceInvalid (a URI Oozo cannot fetch), SourceUnreachable,
    SourceAuthFailed (401/403, a refused SSH key), SourceRefused (an SSH host key that
    known_hosts lacks or contradicts), SourceNotFound (repository, ref, commit or SUBDIR missing),
    SourceRefused (more files than `max_files`). On failure `into` is as it was.
    """
    source = parse_git_uri(uri)
    sync.check_into(into, state_dir)
    client = _client(source, timeout)
    with _remote_errors(source):
        wanted = resolve_ref(source, client.get_refs(source.remote_path).refs)
    if unless_revision is not None and wanted.decode() == unless_revision:
        return sync.unchanged_result("git", unless_revision)  # known from the refs: no pack, no store
    state_dir.mkdir(parents=True, exist_ok=True)
    store = _open_store(state_dir)
    try:
        commit = _commit_in(store, wanted)
        if commit is None:  # only then does a pack travel: an unchanged ref costs one round trip
            with _remote_errors(source, fetching=True):
                client.fetch(source.remote_path, store, determine_wants=_only(wanted), depth=1)
            commit = _commit_in(store, wanted)
        if commit is None:
            raise SourceError(SOURCE_NOT_FOUND, f"{source.named} does not name a commit")
        store.refs[FETCHED_REF] = commit.id
        subdir = PurePosixPath(source.subdir) if source.subdir else None
        counts = materialise_tree(
            store.object_store,
            commit.tree,
            subdir,
            into,
            state_dir,
            named=source.named,
            max_file_bytes=max_file_bytes,
            max_files=max_files,
        )
    finally:
        store.close()
    return FetchResult(
        kind="git",
        revision=commit.id.decode(),
        fetched=counts.fetched,
        unchanged=counts.unchanged,
        removed=counts.removed,
        skipped_objects=len(counts.skipped),
        skipped=counts.skipped[:SKIPPED_LISTED],
    )

"""Git over SSH for `git+ssh://[USER@]HOST[:PORT]/PATH.git@REF#SUBDIR` sources: dulwich's
SSHGitClient on a paramiko connection with strict host key checking.

Why paramiko and not dulwich's SubprocessSSHVendor (the `ssh` binary): the index Job runs as a
UID that has no home directory (the image's user 65532, /nonexistent) on a read-only root
filesystem, and OpenSSH's client wants a passwd entry, a ~/.ssh to read and a known_hosts to
write; it would also need openssh-client in the image and its failures arrive only as stderr
text. paramiko is a maintained pure-Python SSH implementation (its crypto comes from
`cryptography`, already in the image): it reads exactly the two files we name, raises typed
errors for a refused key (AuthenticationException) and a changed host key
(BadHostKeyException), and lets us refuse an unknown host key by policy instead of trusting it
on first use. dulwich's own paramiko vendor (dulwich.contrib) is not shipped in its wheels, so
the few lines of glue live here.

Credentials come only from files named by the environment, never from the URI:
- OOZO_GIT_SSH_KEY_FILE: an unencrypted private key (ed25519, ECDSA or RSA, OpenSSH or PEM
  format): the `ssh-privatekey` key of a kubernetes.io/ssh-auth Secret;
- OOZO_GIT_KNOWN_HOSTS_FILE: the server's host keys in OpenSSH known_hosts format (hashed names
  and `[host]:port` entries included). Required: a host it does not list, or lists with another
  key, is refused before any credential is offered.
The login user is the URI's user, `git` when it names none (GitHub, GitLab, Gitea, Bitbucket).
Messages name the host, the port, the user and the files' variables, never the key.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paramiko
from dulwich.client import SSHGitClient, SSHVendor

from oozo_runtime.sources.errors import (
    SOURCE_AUTH_FAILED,
    SOURCE_INVALID,
    SOURCE_REFUSED,
    SOURCE_UNREACHABLE,
    SourceError,
)

KEY_FILE_ENV = "OOZO_GIT_SSH_KEY_FILE"
KNOWN_HOSTS_FILE_ENV = "OOZO_GIT_KNOWN_HOSTS_FILE"
DEFAULT_USER = "git"
DEFAULT_PORT = 22


@dataclass(frozen=True)
class SshAddress:
    """Where a git+ssh:// source lives: `path` is the repository's path on the server."""

    host: str
    port: int | None
    user: str | None
    path: str

    @property
    def server(self) -> str:
        return f"{self.host}:{self.port or DEFAULT_PORT}"

    @property
    def login(self) -> str:
        return self.user or DEFAULT_USER


class _UnknownHostKey(Exception):
    def __init__(self, hostname: str) -> None:
        super().__init__(hostname)
        self.hostname = hostname


class _RefuseUnknownHost(paramiko.MissingHostKeyPolicy):
    """Strict host key checking: a host known_hosts does not list is never trusted on first use."""

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        raise _UnknownHostKey(hostname)


class _ChannelConnection:
    """The socket-like object dulwich's SSHGitClient reads and writes: one exec channel."""

    def __init__(self, client: paramiko.SSHClient, channel: paramiko.Channel) -> None:
        self._client = client
        self._channel = channel
        # dulwich reads the remote's stderr after a hang-up: git's "not a git repository".
        self.stderr = channel.makefile_stderr("rb")

    def read(self, size: int | None = None) -> bytes:
        """Exactly `size` bytes unless the channel ends first (dulwich reads whole pkt-lines)."""
        chunks: list[bytes] = []
        wanted = size
        while wanted is None or wanted > 0:
            chunk = self._channel.recv(65536 if wanted is None else wanted)
            if not chunk:
                break
            chunks.append(chunk)
            if wanted is not None:
                wanted -= len(chunk)
        return b"".join(chunks)

    def write(self, data: bytes) -> None:
        self._channel.sendall(data)

    def can_read(self) -> bool:
        return self._channel.recv_ready()

    def close(self, timeout: int | None = None) -> None:
        self._channel.close()
        self._client.close()


class StrictSshVendor(SSHVendor):
    """Opens dulwich's SSH connections with paramiko: our key only (no agent, no ~/.ssh), our
    known_hosts only, and every failure as a SourceError naming the server."""

    def __init__(self, address: SshAddress, key: paramiko.PKey, known_hosts: Path, timeout: float) -> None:
        self._address = address
        self._key = key
        self._known_hosts = known_hosts
        self._timeout = timeout

    def run_command(
        self,
        host: str,
        command: bytes,
        username: str | None = None,
        port: int | None = None,
        password: str | None = None,
        key_filename: str | None = None,
        ssh_command: str | None = None,
        protocol_version: int | None = None,
    ) -> Any:
        client = paramiko.SSHClient()
        try:
            try:
                client.load_host_keys(str(self._known_hosts))
            except OSError as error:
                raise SourceError(
                    SOURCE_INVALID, f"cannot read {KNOWN_HOSTS_FILE_ENV} ({error.strerror})"
                ) from None
            client.set_missing_host_key_policy(_RefuseUnknownHost())
            self._connect(client, host, port, username)
            channel = self._exec(client, command, protocol_version)
        except BaseException:
            client.close()
            raise
        return _ChannelConnection(client, channel)

    def _connect(self, client: paramiko.SSHClient, host: str, port: int | None, username: str | None) -> None:
        address = self._address
        try:
            client.connect(
                host,
                port=port or DEFAULT_PORT,
                username=username or DEFAULT_USER,
                pkey=self._key,
                allow_agent=False,
                look_for_keys=False,
                timeout=self._timeout,
                banner_timeout=self._timeout,
                auth_timeout=self._timeout,
                channel_timeout=self._timeout,
            )
        except _UnknownHostKey as error:
            raise SourceError(
                SOURCE_REFUSED,
                f"the SSH host key of {error.hostname} is not in {KNOWN_HOSTS_FILE_ENV}: refused "
                "(strict host key checking; add the server's key to the Secret's known_hosts)",
            ) from None
        except paramiko.BadHostKeyException:
            raise SourceError(
                SOURCE_REFUSED,
                f"the SSH host key of {address.server} does not match {KNOWN_HOSTS_FILE_ENV}: refused "
                "(the server's key changed, or someone is in between)",
            ) from None
        except paramiko.AuthenticationException:
            raise SourceError(
                SOURCE_AUTH_FAILED,
                f"the SSH server {address.server} refused the key in {KEY_FILE_ENV} for user "
                f"{address.login}: check that its public key is a deploy key of the repository",
            ) from None
        except (OSError, EOFError, paramiko.SSHException) as error:  # refused, DNS, timeout, not SSH
            raise SourceError(
                SOURCE_UNREACHABLE,
                f"cannot reach the SSH server {address.server} ({type(error).__name__})",
            ) from None

    def _exec(
        self, client: paramiko.SSHClient, command: bytes, protocol_version: int | None
    ) -> paramiko.Channel:
        transport = client.get_transport()
        assert transport is not None, "connected just before"
        try:
            channel = transport.open_session(timeout=self._timeout)
            channel.settimeout(self._timeout)
            if protocol_version:  # servers that accept the variable speak v2 (fetch by SHA)
                channel.set_environment_variable("GIT_PROTOCOL", f"version={protocol_version}")
            channel.exec_command(command)
        except (OSError, paramiko.SSHException) as error:
            raise SourceError(
                SOURCE_UNREACHABLE,
                f"the SSH server {self._address.server} did not run git-upload-pack ({type(error).__name__})",
            ) from None
        return channel


def _file_from_env(name: str, what: str) -> Path:
    value = os.environ.get(name)
    if not value:
        raise SourceError(SOURCE_INVALID, f"git+ssh:// sources need {what} in the file {name} names")
    path = Path(value)
    if not path.is_file():
        raise SourceError(SOURCE_INVALID, f"{name} names {path}, which is not a readable file")
    return path


def _private_key(path: Path) -> paramiko.PKey:
    try:
        return paramiko.PKey.from_path(path)
    except paramiko.PasswordRequiredException:
        raise SourceError(
            SOURCE_INVALID, f"the SSH key in {KEY_FILE_ENV} is encrypted: give an unencrypted deploy key"
        ) from None
    except (OSError, ValueError, paramiko.SSHException) as error:  # not a key paramiko reads
        raise SourceError(
            SOURCE_INVALID,
            f"{KEY_FILE_ENV} does not hold a private key paramiko can read (ed25519, ECDSA or RSA; "
            f"{type(error).__name__})",
        ) from None


def ssh_client(address: SshAddress, timeout: float) -> SSHGitClient:
    """A dulwich client for `address`, with the key and known_hosts the environment names."""
    key = _private_key(_file_from_env(KEY_FILE_ENV, "a private key"))
    known_hosts = _file_from_env(KNOWN_HOSTS_FILE_ENV, "the server's host key (known_hosts)")
    vendor = StrictSshVendor(address, key, known_hosts, timeout)
    return SSHGitClient(address.host, port=address.port, username=address.login, vendor=vendor)

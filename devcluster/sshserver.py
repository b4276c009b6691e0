"""A real SSH server (Debian's openssh-server) on loopback for tests: Git over SSH the way hosted
Git servers serve it, `git-upload-pack` run by the login user's shell.

    server = SshServer(work_dir, authorized_keys=[client_public_key])
    server.start()                        # sshd -D -e on a free port of 127.0.0.1
    server.known_hosts_line()             # "[127.0.0.1]:PORT ssh-ed25519 AAAA..."
    server.url("/srv/git/docs.git")       # ssh://USER@127.0.0.1:PORT/srv/git/docs.git
    server.stop()

Everything is its own, in `work_dir`: sshd_config, a fresh ed25519 host key, authorized_keys, the
log. Only public-key logins of the user running the tests are allowed (sshd started by another
user can only log that user in); no password, no forwarding, no PAM. `StrictModes no` because
pytest's temporary folders sit under the world-writable /tmp, which sshd's ownership walk would
refuse. `AcceptEnv GIT_PROTOCOL` lets a client ask for protocol v2, as GitHub's and GitLab's
servers do. `make tools` (hack/tools/sshd.sh) installs the package.
`python -m devcluster.sshserver DIR PUBLIC_KEY_FILE` serves one in the foreground.
"""

from __future__ import annotations

import getpass
import os
import socket
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from devcluster.loopback import LoopbackServer, die_with_parent

SSHD = Path("/usr/sbin/sshd")
# sshd started by root insists on its privilege-separation folder (the package's service makes
# it at boot; nothing does in a container).
PRIVSEP_DIR = Path("/run/sshd")


def sshd_binary() -> Path:
    if not SSHD.exists():
        raise RuntimeError("sshd is not installed: run `make tools` (hack/tools/sshd.sh)")
    return SSHD


def make_key(path: Path, comment: str = "oozo-test") -> str:
    """A new unencrypted ed25519 key pair at `path` (and `path`.pub); the public key line."""
    path.unlink(missing_ok=True)
    path.with_name(path.name + ".pub").unlink(missing_ok=True)
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
        check=True,
        capture_output=True,
    )
    return path.with_name(path.name + ".pub").read_text().strip()


class SshServer(LoopbackServer):
    process_name = "sshd"
    log_name = "sshd.log"
    poll_seconds = 0.05
    start_timeout = 30.0

    def __init__(self, workdir: Path, authorized_keys: Sequence[str]) -> None:
        super().__init__(workdir)
        self.user = getpass.getuser()
        self.authorized_keys = list(authorized_keys)
        self.host_key = self.workdir / "ssh_host_ed25519_key"

    def url(self, path: str) -> str:
        if self.port is None:
            raise RuntimeError("the server has not been started")
        return f"ssh://{self.user}@127.0.0.1:{self.port}{path}"

    def host_public_key(self) -> str:
        """The host key as `TYPE BASE64`, for a known_hosts line."""
        kind, blob = self.host_key.with_name(self.host_key.name + ".pub").read_text().split()[:2]
        return f"{kind} {blob}"

    def known_hosts_line(self) -> str:
        return f"[127.0.0.1]:{self.port} {self.host_public_key()}"

    def sessions(self) -> int:
        """How many commands (git-upload-pack runs) the server has started so far."""
        if not self.log_path.exists():
            return 0
        return self.log_path.read_text(errors="replace").count("Starting session: command")

    def _spawn(self) -> subprocess.Popen[bytes]:
        self.workdir.mkdir(parents=True, exist_ok=True)
        if not self.host_key.exists():  # kept across restarts: clients' known_hosts stay valid
            make_key(self.host_key, "oozo-test-host")
        authorized = self.workdir / "authorized_keys"
        authorized.write_text("".join(f"{key}\n" for key in self.authorized_keys))
        authorized.chmod(0o600)
        config = self.workdir / "sshd_config"
        config.write_text(
            "\n".join(
                [
                    "ListenAddress 127.0.0.1",
                    f"Port {self.port}",
                    f"HostKey {self.host_key}",
                    f"PidFile {self.workdir / 'sshd.pid'}",
                    f"AuthorizedKeysFile {authorized}",
                    f"AllowUsers {self.user}",
                    "PermitRootLogin prohibit-password",
                    "PubkeyAuthentication yes",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    "UsePAM no",
                    "StrictModes no",
                    "AllowTcpForwarding no",
                    "X11Forwarding no",
                    "PermitTTY no",
                    "AcceptEnv GIT_PROTOCOL",
                    "LogLevel VERBOSE",
                    "",
                ]
            )
        )
        if os.geteuid() == 0:
            PRIVSEP_DIR.mkdir(mode=0o755, exist_ok=True)
        log = self.log_path.open("ab")
        try:
            return subprocess.Popen(
                [str(sshd_binary()), "-D", "-e", "-f", str(config)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                cwd=self.workdir,
                preexec_fn=die_with_parent,
            )
        finally:
            log.close()

    def _answers(self) -> bool:
        """sshd speaks first: its banner line starts with SSH-2.0."""
        assert self.port is not None
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn:
                return conn.recv(4).startswith(b"SSH-")
        except OSError:
            return False


def main(argv: list[str]) -> None:
    workdir, public_key = Path(argv[1]), Path(argv[2]).read_text().strip()
    server = SshServer(workdir, [public_key]).start()
    print(f"serving {server.url('/PATH.git')}; known_hosts: {server.known_hosts_line()}", flush=True)
    try:
        assert server.proc is not None
        server.proc.wait()
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main(sys.argv)

"""A real Redis (Debian's redis-server) on loopback for tests, with a password.

    server = RedisServer(tmp_dir)          # a password is made unless one is given
    server.start()                         # a free port on 127.0.0.1, its own dir and config
    server.url                             # redis://127.0.0.1:PORT/0 (no credentials in it)
    server.command("DBSIZE")               # a redis-cli command against it, the output as text
    server.stop()                          # SIGTERM to the process this object started; restartable

The server keeps nothing on disk (no RDB snapshots, no AOF), listens on 127.0.0.1 only and
requires the password (`requirepass`); its config file is in its own directory, mode 0600, so
the password is never on a command line `ps` would show. `make tools` (hack/tools/redis.sh)
installs the package. `python -m devcluster.redisserver DIR` serves one in the foreground.
"""

from __future__ import annotations

import ctypes
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from devcluster.ports import free_port

PR_SET_PDEATHSIG = 1


def redis_server_binary() -> Path:
    found = shutil.which("redis-server")
    if found is None:
        raise RuntimeError("redis-server is not installed: run `make tools` (hack/tools/redis.sh)")
    return Path(found)


def _die_with_parent() -> None:
    # If pytest is killed, redis-server gets SIGTERM instead of lingering on its port.
    ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class RedisServer:
    def __init__(self, workdir: Path, password: str | None = None) -> None:
        self.workdir = Path(workdir)
        self.password = password or secrets.token_urlsafe(24)
        self.port: int | None = None
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("the server has not been started")
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def log_path(self) -> Path:
        return self.workdir / "redis.log"

    def start(self, timeout: float = 30.0) -> RedisServer:
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self.port is None:  # a restart keeps its port, so clients configured earlier still match
            self.port = free_port()
        config = self.workdir / "redis.conf"
        config.touch(mode=0o600)
        config.write_text(
            "\n".join(
                [
                    "bind 127.0.0.1",
                    f"port {self.port}",
                    f"dir {self.workdir}",
                    f"logfile {self.log_path}",
                    f'requirepass "{self.password}"',
                    'save ""',
                    "appendonly no",
                    "daemonize no",
                    "protected-mode yes",
                    "",
                ]
            )
        )
        self.proc = subprocess.Popen(
            [str(redis_server_binary()), str(config)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=self.workdir,
            preexec_fn=_die_with_parent,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.proc.returncode}:\n{self._log_tail()}")
            if self._answers():
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"redis-server did not answer in {timeout:.0f}s:\n{self._log_tail()}")

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def command(self, *args: str) -> str:
        """One command through redis-cli (Debian's redis-tools, a dependency of redis-server);
        the password goes through REDISCLI_AUTH, not the command line."""
        if self.port is None:
            raise RuntimeError("the server has not been started")
        cli = shutil.which("redis-cli")
        if cli is None:
            raise RuntimeError("redis-cli is not installed: run `make tools` (hack/tools/redis.sh)")
        done = subprocess.run(
            [cli, "-h", "127.0.0.1", "-p", str(self.port), *args],
            capture_output=True,
            text=True,
            timeout=10,
            env={**os.environ, "REDISCLI_AUTH": self.password},
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"redis-cli {' '.join(args)} failed: {done.stderr.strip()}")
        return done.stdout.strip()

    def _answers(self) -> bool:
        try:
            return self.command("PING") == "PONG"
        except (RuntimeError, subprocess.TimeoutExpired):
            return False

    def _log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


if __name__ == "__main__":
    server = RedisServer(Path(sys.argv[1])).start()
    print(f"{server.url}  password: {server.password}  (Ctrl-C stops it)")
    try:
        assert server.proc is not None
        server.proc.wait()
    except KeyboardInterrupt:
        server.stop()

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

import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

from devcluster.loopback import LoopbackServer, die_with_parent


def redis_server_binary() -> Path:
    found = shutil.which("redis-server")
    if found is None:
        raise RuntimeError("redis-server is not installed: run `make tools` (hack/tools/redis.sh)")
    return Path(found)


class RedisServer(LoopbackServer):
    process_name = "redis-server"
    log_name = "redis.log"
    poll_seconds = 0.05
    start_timeout = 30.0

    def __init__(self, workdir: Path, password: str | None = None) -> None:
        super().__init__(workdir)
        self.password = password or secrets.token_urlsafe(24)

    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("the server has not been started")
        return f"redis://127.0.0.1:{self.port}/0"

    def _spawn(self) -> subprocess.Popen[bytes]:
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
        return subprocess.Popen(
            [str(redis_server_binary()), str(config)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=self.workdir,
            preexec_fn=die_with_parent,
        )

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


if __name__ == "__main__":
    server = RedisServer(Path(sys.argv[1])).start()
    print(f"{server.url}  password: {server.password}  (Ctrl-C stops it)")
    try:
        assert server.proc is not None
        server.proc.wait()
    except KeyboardInterrupt:
        server.stop()

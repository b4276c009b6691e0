"""Run the real `oozo` command in a child process, the way a CronJob or Job does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devcluster.s3server import S3Server

OOZO = Path(sys.executable).with_name("oozo")


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str

    @property
    def result(self) -> dict[str, Any]:
        return dict(json.loads(self.stdout.strip().splitlines()[-1]))

    @property
    def error(self) -> dict[str, Any]:
        return dict(json.loads(self.stderr.strip().splitlines()[-1]))


def oozo(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> Run:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "OOZO_"))}
    full_env.update(env or {})
    done = subprocess.run(
        [str(OOZO), *args], capture_output=True, text=True, env=full_env, timeout=timeout, check=False
    )
    return Run(done.returncode, done.stdout, done.stderr)


def backup(server: S3Server, index: Path, uri: str, *extra: str, env: dict[str, str] | None = None) -> Run:
    """`oozo backup` of `index` to `uri` on `server`, with its credentials unless `env` says else."""
    return oozo(
        "backup",
        "--index",
        str(index),
        "--to",
        uri,
        "--endpoint",
        server.endpoint,
        *extra,
        env=env or server.env(),
    )


def restore(server: S3Server, index: Path, uri: str, env: dict[str, str] | None = None) -> Run:
    """`oozo restore` of `uri` on `server` into `index`."""
    return oozo(
        "restore",
        "--from",
        uri,
        "--index",
        str(index),
        "--endpoint",
        server.endpoint,
        env=env or server.env(),
    )

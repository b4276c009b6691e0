"""A real S3-compatible server (MinIO, built from the Go module proxy) on loopback for tests.

    server = S3Server(tmp_dir)
    server.start()                 # builds MinIO once (cached), starts it on a free port
    server.make_bucket("backups")
    server.client().list_buckets()
    server.stop()

The server runs as a separate process with its own data directory and fixed root credentials;
`stop()` signals only the process this object started. `python -m devcluster.s3server DIR`
starts one in the foreground for poking at it by hand.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from devcluster import REPO
from devcluster.loopback import LoopbackServer, die_with_parent
from devcluster.ports import free_port

BUILD_SCRIPT = REPO / "hack" / "s3" / "build-minio.sh"


def minio_binary() -> Path:
    """Build MinIO if it is not cached yet (the script holds a lock, so parallel callers wait)
    and return the binary's path. A failed build raises with the tail of the build log."""
    done = subprocess.run(["bash", str(BUILD_SCRIPT)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"building MinIO failed:\n{done.stderr[-4000:]}")
    return Path(done.stdout.strip().splitlines()[-1])


class S3Server(LoopbackServer):
    process_name = "MinIO"
    log_name = "minio.log"
    access_key = "oozo-test-root"
    secret_key = "oozo-test-root-secret-0123456789"
    region = "us-east-1"

    def __init__(self, workdir: Path, port: int | None = None, cpus: set[int] | None = None) -> None:
        super().__init__(workdir, port)
        self.cpus = cpus  # pin the server to these CPUs (benchmarks: a server on its own cores)

    @property
    def endpoint(self) -> str:
        if self.port is None:
            raise RuntimeError("the server has not been started")
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        """What a client process needs to reach this server (AWS SDK conventions)."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": self.region,
        }

    def _spawn(self) -> subprocess.Popen[bytes]:
        binary = minio_binary()
        data = self.workdir / "data"
        data.mkdir(parents=True, exist_ok=True)
        console = free_port()
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.workdir),
            "MINIO_ROOT_USER": self.access_key,
            "MINIO_ROOT_PASSWORD": self.secret_key,
            "MINIO_BROWSER": "off",
            "MINIO_UPDATE": "off",
            "MINIO_CI_CD": "on",  # a test data dir lives on the root drive; do not refuse it
        }
        args = [
            str(binary),
            "server",
            "--quiet",
            "--address",
            f"127.0.0.1:{self.port}",
            "--console-address",
            f"127.0.0.1:{console}",
            "--certs-dir",
            str(self.workdir / "certs"),
            str(data),
        ]
        with self.log_path.open("ab") as log:
            return subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.workdir,
                preexec_fn=self._in_child,
            )

    def _in_child(self) -> None:
        die_with_parent()
        if self.cpus:  # before exec, so Go sizes GOMAXPROCS to them
            os.sched_setaffinity(0, self.cpus)

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.endpoint}/minio/health/ready", timeout=1) as resp:
                return bool(resp.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def client(self, **overrides: Any) -> Any:
        import boto3
        from botocore.config import Config

        kwargs: dict[str, Any] = {
            "endpoint_url": self.endpoint,
            "aws_access_key_id": self.access_key,
            "aws_secret_access_key": self.secret_key,
            "region_name": self.region,
            "config": Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2}),
        }
        kwargs.update(overrides)
        return boto3.session.Session().client("s3", **kwargs)

    def session_env(self, actions: list[str], seconds: int = 900) -> dict[str, str]:
        """Temporary credentials (with AWS_SESSION_TOKEN) limited to `actions` on every bucket,
        from MinIO's STS AssumeRole with an inline session policy."""
        import json

        import boto3

        sts = boto3.session.Session().client(
            "sts",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name=self.region,
        )
        policy = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": actions, "Resource": ["arn:aws:s3:::*"]}],
        }
        creds = sts.assume_role(
            RoleArn="arn:minio:iam:::role/oozo-test",
            RoleSessionName="oozo-test",
            Policy=json.dumps(policy),
            DurationSeconds=seconds,
        )["Credentials"]
        return {
            "AWS_ACCESS_KEY_ID": creds["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": creds["SecretAccessKey"],
            "AWS_SESSION_TOKEN": creds["SessionToken"],
            "AWS_DEFAULT_REGION": self.region,
        }

    def make_bucket(self, name: str) -> str:
        client = self.client()
        with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
            client.create_bucket(Bucket=name)
        return name


if __name__ == "__main__":  # pragma: no cover - manual use
    workdir = Path(sys.argv[1] if len(sys.argv) > 1 else ".s3")
    server = S3Server(workdir).start()
    print(f"endpoint={server.endpoint} access_key={server.access_key} (Ctrl-C stops it)", flush=True)
    try:
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()

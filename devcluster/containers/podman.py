"""Running planned containers with podman (runc), as root on this host: start one detached,
wait for it, read its logs and termination message, remove it. Everything it starts carries the
label oozo.dev/devcluster=<owner>, so cleanup removes exactly what it started."""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from devcluster.containers.run_args import ContainerPlan

REPO = Path(__file__).resolve().parents[2]
LABEL = "oozo.dev/devcluster"


class PodmanError(RuntimeError):
    """podman itself failed (not the program in the container)."""


def ensure_podman() -> str:
    """podman's path, after hack/images/podman.sh installed and configured it (idempotent)."""
    done = subprocess.run(
        ["bash", str(REPO / "hack/images/podman.sh")], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise PodmanError(f"hack/images/podman.sh failed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout.strip().splitlines()[-1]


def build_images(images: str, log_path: Path) -> None:
    """`make images` for the named subset ("operator server"); its output goes to log_path."""
    with log_path.open("w") as log:
        done = subprocess.run(
            ["bash", str(REPO / "hack/images/build.sh")],
            env={**os.environ, "OOZO_IMAGES": images},
            stdout=log,
            stderr=subprocess.STDOUT,
            check=False,
        )
    if done.returncode != 0:
        tail = "\n".join(log_path.read_text().splitlines()[-30:])
        raise PodmanError(f"hack/images/build.sh failed ({done.returncode}); last lines:\n{tail}")


@dataclass
class Exited:
    exit_code: int
    logs: str
    termination_message: str


class Podman:
    def __init__(self, podman: str, owner: str) -> None:
        self.podman = podman
        self.owner = owner

    def _run(self, *args: str, timeout: float = 120) -> str:
        done = subprocess.run(
            [self.podman, *args], capture_output=True, text=True, timeout=timeout, check=False
        )
        if done.returncode != 0:
            raise PodmanError(f"podman {args[0]} failed ({done.returncode}): {done.stderr.strip()}")
        return done.stdout

    def image_user(self, image: str) -> str:
        """The image's USER ("" for root by default)."""
        return self._run("image", "inspect", "--format", "{{.Config.User}}", image).strip()

    def start(self, plan: ContainerPlan) -> str:
        """Create and start the container detached; its id."""
        argv = plan.argv(self.podman)
        argv[2:2] = ["--detach", "--label", f"{LABEL}={self.owner}"]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0:
            raise PodmanError(f"podman run {plan.name} failed ({done.returncode}): {done.stderr.strip()}")
        return done.stdout.strip()

    def state(self, name: str) -> tuple[str, int]:
        """(status, exit code): status is podman's (created, running, exited...)."""
        out = self._run("inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", name).split()
        return out[0], int(out[1])

    def wait(self, name: str, termination_file: Path, timeout: float = 120) -> Exited:
        deadline = time.monotonic() + timeout
        while True:
            status, code = self.state(name)
            if status in ("exited", "stopped"):
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"container {name} still {status} after {timeout:.0f} s")
            time.sleep(0.2)
        message = termination_file.read_text() if termination_file.exists() else ""
        return Exited(code, self.logs(name), message)

    def logs(self, name: str) -> str:
        done = subprocess.run(
            [self.podman, "logs", name], capture_output=True, text=True, timeout=60, check=False
        )
        return done.stdout + done.stderr

    def exec(self, name: str, *argv: str) -> subprocess.CompletedProcess[str]:
        """Run argv in the running container (as its user); the result, whatever its exit code."""
        return subprocess.run(
            [self.podman, "exec", name, *argv], capture_output=True, text=True, timeout=60, check=False
        )

    def remove(self, name: str) -> None:
        subprocess.run(
            [self.podman, "rm", "--force", "--time", "5", name], capture_output=True, timeout=60, check=False
        )

    def remove_all_mine(self) -> None:
        """Every container this owner started, and nothing else."""
        ids = self._run("ps", "--all", "--quiet", "--filter", f"label={LABEL}={self.owner}").split()
        for container_id in ids:
            self.remove(container_id)

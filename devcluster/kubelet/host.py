"""What a pod worker needs from the kubelet that runs it, as a protocol, so `worker` does not
import `local` (which imports `worker` to start one per pod)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Protocol

from devcluster.kube_rest import Kube
from devcluster.kubelet.in_container import PodmanRuntime


class PodHost(Protocol):
    """The node-wide client, environment and settings a pod runs with, object reads for its
    volumes, and process bookkeeping so the kubelet can stop every process it started.
    `LocalKubelet` is the one implementation."""

    kube: Kube
    workdir: Path
    base_env: dict[str, str]
    python_bin: Path
    stop_grace: float
    containers: PodmanRuntime | None  # the podman runtime, or None: every container is a process

    def read_object(self, kind: str, namespace: str, name: str) -> dict | None: ...

    def track(self, popen: subprocess.Popen[bytes]) -> None: ...

    def untrack(self, popen: subprocess.Popen[bytes]) -> None: ...

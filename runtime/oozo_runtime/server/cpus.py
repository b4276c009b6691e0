"""The CPUs a server may use and how many worker processes it runs: decided before the server's
libraries are imported (server/worker_metrics.py must set prometheus_client's multiprocess folder
before that library is imported), so this module imports nothing heavy."""

from __future__ import annotations

import math
import os
from pathlib import Path

from oozo_contract.serve_settings import ServeSettings

CPUS_PER_WORKER = 4


def worker_count(settings: ServeSettings, cpus: int | None = None) -> int:
    """The setting, else one worker per CPUS_PER_WORKER CPUs of the limit (at least one)."""
    if settings.server_workers:
        return settings.server_workers
    return max(1, math.ceil((cpus or cpu_limit()) / CPUS_PER_WORKER))


def cpu_limit(cgroup_cpu_max: Path = Path("/sys/fs/cgroup/cpu.max")) -> int:
    """The pod's CPU limit (cgroup v2 `cpu.max`, quota/period rounded up) when it is set and lower
    than the CPUs the process may run on; os.cpu_count() would count the node's cores, and a pool
    wider than the limit only makes the threads queue for the CFS quota."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        quota, period = cgroup_cpu_max.read_text().split()[:2]
        if quota != "max":
            cpus = min(cpus, math.ceil(int(quota) / int(period)))
    except (OSError, ValueError):
        pass  # no cgroup v2 limit readable: the affinity count stands
    return max(1, cpus)

"""One /metrics for all of a pod's server workers (OOZO_SERVER_WORKERS > 1): prometheus_client's
multiprocess mode. Each worker writes its samples to memory-mapped files in one folder; a scrape,
whichever worker answers it, reads every worker's files and sums them (counters, histograms and
the gauges by their `multiprocess_mode`, server/metrics.py).

prometheus_client decides at import whether it writes files (PROMETHEUS_MULTIPROC_DIR), so
`prepare` runs before the server's modules are imported, in the parent, before the forks; the
folder is per process (pid) under the temporary directory, the pod's writable /tmp (an emptyDir
that outlives a container restart, which is why `prepare` empties it: the restarted container's
parent has the same pid, and the dead workers' counts would be added to the new ones'). Only the
`*.db` files prometheus_client writes are ever removed. One worker keeps the default: a
registry in memory, no files."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from pathlib import Path

ENV = "PROMETHEUS_MULTIPROC_DIR"


def folder_for(pid: int) -> Path:
    return Path(tempfile.gettempdir()) / f"oozo-metrics-{pid}"


def prepare(workers: int) -> Path | None:
    """For several workers: an empty folder for their metric files, named in the environment
    that prometheus_client reads at import. None (and nothing changed) for one worker."""
    if workers <= 1:
        return None
    if "prometheus_client" in sys.modules:
        # Imported already, it would keep its in-memory values: each worker would count alone.
        raise RuntimeError("worker metrics must be prepared before prometheus_client is imported")
    folder = folder_for(os.getpid())
    folder.mkdir(mode=0o700, exist_ok=True)
    _remove_metric_files(folder)
    os.environ[ENV] = str(folder)
    return folder


def enabled() -> bool:
    return ENV in os.environ


def mark_dead(pid: int) -> None:
    """A worker has exited: its live gauges (in flight, ready, ...) stop counting; its counters
    and histograms stay in the sums."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid)


def remove(folder: Path) -> None:
    """The folder and the files prometheus_client wrote in it; anything else is left."""
    _remove_metric_files(folder)
    with contextlib.suppress(OSError):  # not empty: something else was put there, it stays
        folder.rmdir()


def _remove_metric_files(folder: Path) -> None:
    for path in folder.glob("*.db"):
        path.unlink(missing_ok=True)


def exposition() -> bytes:
    """Every worker's samples, aggregated, in Prometheus text format."""
    from prometheus_client import CollectorRegistry, generate_latest, multiprocess

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return generate_latest(registry)

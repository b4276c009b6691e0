"""Several server processes in one pod (OOZO_SERVER_WORKERS), sharing one listening socket.

Why processes: ONNX Runtime and FAISS release the GIL, but a query's HTTP parsing, validation,
BM25 and the extractive answer are Python and hold it (about a quarter of a query's CPU,
measured with py-spy), so one process keeps about CPUS_PER_WORKER cores busy; the default is
one worker per CPUS_PER_WORKER CPUs of the limit (one on a 2-CPU pod).

How (gunicorn's pre-fork model, without gunicorn): `oozo serve` binds the socket, imports the
server's libraries once (their pages stay shared by the forks), then forks the workers. Each
worker loads the index version itself: the FAISS file is memory-mapped, so its vectors are one
copy in the page cache for all workers (retrieval.read_vector_index); the ONNX session, the
chunks and the BM25 arrays are per worker. Every worker accepts from the same socket.

The parent supervises: SIGTERM/SIGINT go to every worker (each drains like a single server);
a worker that dies on its own stops the others and the parent exits with its code, so the
kubelet restarts the container rather than serving on with fewer workers than configured.

Readiness is the pod's: a worker answers /ready 200 only once every worker has loaded the index
(a count in memory shared by the forks, ReadyGate), so no query lands on a worker still loading.
Metrics are the pod's too: the workers write them to files in one folder (prometheus_client's
multiprocess mode, server/worker_metrics.py, prepared by `oozo serve` before the forks), and a
scrape of any worker sums them all; the parent marks each worker that exits as dead and removes
the folder when the last one is gone."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

import uvicorn

from oozo_contract.serve_settings import ServeSettings
from oozo_runtime.server import http, worker_metrics
from oozo_runtime.server.cpus import worker_count
from oozo_runtime.server.http import uvicorn_options
from oozo_runtime.server.state import ReadyGate

log = logging.getLogger(__name__)


def run(settings: ServeSettings, make_app: Callable[[ReadyGate | None], Any]) -> int:
    """Serve with `worker_count` processes; returns the exit code."""
    workers = worker_count(settings)
    if workers == 1:
        http.run(make_app(None), settings)
        return 0
    options = uvicorn_options(settings)
    sock = uvicorn.Config(app=make_app, **options).bind_socket()  # binds only; each worker makes its app
    gate = ReadyGate(workers)
    pids = set()
    for _ in range(workers):
        pid = os.fork()
        if pid == 0:  # the worker: serve until told to stop, never return into the parent's code
            code = 0
            try:
                uvicorn.Server(uvicorn.Config(make_app(gate), **options)).run(sockets=[sock])
            except BaseException:
                log.exception("server worker failed")
                code = 1
            finally:
                os._exit(code)
        pids.add(pid)
    sock.close()
    log.info("server workers started", extra={"workers": workers, "pids": sorted(pids)})
    try:
        return supervise(pids)
    finally:
        if worker_metrics.enabled():
            worker_metrics.remove(Path(os.environ[worker_metrics.ENV]))


def supervise(pids: set[int]) -> int:
    """Wait for the workers; forward SIGTERM/SIGINT; stop all when one exits on its own."""
    stopping = False

    def stop_all(signum: int, _frame: FrameType | None = None) -> None:
        nonlocal stopping
        stopping = True
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):  # already gone
                os.kill(pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop_all)
    signal.signal(signal.SIGINT, stop_all)
    code = 0
    while pids:
        pid, status = os.waitpid(-1, 0)
        pids.discard(pid)
        if worker_metrics.enabled():
            worker_metrics.mark_dead(pid)
        exit_code = os.waitstatus_to_exitcode(status)
        if not stopping:
            log.error("server worker exited; stopping the others", extra={"pid": pid, "code": exit_code})
            code = exit_code if exit_code > 0 else 1  # killed by a signal: still a failure
            stop_all(signal.SIGTERM)
    return code

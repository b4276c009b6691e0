"""Prometheus metrics of the operator, served on --metrics-port."""

from __future__ import annotations

import threading

from prometheus_client import Counter, Gauge, Histogram, start_http_server

RECONCILES = Counter(
    "oozo_reconciles_total", "Reconcile passes by trigger and result.", ["trigger", "result"]
)
ERRORS = Counter("oozo_reconcile_errors_total", "Reconcile passes that raised.", ["error"])
DURATION = Histogram(
    "oozo_reconcile_duration_seconds",
    "Duration of one reconcile pass.",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
CORPORA = Gauge("oozo_corpora", "RagCorpora by their Ready condition.", ["ready"])
STATUS_WRITES = Counter("oozo_status_writes_total", "Status patches (only written when changed).")

_ready: dict[tuple[str, str], str] = {}
_lock = threading.Lock()


def observe_ready(namespace: str, name: str, ready: str | None) -> None:
    """Remember one corpus's Ready status (None: gone) and refresh the per-status gauge."""
    with _lock:
        if ready is None:
            _ready.pop((namespace, name), None)
        else:
            _ready[(namespace, name)] = ready
        for value in ("True", "False", "Unknown"):
            CORPORA.labels(ready=value).set(sum(1 for v in _ready.values() if v == value))


def serve(port: int) -> None:
    start_http_server(port)

"""Prometheus metrics of the operator, served on --metrics-port."""

from __future__ import annotations

import contextlib
import threading
from datetime import datetime
from typing import Any

from prometheus_client import Counter, Gauge, Histogram, start_http_server

from oozo_operator.schedule import widest_gap_seconds

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
# Per corpus, for the alerts (charts/oozo/templates/prometheusrule.yaml): bounded by the corpora.
CONDITION = Gauge(
    "oozo_corpus_condition",
    "1 for the current status (True, False, Unknown) of each condition of a RagCorpus, else 0.",
    ["namespace", "name", "condition", "status"],
)
LAST_SUCCESS = Gauge(
    "oozo_index_last_success_timestamp_seconds",
    "When the last successful index build or refresh of a RagCorpus finished (Unix time).",
    ["namespace", "name"],
)
REFRESH_INTERVAL = Gauge(
    "oozo_refresh_interval_seconds",
    "The widest gap between two runs of a RagCorpus's spec.refresh schedule.",
    ["namespace", "name"],
)
BACKUP_VERIFIED = Gauge(
    "oozo_backup_verified",
    "1 when the last restore drill (spec.backup.verify) of a RagCorpus passed, 0 when it failed.",
    ["namespace", "name"],
)
LAST_VERIFIED = Gauge(
    "oozo_backup_last_verified_timestamp_seconds",
    "When a restore drill of a RagCorpus last passed (Unix time).",
    ["namespace", "name"],
)
STATUSES = ("True", "False", "Unknown")
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


_conditions: dict[tuple[str, str], set[str]] = {}


def observe_corpus(
    namespace: str, name: str, status: dict[str, Any] | None, refresh_schedule: str | None = None
) -> None:
    """Export one corpus's conditions, last successful build, refresh interval and last restore
    drill; `status`
    None (the corpus is gone) removes its series."""
    with _lock:
        for condition in _conditions.pop((namespace, name), set()):
            for value in STATUSES:
                _remove(CONDITION, namespace, name, condition, value)
        _remove(LAST_SUCCESS, namespace, name)
        _remove(REFRESH_INTERVAL, namespace, name)
        _remove(BACKUP_VERIFIED, namespace, name)
        _remove(LAST_VERIFIED, namespace, name)
        if status is None:
            return
        seen = set()
        for cond in status.get("conditions") or []:
            seen.add(cond["type"])
            for value in STATUSES:
                CONDITION.labels(namespace, name, cond["type"], value).set(
                    1 if cond["status"] == value else 0
                )
        _conditions[(namespace, name)] = seen
        index = status.get("index") or {}
        finished = _unix_time(index.get("succeededAt") or index.get("builtAt"))
        if finished is not None:
            LAST_SUCCESS.labels(namespace, name).set(finished)
        drill = status.get("lastVerifiedBackup") or {}
        if drill.get("result"):
            BACKUP_VERIFIED.labels(namespace, name).set(1 if drill["result"] == "Verified" else 0)
        verified_at = _unix_time(drill.get("lastVerifiedTime"))
        if verified_at is not None:
            LAST_VERIFIED.labels(namespace, name).set(verified_at)
        if refresh_schedule:
            # a schedule the CRD would not admit leaves nothing to compare with
            with contextlib.suppress(ValueError):
                REFRESH_INTERVAL.labels(namespace, name).set(widest_gap_seconds(refresh_schedule))


def _remove(gauge: Gauge, *labels: str) -> None:
    with contextlib.suppress(KeyError):
        gauge.remove(*labels)


def _unix_time(text: str | None) -> float | None:
    try:
        return datetime.fromisoformat(text).timestamp() if text else None
    except ValueError:
        return None


def serve(port: int) -> None:
    start_http_server(port)

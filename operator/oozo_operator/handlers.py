"""kopf handlers: thin. They name the corpus to reconcile and hand over to reconcile.run.

- RagCorpus create/update/resume → reconcile (one function for all three).
- Jobs, Pods, Deployments labelled managed-by=oozo → reconcile their corpus (by the instance
  label), so a finished build or a finished rollout reaches the parent's status.
- RagCorpus events whose rag.oozo.dev/reindex-requested-at annotation changed → reconcile (kopf's
  update handler does not see annotations under the operator's own prefix).
- No delete handler and no timers/daemons: kopf adds a finalizer only for those, and children
  go by ownerReferences, so a RagCorpus deletes without waiting for the operator.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from typing import Any

import kopf
from kubernetes.client.rest import ApiException

from oozo_operator import metrics, observe, passes
from oozo_operator import reconcile as R
from oozo_operator.api.crd import GROUP, PLURAL, VERSION
from oozo_operator.config import OperatorSettings
from oozo_operator.kube import shared
from oozo_operator.outcome import Outcome
from oozo_operator.render import labels as L
from oozo_operator.render.corpus import REINDEX_ANNOTATION

log = logging.getLogger("oozo.handlers")
SETTINGS = OperatorSettings()
CHILD_LABELS: dict[str, Any] = {L.MANAGED_BY: L.MANAGER, L.INSTANCE: kopf.PRESENT}
# The same filter as a server-side label selector (main.configure puts it on the watches).
CHILD_SELECTOR = f"{L.MANAGED_BY}={L.MANAGER},{L.INSTANCE}"
CHILD_RESOURCES = (("batch", "v1", "jobs"), ("apps", "v1", "deployments"), ("v1", "pods"))


def reconcile_named(namespace: str, name: str, trigger: str, full: bool = True) -> Outcome | None:
    start = time.monotonic()
    try:
        outcome = R.run(shared(), namespace, name, SETTINGS, full)
    except Exception as err:
        metrics.ERRORS.labels(error=type(err).__name__).inc()
        metrics.RECONCILES.labels(trigger=trigger, result="error").inc()
        raise
    finally:
        metrics.DURATION.observe(time.monotonic() - start)
    metrics.RECONCILES.labels(trigger=trigger, result="ok").inc()
    if outcome is None:
        metrics.observe_ready(namespace, name, None)
        metrics.observe_corpus(namespace, name, None)
        return None
    if outcome.changed:
        metrics.STATUS_WRITES.inc()
    ready = next(
        (c["status"] for c in outcome.status.get("conditions", []) if c["type"] == "Ready"), "Unknown"
    )
    metrics.observe_ready(namespace, name, ready)
    metrics.observe_corpus(namespace, name, outcome.status, outcome.refresh_schedule)
    for cond in outcome.transitions:
        log.info(
            "%s/%s %s=%s %s: %s",
            namespace,
            name,
            cond["type"],
            cond["status"],
            cond["reason"],
            cond["message"],
        )
    return outcome


@kopf.on.resume(GROUP, VERSION, PLURAL)
@kopf.on.create(GROUP, VERSION, PLURAL)
@kopf.on.update(GROUP, VERSION, PLURAL)
def corpus_changed(namespace: str | None, name: str, reason: str, **_: Any) -> None:
    assert namespace, "RagCorpus is namespaced"
    try:
        reconcile_named(namespace, name, str(reason))
    except ApiException as err:
        # kopf retries with backoff; a temporary API error is not worth a stack trace.
        raise kopf.TemporaryError(f"API error {err.status}: {err.reason}", delay=5) from err


@kopf.on.delete(GROUP, VERSION, PLURAL, optional=True)
def corpus_deleted(namespace: str | None, name: str, **_: Any) -> None:
    """optional=True: no finalizer is added for it; it only forgets in-memory state."""
    metrics.observe_ready(namespace or "", name, None)
    metrics.observe_corpus(namespace or "", name, None)
    passes.forget(namespace or "", name)


_seen: dict[str, str] = {}  # child uid → fingerprint of its last reconciled state
_seen_lock = threading.Lock()


def _changed(event: kopf.RawEvent, kind: str) -> bool:
    """True when this event can change the parent's status (see observe.fingerprint)."""
    body = event.get("object") or {}
    uid = (body.get("metadata") or {}).get("uid", "")
    with _seen_lock:
        if event.get("type") == "DELETED":
            _seen.pop(uid, None)
            return True
        new = observe.fingerprint(kind, body)
        # A child first seen without any status (just created, by the pass that already
        # accounts for it) has nothing to report yet.
        before = _seen.get(uid) or observe.fingerprint(kind, {**body, "status": {}})
        if before == new:
            _seen[uid] = new
            return False
        _seen[uid] = new
        return True


def _child_event(event: kopf.RawEvent, labels: Mapping[str, str], namespace: str | None, kind: str) -> None:
    instance = labels.get(L.INSTANCE)
    changed = _changed(event, kind)
    # type None is the initial listing at start-up: the resume handler reconciles every corpus.
    if not instance or not namespace or event.get("type") is None:
        return
    if not changed:
        metrics.RECONCILES.labels(trigger=f"{kind}-event", result="skipped").inc()
        return
    try:
        done = passes.coalesced(
            namespace, instance, lambda: reconcile_named(namespace, instance, f"{kind}-event", full=False)
        )
        if done == passes.COALESCED:
            metrics.RECONCILES.labels(trigger=f"{kind}-event", result="coalesced").inc()
    except ApiException as err:
        log.warning(
            "reconcile of %s/%s after a %s event failed: %s %s",
            namespace,
            instance,
            kind,
            err.status,
            (err.body or "")[:300],
        )


@kopf.on.event("batch", "v1", "jobs", labels=CHILD_LABELS)
def job_event(event: kopf.RawEvent, labels: Mapping[str, str], namespace: str | None, **_: Any) -> None:
    _child_event(event, labels, namespace, "job")


@kopf.on.event("apps", "v1", "deployments", labels=CHILD_LABELS)
def deployment_event(
    event: kopf.RawEvent, labels: Mapping[str, str], namespace: str | None, **_: Any
) -> None:
    _child_event(event, labels, namespace, "deployment")


@kopf.on.event("v1", "pods", labels=CHILD_LABELS)
def pod_event(event: kopf.RawEvent, labels: Mapping[str, str], namespace: str | None, **_: Any) -> None:
    _child_event(event, labels, namespace, "pod")


# The reindex annotation is under the operator's own prefix, which kopf's diff base leaves out of
# an object's essence (it holds kopf's own state there): setting it fires no update handler. The
# raw RagCorpus events do see it; a value that changed since the last event starts a full pass,
# whose index hash includes it (render/corpus.py). The first event after a start only records the
# value: the resume handler reconciles every corpus then anyway.
_reindex_seen: dict[str, str | None] = {}


@kopf.on.event(GROUP, VERSION, PLURAL)
def reindex_requested(
    event: kopf.RawEvent, name: str | None, namespace: str | None, uid: str | None, **_: Any
) -> None:
    meta = (event.get("object") or {}).get("metadata") or {}
    if not (name and namespace and uid) or event.get("type") == "DELETED":
        _reindex_seen.pop(uid or "", None)
        return
    value = (meta.get("annotations") or {}).get(REINDEX_ANNOTATION)
    first, before = uid not in _reindex_seen, _reindex_seen.get(uid)
    _reindex_seen[uid] = value
    if first or before == value:
        return
    try:
        reconcile_named(namespace, name, "reindex-requested")
    except ApiException as err:
        _reindex_seen[uid] = before  # the next event of the corpus tries again
        log.warning("reconcile of %s/%s for a reindex request failed: %s", namespace, name, err.status)

"""Act: the writes of a reconcile pass — its planned applies, creates and deletes, the status
merge patch, and the Kubernetes Events that tell a corpus's story."""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

from kubernetes.client.rest import ApiException

from oozo_operator import conditions as C
from oozo_operator.api.crd import KIND
from oozo_operator.gather import API_VERSION
from oozo_operator.kube import Kube
from oozo_operator.outcome import Outcome
from oozo_operator.plan import Apply, Create, Delete, Write

log = logging.getLogger("oozo.reconcile")


def now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def apply_writes(kube: Kube, writes: tuple[Write, ...]) -> tuple[C.Problem, ...]:
    """Carry out the writes in order; returns the applies the API server refused.

    A 4xx refusal of an apply (e.g. shrinking a PVC) is a problem for a human, not something to
    retry forever: the remaining writes still go ahead. 5xx and connection errors propagate,
    and kopf retries the whole pass."""
    refused = []
    for write in writes:
        if isinstance(write, Apply):
            try:
                kube.apply(write.obj)
            except ApiException as err:
                if err.status not in (400, 403, 409, 422):
                    raise
                name = f"{write.obj['kind']} {write.obj['metadata']['name']}"
                refused.append(C.Problem("ApplyRefused", f"{name} refused by the API server: {_reason(err)}"))
        elif isinstance(write, Create):
            kube.create(write.obj)
        elif isinstance(write, Delete):
            kube.delete(write.api_version, write.kind, write.namespace, write.name)
    return tuple(refused)


def write_status(kube: Kube, body: dict[str, Any], outcome: Outcome) -> None:
    """Patch the status and post an Event for each condition flip worth telling."""
    meta = body["metadata"]
    kube.patch_status(meta["namespace"], meta["name"], outcome.status)
    seen = {c.get("type") for c in (body.get("status") or {}).get("conditions") or []}
    for cond in outcome.transitions:
        # Events tell the story: flips, and conditions that first appear True. The first
        # "Stalled=False" or "Ready=False" of a new corpus would only be noise.
        if cond["type"] in seen or cond["status"] == "True" or cond["type"] == C.BACKUP_SUCCEEDED:
            _event(kube, body, cond)


def _reason(err: ApiException) -> str:
    try:
        return str(json.loads(err.body or "{}").get("message", err.reason))[:1000]
    except (ValueError, TypeError, AttributeError):
        return str(err.reason)


def _event(kube: Kube, body: dict[str, Any], cond: dict[str, Any]) -> None:
    """A Kubernetes Event for a condition flip, e.g. `Ready True Serving: serving index …`."""
    meta = body["metadata"]
    warning = (
        (cond["type"] == C.STALLED and cond["status"] == "True")
        or (cond["type"] == C.INDEX_READY and cond["reason"] == "IndexBuildFailed")
        or (cond["type"] == C.BACKUP_SUCCEEDED and cond["status"] == "False")
    )
    if cond["type"] == C.RECONCILING:
        return  # the other three tell the story; this one would double every event
    stamp = now()
    event = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"generateName": f"{meta['name']}.", "namespace": meta["namespace"]},
        "involvedObject": {
            "apiVersion": API_VERSION,
            "kind": KIND,
            "name": meta["name"],
            "namespace": meta["namespace"],
            "uid": meta["uid"],
        },
        "type": "Warning" if warning else "Normal",
        "reason": cond["reason"],
        "message": f"{cond['type']}={cond['status']}: {cond['message']}"[:1024],
        "source": {"component": "oozo-operator"},
        "reportingComponent": "rag.oozo.dev/oozo-operator",
        "reportingInstance": "oozo-operator",
        "firstTimestamp": stamp,
        "lastTimestamp": stamp,
        "count": 1,
    }
    try:
        kube.request("POST", f"/api/v1/namespaces/{meta['namespace']}/events", event)
    except ApiException as err:  # events are best effort
        log.warning("could not post event: %s", err.status)

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
# Stalled reason of a child whose kind the API server does not serve (main.RECHECK retries it).
RESOURCE_NOT_SERVED = "ResourceNotServed"


def now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def apply_writes(kube: Kube, writes: tuple[Write, ...], owner_uid: str) -> tuple[C.Problem, ...]:
    """Carry out the writes in order; returns the problems they met: applies the API server
    refused, and children whose name an object of someone else's holds.

    A 4xx refusal of an apply (e.g. shrinking a PVC) is a problem for a human, not something to
    retry forever: the remaining writes still go ahead. 5xx and connection errors propagate,
    and kopf retries the whole pass.

    Ownership is checked here, just before each write, with one metadata-only read of the very
    object about to be written (a light pass reads nothing for the children it does not
    write), rather than by gathering every child's ownerReferences for plan: that would cost a
    light pass nine reads it does not need. Server-side apply without force would not protect
    a foreign object either: its fields have other managers only where they were set, and
    ownerReferences would still be added. The check leaves one race, a foreign object created
    between the read and the apply; deletes close theirs with a uid precondition."""
    problems = []
    for write in writes:
        if isinstance(write, Apply):
            meta = write.obj["metadata"]
            kind = write.obj["kind"]
            found = kube.metadata(write.obj["apiVersion"], kind, meta["namespace"], meta["name"])
            if found is not None and not owned_by(found, owner_uid):
                problems.append(name_conflict(kind, meta["name"]))
                continue
            try:
                kube.apply(write.obj)
            except ApiException as err:
                if err.status not in (400, 403, 404, 409, 422):
                    raise
                name = f"{kind} {meta['name']}"
                if err.status == 404:
                    # An apply into the corpus's own namespace finds nothing only when the API
                    # server does not serve the kind (yet): an HTTPRoute before the Gateway API
                    # CRDs are installed, or in the seconds after. It fixes itself, so the
                    # recheck sweep (main.RECHECK) tries again.
                    why = f"the API server does not serve {kind} ({write.obj['apiVersion']}); install its CRD"
                    problems.append(C.Problem(RESOURCE_NOT_SERVED, f"{name} not applied: {why}"))
                    continue
                problems.append(
                    C.Problem("ApplyRefused", f"{name} refused by the API server: {_reason(err)}")
                )
        elif isinstance(write, Create):
            # Create-once objects (Jobs with deterministic names, the generated key Secret):
            # an existing one (409) is kept only if it is ours, never adopted.
            if not kube.create(write.obj):
                meta = write.obj["metadata"]
                found = kube.metadata(
                    write.obj["apiVersion"], write.obj["kind"], meta["namespace"], meta["name"]
                )
                if found is not None and not owned_by(found, owner_uid):
                    problems.append(name_conflict(write.obj["kind"], meta["name"]))
        elif isinstance(write, Delete):
            found = kube.metadata(write.api_version, write.kind, write.namespace, write.name)
            if found is None:
                continue
            if not owned_by(found, owner_uid):
                # The spec no longer wants this child, so a foreign object of that name is no
                # conflict: it is left alone, and the corpus is not stalled by it.
                log.info("%s %s/%s is not ours: not deleted", write.kind, write.namespace, write.name)
                continue
            kube.delete(write.api_version, write.kind, write.namespace, write.name, uid=found["uid"])
    return tuple(problems)


def owned_by(metadata: dict[str, Any], owner_uid: str) -> bool:
    """Does this object's controller ownerReference point at the corpus with `owner_uid`?
    Another owner, a non-controller reference or none at all: not ours."""
    return any(
        ref.get("uid") == owner_uid and ref.get("controller") is True
        for ref in metadata.get("ownerReferences") or []
    )


def name_conflict(kind: str, name: str) -> C.Problem:
    return C.Problem(
        "NameConflict",
        f"{kind} {name} exists and is not owned by this RagCorpus: Oozo does not adopt or "
        "change it; delete or rename it, or rename the corpus",
    )


# A failed backup or restore drill is news even the first time: an Event, and a Warning.
BACKUP_CONDITIONS = (C.BACKUP_SUCCEEDED, C.BACKUP_VERIFIED)


def write_status(kube: Kube, body: dict[str, Any], outcome: Outcome) -> None:
    """Patch the status and post an Event for each condition flip worth telling."""
    meta = body["metadata"]
    kube.patch_status(meta["namespace"], meta["name"], outcome.status)
    seen = {c.get("type") for c in (body.get("status") or {}).get("conditions") or []}
    for cond in outcome.transitions:
        # Events tell the story: flips, and conditions that first appear True. The first
        # "Stalled=False" or "Ready=False" of a new corpus would only be noise.
        if cond["type"] in seen or cond["status"] == "True" or cond["type"] in BACKUP_CONDITIONS:
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
        or (cond["type"] in BACKUP_CONDITIONS and cond["status"] == "False")
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

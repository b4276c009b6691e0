"""One idempotent reconcile of one RagCorpus: render, apply, observe, compute status.

Called for create/update/resume of the RagCorpus and for every event of one of its children,
always with a fresh read of the object, under a per-corpus lock: the same pass from any trigger,
never two at once for one corpus. Deterministic child names make every step safe to repeat:
a restarted operator finds the Job it created, it does not start a second one.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kubernetes.client.rest import ApiException
from pydantic import ValidationError

from oozo_operator import conditions as C
from oozo_operator import observe, passes
from oozo_operator.api.crd import GROUP, KIND, VERSION
from oozo_operator.config import OperatorSettings
from oozo_operator.kube import Kube
from oozo_operator.render import (
    backup,
    configmap,
    cronjob,
    deployment,
    hpa,
    job,
    pdb,
    pvc,
    restore,
    secret,
    service,
)
from oozo_operator.render import labels as L
from oozo_operator.render.corpus import Corpus

log = logging.getLogger("oozo.reconcile")
API_VERSION = f"{GROUP}/{VERSION}"


@dataclass
class Outcome:
    status: dict[str, Any]
    changed: bool
    transitions: list[dict[str, Any]] = field(default_factory=list)


def now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def run(
    kube: Kube, namespace: str, name: str, settings: OperatorSettings, full: bool = True
) -> Outcome | None:
    """Reconcile one corpus by name; None when it is gone or being deleted (GC does the rest)."""
    with passes.lock_for(namespace, name):
        body = kube.get(API_VERSION, KIND, namespace, name)
        if body is None or body["metadata"].get("deletionTimestamp"):
            return None
        outcome = reconcile(kube, body, settings, full)
        if outcome.changed:
            kube.patch_status(namespace, name, outcome.status)
            seen = {c.get("type") for c in (body.get("status") or {}).get("conditions") or []}
            for cond in outcome.transitions:
                # Events tell the story: flips, and conditions that first appear True. The first
                # "Stalled=False" or "Ready=False" of a new corpus would only be noise.
                if cond["type"] in seen or cond["status"] == "True" or cond["type"] == C.BACKUP_SUCCEEDED:
                    _event(kube, body, cond)
        return outcome


def reconcile(kube: Kube, body: dict[str, Any], settings: OperatorSettings, full: bool = True) -> Outcome:
    """One pass. `full=False` (child events) skips re-applying the children that only the spec
    shapes (PVC, Service, Secret, HPA, PDB, CronJob) once this generation has been applied in
    full: they cannot change between spec changes, and a burst of pod events should not cost
    five needless API calls each. Spec changes, resume and the re-check sweep are full passes."""
    meta = body["metadata"]
    generation = int(meta.get("generation") or 1)
    before = body.get("status") or {}
    try:
        corpus = Corpus.from_body(body, settings)
    except ValidationError as err:
        # The CRD refuses these; only an object stored under an older CRD can get here.
        problem = C.Problem("InvalidSpec", f"spec does not parse: {err.errors()[0].get('msg', err)}")
        inputs = C.Inputs(generation, "", "", published=before.get("index"), problems=(problem,))
        return _finish(before, inputs, {"observedGeneration": generation})

    problems, revision = _missing_references(kube, corpus)
    corpus = dataclasses.replace(corpus, source_revision=revision)
    unsupported = job.unsupported_source(corpus)
    if unsupported:
        problems.append(C.Problem("SourceNotSupported", unsupported))
    refused: list[C.Problem] = []
    published = before.get("index")

    stalled: dict[str, Any] = next(
        (c for c in before.get("conditions") or [] if c.get("type") == C.STALLED), {}
    )
    light = (
        not full
        and before.get("observedGeneration") == generation
        and stalled.get("reason") != "ApplyRefused"
        and (before.get("sourceRevision") or "") == corpus.source_revision
    )
    if not light:
        _apply(kube, pvc.render(corpus), refused)
        if secret.wanted(corpus):
            kube.create(secret.render(corpus, secret.new_key()))  # 409 → keep the existing key
        _apply(kube, service.render(corpus), refused)

    # spec.restore replaces the first build: only while nothing is published yet.
    restoring = restore.wanted(corpus, published)
    builds = _restores(kube, corpus) if restoring else _builds(kube, corpus)
    newest = builds[-1] if builds else None
    done = [b for b in builds if b.state == "succeeded" and b.result]
    if done and (not published or done[-1].job != published.get("job")):
        # A build reported a new version: it becomes what the server is pinned to.
        published = {**done[-1].result, "specHash": corpus.index_hash}  # type: ignore[dict-item]
    needs_build = not published or published.get("specHash") != corpus.index_hash
    if needs_build and newest is None and not problems:
        if restoring:
            kube.create(restore.render(corpus))
            newest = _restoring(observe.Build("running", restore.name(corpus)), corpus)
        else:
            kube.create(job.render(corpus))
            newest = observe.Build(
                "running",
                corpus.job_name,
                reason="Indexing",
                message=f"Job {corpus.job_name} is building the index",
            )

    model = (published or {}).get("embeddingModel")
    # A light pass re-applies the server only when it adopted a new version: otherwise the
    # ConfigMap and Deployment are exactly what the last full pass applied (SSA would no-op,
    # but each no-op is still a write request the API server has to process).
    if not light or published != before.get("index"):
        _apply(kube, configmap.render(corpus, model), refused)
        if published and published.get("version") and not problems:
            _apply(kube, deployment.render(corpus, published["version"], model), refused)
    # An optional child can only have become unwanted through a spec change not yet handled.
    may_exist = generation > 1 and before.get("observedGeneration") != generation
    if not light:
        for child in OPTIONAL_CHILDREN:
            _apply_or_delete(kube, corpus, child, refused, may_exist)

    rollout = observe.rollout_of(kube.get("apps/v1", "Deployment", corpus.namespace, corpus.name))
    pods = kube.list("v1", "Pod", corpus.namespace, {L.INSTANCE: corpus.name, L.MANAGED_BY: L.MANAGER})
    # A backup pod that cannot start (e.g. a missing credentials Secret) is a backup problem,
    # reported as BackupSucceeded=False/BackupPodCannotStart: it must not stop a serving corpus.
    is_backup = [(p["metadata"].get("labels") or {}).get(L.COMPONENT) == L.BACKUP for p in pods]
    backup_stuck = observe.pod_problems([p for p, b in zip(pods, is_backup, strict=True) if b])
    pods = [p for p, b in zip(pods, is_backup, strict=True) if not b]
    for stuck in observe.pod_problems(pods):
        problems.append(C.Problem("PodCannotStart", f"pod {stuck.pod}: {stuck.reason}: {stuck.message}"))

    inputs = C.Inputs(
        generation=generation,
        index_hash=corpus.index_hash,
        endpoint=corpus.endpoint,
        published=published,
        build=newest,
        rollout=rollout,
        problems=tuple(problems + refused),
    )
    extra: dict[str, Any] = {
        "observedGeneration": generation,  # every child of this generation was applied
        "sourceRevision": corpus.source_revision or None,
        "endpoint": corpus.endpoint,
        "index": published,
        "replicas": rollout.ready if rollout.exists else 0,
        "building": _building(newest, published),
    }
    last_backup, backup_condition = _backups(kube, corpus, before.get("lastBackup"))
    if backup_stuck:  # e.g. the credentials Secret is missing: say so now, not at the Job's deadline
        stuck = backup_stuck[0]
        backup_condition = (
            "False",
            "BackupPodCannotStart",
            f"pod {stuck.pod}: {stuck.reason}: {stuck.message}",
        )
    extra["lastBackup"] = last_backup
    return _finish(
        before, inputs, extra, {C.BACKUP_SUCCEEDED: backup_condition} if backup_condition else None
    )


def _finish(
    before: dict[str, Any],
    inputs: C.Inputs,
    extra: dict[str, Any],
    also: dict[str, tuple[str, str, str]] | None = None,
) -> Outcome:
    wanted = C.desired(inputs)
    old = before.get("conditions")
    conds = C.merge(old, wanted, inputs.generation, now(), also)
    status = {**extra, "conditions": conds}
    # Merge-patch semantics: None removes a field that was there before.
    status = {k: v for k, v in status.items() if v is not None or before.get(k) is not None}
    comparable = {k: v for k, v in status.items() if v is not None}
    changed = any(before.get(k) != v for k, v in comparable.items()) or any(
        v is None and before.get(k) is not None for k, v in status.items()
    )
    return Outcome(status=status, changed=changed, transitions=C.flips(old, conds) if changed else [])


def _building(newest: observe.Build | None, published: dict[str, Any] | None) -> dict[str, Any] | None:
    if newest is None or newest.state not in ("running", "failing"):
        return None
    if published and newest.job == published.get("job"):
        return None
    return {"job": newest.job}


def _backups(
    kube: Kube, corpus: Corpus, last: dict[str, Any] | None
) -> tuple[dict[str, Any] | None, tuple[str, str, str] | None]:
    """status.lastBackup and BackupSucceeded from the newest finished backup Job. None for the
    condition when there is nothing (new) to say: the previous one is kept, and so is
    lastBackup after the Job's TTL removed it. Pods are read only for a Job not read before."""
    jobs = kube.list("batch/v1", "Job", corpus.namespace, {L.INSTANCE: corpus.name, L.COMPONENT: L.BACKUP})
    jobs.sort(key=lambda j: (j["metadata"].get("creationTimestamp", ""), j["metadata"]["name"]))
    for j in reversed(jobs):
        name = j["metadata"]["name"]
        if last and last.get("job") == name:
            return last, None  # the newest finished one is already in status
        pods = kube.list("v1", "Pod", corpus.namespace, {"batch.kubernetes.io/job-name": name})
        run = observe.backup_of(j, pods, backup.CONTAINER)
        if run is None:
            continue  # still running (or retrying): look at the one before
        if run.ok:
            return run.result, ("True", run.reason, run.message)
        return last, ("False", run.reason, run.message)
    return last, None


def _restoring(build: observe.Build, corpus: Corpus) -> observe.Build:
    if build.state != "running":
        return build
    message = f"Job {build.job} is restoring {restore.restore_uri(corpus)}"
    return dataclasses.replace(build, reason="Restoring", message=message)


def _restores(kube: Kube, corpus: Corpus) -> list[observe.Build]:
    """The restore Job of the current spec.restore, read like a build (at most one)."""
    labels = {
        L.INSTANCE: corpus.name,
        L.COMPONENT: L.RESTORE,
        restore.RESTORE_HASH: restore.restore_hash(corpus),
    }
    out = []
    for j in kube.list("batch/v1", "Job", corpus.namespace, labels):
        pods = kube.list(
            "v1", "Pod", corpus.namespace, {"batch.kubernetes.io/job-name": j["metadata"]["name"]}
        )
        out.append(_restoring(observe.build_of(j, pods, restore.CONTAINER), corpus))
    return out[-1:]


def _builds(kube: Kube, corpus: Corpus) -> list[observe.Build]:
    """Builds for the current index hash (the Job and any refresh Jobs), oldest first. Pods
    are read only for the newest Job and the newest finished one: that is all status needs."""
    jobs = kube.list(
        "batch/v1",
        "Job",
        corpus.namespace,
        {L.INSTANCE: corpus.name, L.COMPONENT: L.INDEX, L.INDEX_HASH: corpus.index_hash},
    )
    jobs.sort(key=lambda j: (j["metadata"].get("creationTimestamp", ""), j["metadata"]["name"]))
    builds = []
    for i, j in enumerate(jobs):
        finished = (j.get("status") or {}).get("succeeded") or (j.get("status") or {}).get("failed")
        if i == len(jobs) - 1 or finished:
            pods = kube.list(
                "v1", "Pod", corpus.namespace, {"batch.kubernetes.io/job-name": j["metadata"]["name"]}
            )
        else:
            pods = []
        builds.append(observe.build_of(j, pods, job.CONTAINER))
    return builds


def _missing_references(kube: Kube, corpus: Corpus) -> tuple[list[C.Problem], str]:
    """Referenced objects that do not exist, and the resourceVersion of a source ConfigMap.
    Every read is metadata-only (PartialObjectMetadata): the operator never reads a Secret's
    data, and needs no document bytes to notice that a ConfigMap changed."""
    refs: list[tuple[str, str, str]] = []  # (kind, name, field)
    spec = corpus.spec
    if spec.generation.provider == "openai" and spec.generation.api_key_secret_ref:
        refs.append(("Secret", spec.generation.api_key_secret_ref.name, "spec.generation.apiKeySecretRef"))
    auth_ref = spec.runtime.auth.api_key_secret_ref
    if spec.runtime.auth.enabled and auth_ref and auth_ref.name:
        refs.append(("Secret", auth_ref.name, "spec.runtime.auth.apiKeySecretRef"))
    if spec.source.config_map:
        refs.append(("ConfigMap", spec.source.config_map.name, "spec.source.configMap"))
    if spec.source.pvc:
        refs.append(("PersistentVolumeClaim", spec.source.pvc.claim_name, "spec.source.pvc"))
    problems, source_revision = [], ""
    for kind, ref_name, where in refs:
        found = kube.revision("v1", kind, corpus.namespace, ref_name)
        if found == "":
            problems.append(C.Problem(f"{kind}NotFound", f"{kind} {ref_name} ({where}) not found"))
        elif found and kind == "ConfigMap":
            source_revision = found
    return problems, source_revision


def source_revision_changed(kube: Kube, body: dict[str, Any]) -> bool:
    """For the re-check sweep: has the source ConfigMap changed since the last pass?"""
    source = ((body.get("spec") or {}).get("source") or {}).get("configMap") or {}
    if not source.get("name"):
        return False
    found = kube.revision("v1", "ConfigMap", body["metadata"]["namespace"], source["name"])
    return bool(found) and found != ((body.get("status") or {}).get("sourceRevision") or "")


def _apply(kube: Kube, obj: dict[str, Any], refused: list[C.Problem]) -> None:
    """Server-side apply; a 4xx refusal (e.g. shrinking a PVC) is a problem for a human, not
    something to retry forever. 5xx and connection errors propagate: kopf retries those."""
    try:
        kube.apply(obj)
    except ApiException as err:
        if err.status in (400, 403, 409, 422):
            name = f"{obj['kind']} {obj['metadata']['name']}"
            refused.append(C.Problem("ApplyRefused", f"{name} refused by the API server: {_reason(err)}"))
            return
        raise


@dataclass(frozen=True)
class OptionalChild:
    """A child the spec may or may not ask for: applied when wanted, deleted when it may exist."""

    wanted: Callable[[Corpus], bool]
    render: Callable[[Corpus], dict[str, Any]]
    api_version: str
    kind: str
    name: Callable[[Corpus], str]


OPTIONAL_CHILDREN = (
    OptionalChild(hpa.wanted, hpa.render, "autoscaling/v2", "HorizontalPodAutoscaler", lambda c: c.name),
    OptionalChild(pdb.wanted, pdb.render, "policy/v1", "PodDisruptionBudget", lambda c: c.name),
    OptionalChild(cronjob.wanted, cronjob.render, "batch/v1", "CronJob", cronjob.name),
    OptionalChild(backup.wanted, backup.render, "batch/v1", "CronJob", backup.name),
)


def _apply_or_delete(
    kube: Kube, corpus: Corpus, child: OptionalChild, refused: list[C.Problem], may_exist: bool
) -> None:
    if child.wanted(corpus):
        _apply(kube, child.render(corpus), refused)
    elif may_exist:
        kube.delete(child.api_version, child.kind, corpus.namespace, child.name(corpus))


def _reason(err: ApiException) -> str:
    import json

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

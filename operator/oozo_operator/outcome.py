"""The status one reconcile pass writes, from its plan, what its writes met and what runs after
them (pure: the clock comes in as `now`).

Status is a merge patch: a field set to None removes what an earlier pass wrote, and a pass
whose status equals the stored one writes nothing (`changed` is False).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from oozo_operator import conditions as C
from oozo_operator import drill, observe, observe_backup
from oozo_operator.api.status import BACKUPS_KEPT
from oozo_operator.gather import Workloads
from oozo_operator.plan import Plan
from oozo_operator.render import labels as L


@dataclass
class Outcome:
    status: dict[str, Any]
    changed: bool
    transitions: list[dict[str, Any]] = field(default_factory=list)  # conditions that flipped
    refresh_schedule: str | None = None  # spec.refresh.schedule, for the stale-index metric


def settle(plan: Plan, workloads: Workloads, refused: tuple[C.Problem, ...], now: str) -> Outcome:
    """`refused`: the applies the API server refused with a 4xx (see act.apply_writes)."""
    before, generation, corpus = plan.observed.status, plan.observed.generation, plan.corpus
    published, rollout = plan.published, workloads.rollout

    # A backup or drill pod that cannot start (e.g. a missing credentials Secret) is a backup
    # problem, reported as BackupSucceeded or BackupVerified False: it must not stop a serving corpus.
    def component(p: dict[str, Any]) -> str | None:
        return (p["metadata"].get("labels") or {}).get(L.COMPONENT)

    backup_pods = [p for p in workloads.pods if component(p) == L.BACKUP]
    drill_pods = [p for p in workloads.pods if component(p) == L.VERIFY]
    other_pods = [p for p in workloads.pods if component(p) not in (L.BACKUP, L.VERIFY)]
    pod_problems = tuple(
        C.Problem("PodCannotStart", f"pod {stuck.pod}: {stuck.reason}: {stuck.message}")
        for stuck in observe.pod_problems(other_pods)
    )
    inputs = C.Inputs(
        generation=generation,
        index_hash=corpus.index_hash,
        endpoint=corpus.endpoint,
        published=published,
        build=plan.build,
        rollout=rollout,
        problems=plan.problems + pod_problems + refused,
    )
    last_backup, backup_condition = backup_status(workloads.new_backup, before.get("lastBackup"))
    backups = backup_history(last_backup, before.get("backups"))
    backup_stuck = observe.pod_problems(backup_pods)
    if backup_stuck:  # e.g. the credentials Secret is missing: say so now, not at the Job's deadline
        stuck = backup_stuck[0]
        backup_condition = (
            "False",
            "BackupPodCannotStart",
            f"pod {stuck.pod}: {stuck.reason}: {stuck.message}",
        )
    last_verified, verified_condition = drill.verified_status(
        workloads.new_drill, before.get("lastVerifiedBackup")
    )
    drill_stuck = observe.pod_problems(drill_pods)
    if drill_stuck:
        verified_condition = drill.pod_cannot_start(drill_stuck[0])
    fields: dict[str, Any] = {
        "observedGeneration": generation,  # every child of this generation was applied
        "sourceRevision": corpus.source_revision or (published or {}).get("sourceRevision"),
        "endpoint": corpus.endpoint,
        "index": published,
        "replicas": rollout.ready if rollout.exists else 0,
        "building": _building(plan.build, published),
        "lastBackup": last_backup,
        "backups": backups,
        "lastVerifiedBackup": last_verified,
    }
    also = {C.BACKUP_SUCCEEDED: backup_condition} if backup_condition else {}
    if verified_condition:
        also[drill.BACKUP_VERIFIED] = verified_condition
    outcome = _finish(before, inputs, fields, now, also)
    outcome.refresh_schedule = corpus.spec.refresh.schedule if corpus.spec.refresh else None
    return outcome


def invalid_spec(body: dict[str, Any], err: ValidationError, now: str) -> Outcome:
    """The CRD refuses such a spec; only an object stored under an older CRD can get here."""
    generation = int(body["metadata"].get("generation") or 1)
    before = body.get("status") or {}
    problem = C.Problem("InvalidSpec", f"spec does not parse: {err.errors()[0].get('msg', err)}")
    inputs = C.Inputs(generation, "", "", published=before.get("index"), problems=(problem,))
    return _finish(before, inputs, {"observedGeneration": generation}, now)


def refused_by_policy(body: dict[str, Any], problems: tuple[C.Problem, ...], now: str) -> Outcome:
    """The spec breaks the corpus policy: Stalled, and nothing was written (see policy.py).
    Children of an earlier, allowed generation are left as they are, still serving."""
    generation = int(body["metadata"].get("generation") or 1)
    before = body.get("status") or {}
    inputs = C.Inputs(generation, "", "", published=before.get("index"), problems=problems)
    return _finish(before, inputs, {"observedGeneration": generation}, now)


def backup_status(
    new_backup: observe_backup.BackupRun | None, last: dict[str, Any] | None
) -> tuple[dict[str, Any] | None, tuple[str, str, str] | None]:
    """status.lastBackup and BackupSucceeded. None for the condition when there is nothing new
    to say: the previous one is kept, and so is lastBackup after the Job's TTL removed it."""
    if new_backup is None:
        return last, None
    if new_backup.ok:
        return new_backup.result, ("True", new_backup.reason, new_backup.message)
    return last, ("False", new_backup.reason, new_backup.message)


def backup_history(
    last: dict[str, Any] | None, before: list[dict[str, Any]] | None
) -> list[dict[str, Any]] | None:
    """status.backups: lastBackup followed by the earlier ones, newest first, at most
    BACKUPS_KEPT. A status written before the list existed starts it from its lastBackup."""
    history = [b for b in before or [] if b.get("job") != (last or {}).get("job")]
    if last is None:
        return before
    return [last, *history][:BACKUPS_KEPT]


def _finish(
    before: dict[str, Any],
    inputs: C.Inputs,
    fields: dict[str, Any],
    now: str,
    also: dict[str, tuple[str, str, str]] | None = None,
) -> Outcome:
    wanted = C.desired(inputs)
    old = before.get("conditions")
    conds = C.merge(old, wanted, inputs.generation, now, also)
    status = {**fields, "conditions": conds}
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

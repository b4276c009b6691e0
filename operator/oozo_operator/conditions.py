"""The one place that decides the RagCorpus conditions, from gathered inputs (pure).

kstatus reads them in this order: Reconciling=True → InProgress, Stalled=True → Failed,
Ready=True → Current, otherwise InProgress. So exactly one of three shapes comes out:
  working  — Reconciling=True,  Stalled=False, Ready=False
  stalled  — Reconciling=False, Stalled=True,  Ready=False  (a human must act)
  ready    — Reconciling=False, Stalled=False, Ready=True
IndexReady says whether the index of the current spec is published. lastTransitionTime moves
only when a condition's status flips (cert-manager's rule), so re-computing is harmless.

One more shape, for a new version that failed the quality gate (spec.evaluation) while an older
one serves: Ready=True (the endpoint answers, from that older version), Stalled=True with reason
QualityGateFailed (only a human gets the new documents published: fix them, the questions or the
thresholds), Reconciling=False, IndexReady=False. kstatus reads it Failed, so GitOps tools report
the refused content instead of a green sync; `kubectl wait --for=condition=Ready` still says the
corpus serves."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from oozo_contract.fetch import SOURCE_FAILURES
from oozo_contract.results import QUALITY_GATE_FAILED
from oozo_operator.observe import Build, Rollout

READY, RECONCILING, STALLED, INDEX_READY = "Ready", "Reconciling", "Stalled", "IndexReady"
# Reported beside the four, never folded into Ready: a failed backup does not stop serving.
BACKUP_SUCCEEDED = "BackupSucceeded"
BACKUP_VERIFIED = "BackupVerified"  # the last restore drill (drill.py); never folded into Ready either
ORDER = (READY, RECONCILING, STALLED, INDEX_READY)


@dataclass(frozen=True)
class Problem:
    """Something only a human can fix: it makes the corpus Stalled."""

    reason: str
    message: str


@dataclass(frozen=True)
class Inputs:
    generation: int
    index_hash: str
    endpoint: str
    published: dict[str, Any] | None = None  # status.index after this pass
    build: Build | None = None  # newest build for index_hash
    rollout: Rollout = field(default_factory=lambda: Rollout(exists=False))
    problems: tuple[Problem, ...] = ()


def _index_condition(i: Inputs) -> tuple[str, str, str]:
    pub = i.published
    current = bool(pub and pub.get("specHash") == i.index_hash)
    b = i.build
    newer_failure = (
        b is not None and b.state in ("failed", "failing") and (not pub or b.job != pub.get("job"))
    )
    served = pub and (pub.get("servingVersion") or pub.get("version"))
    serving = f"; version {served} keeps serving" if served else ""
    if current and not newer_failure:
        assert pub is not None
        if pub.get("restoredFrom"):
            return (
                "True",
                "IndexPublished",
                f"version {pub.get('version')}: restored from {pub['restoredFrom']}",
            )
        return (
            "True",
            "IndexPublished",
            (
                f"version {pub.get('version')}: {pub.get('documents', 0)} documents, "
                f"{pub.get('chunks', 0)} chunks, "
                f"{pub.get('skippedDocuments', 0)} skipped"
            ),
        )
    if b and b.state == "failed":
        # A fetch that failed says where to look: SourceAuthFailed, SourceNotFound, ...; a build
        # that failed the quality gate says so, with its scores in the message.
        reason = b.reason if b.reason in SOURCE_FAILURES | {QUALITY_GATE_FAILED} else "IndexBuildFailed"
        return "False", reason, b.message + serving
    if b and b.state == "failing":
        return "False", "IndexBuildRetrying", b.message + serving
    if b and b.state == "running":
        return "False", "Indexing", b.message + serving
    return "False", "IndexPending", "waiting for the index Job to start" + serving


def desired(i: Inputs) -> dict[str, tuple[str, str, str]]:
    """type → (status, reason, message)."""
    idx_status, idx_reason, idx_message = _index_condition(i)
    problems = list(i.problems)
    if i.build and i.build.state == "failed" and idx_status == "False":
        problems.append(Problem(idx_reason, idx_message))
    if i.rollout.stuck:
        problems.append(Problem("RolloutStuck", i.rollout.stuck))
    pub = i.published or {}
    out: dict[str, tuple[str, str, str]] = {INDEX_READY: (idx_status, idx_reason, idx_message)}
    if problems:
        message = "; ".join(p.message for p in problems)
        out[STALLED] = ("True", problems[0].reason, message)
        out[READY] = ("False", problems[0].reason, message)
        out[RECONCILING] = ("False", "Stalled", "waiting for a change to the spec or to a referenced object")
        r = i.rollout
        serving = r.done and pub.get("version") and r.version == pub.get("version")
        if serving and [p.reason for p in problems] == [QUALITY_GATE_FAILED]:
            out[READY] = (
                "True",
                "Serving",
                f"serving index version {pub.get('version')} at {i.endpoint}; a newer build failed the "
                "quality gate and was not published",
            )
        return out
    out[STALLED] = ("False", "AsExpected", "no problem needs attention")
    r = i.rollout
    # What the Deployment must run: the newest version, or the pinned one (pinning.py).
    serving = pub.get("servingVersion") or pub.get("version")
    if idx_status != "True":
        reason, message = idx_reason, idx_message
    elif not r.exists or r.version != serving or not r.done:
        reason = "RollingOut"
        message = (
            f"rolling out index version {serving}: {r.updated}/{r.desired} updated, {r.available} available"
        )
    else:
        pinned = f" (pinned; the newest is {pub.get('version')})" if serving != pub.get("version") else ""
        out[READY] = ("True", "Serving", f"serving index version {serving}{pinned} at {i.endpoint}")
        out[RECONCILING] = ("False", "Reconciled", "the corpus matches its spec")
        return out
    out[READY] = ("False", reason, message)
    out[RECONCILING] = ("True", reason, message)
    return out


def merge(
    previous: list[dict[str, Any]] | None,
    wanted: dict[str, tuple[str, str, str]],
    generation: int,
    now: str,
    also: dict[str, tuple[str, str, str]] | None = None,
) -> list[dict[str, Any]]:
    """New condition list; keeps lastTransitionTime of a condition whose status did not flip,
    and conditions of other types. `also` (e.g. BackupSucceeded) sets conditions outside the
    four; one absent from it keeps its previous value."""
    before = {c.get("type"): c for c in previous or []}
    result = []
    wanted = {**wanted, **(also or {})}
    for kind in (*ORDER, *(also or {})):
        status, reason, message = wanted[kind]
        old = before.get(kind)
        since = old["lastTransitionTime"] if old and old.get("status") == status else now
        result.append(
            {
                "type": kind,
                "status": status,
                "reason": reason,
                "message": message[:32768],
                "lastTransitionTime": since,
                "observedGeneration": generation,
            }
        )
    result.extend(c for t, c in before.items() if t not in ORDER and t not in (also or {}))
    return result


def flips(previous: list[dict[str, Any]] | None, current: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Conditions whose status changed (or appeared): these become Kubernetes Events."""
    before = {c.get("type"): c.get("status") for c in previous or []}
    return [c for c in current if before.get(c["type"]) != c["status"]]

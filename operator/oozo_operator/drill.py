"""Restore drills (spec.backup.verify): a finished drill Job → status.lastVerifiedBackup and the
BackupVerified condition (pure). A drill is reported beside the four conditions and never folded
into Ready or IndexReady: a backup that does not restore is an alarm for whoever keeps the backups,
not a reason to stop serving the index that is fine."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from oozo_contract.results import VERIFIED, BackupVerifyResult
from oozo_operator import conditions as C
from oozo_operator import observe
from oozo_operator.observe import UnreadableResult, error_reason, parse_error, read_result

BACKUP_VERIFIED = C.BACKUP_VERIFIED
VERIFY_FAILED = "VerifyFailed"  # a drill Job that failed without saying why (deadline, OOM)
PASSED, FAILED = "Verified", "Failed"
# What status.lastVerifiedBackup takes from a drill's result (passed, or as far as it got).
RESULT_FIELDS = {
    "time", "uri", "version", "checksums", "documents", "chunks", "mode", "questions", "hits",
}  # fmt: skip


@dataclass(frozen=True)
class Drill:
    """The outcome of one finished drill Job."""

    job: str
    passed: bool
    reason: str
    message: str
    fields: dict[str, Any]  # status.lastVerifiedBackup's, without the verdict
    finished_at: str = ""  # the Job's end, for a drill that reported no time


def _fields(result: BackupVerifyResult) -> dict[str, Any]:
    return result.model_dump(mode="json", by_alias=True, exclude_none=True, include=RESULT_FIELDS)


def _partial(message: str | None) -> dict[str, Any]:
    """A failed drill's `verification` (what it checked before it failed), when it sent one."""
    try:
        raw = json.loads(message or "")
        partial = raw.get("verification") if isinstance(raw, dict) else None
        return _fields(BackupVerifyResult.model_validate(partial)) if isinstance(partial, dict) else {}
    except ValueError:  # not JSON, or not a result: the reason and message still say what failed
        return {}


def drill_of(job: dict[str, Any], pods: list[dict[str, Any]], container: str) -> Drill | None:
    """A finished drill Job (and its pods) → Drill; None while it runs or retries."""
    name = job["metadata"]["name"]
    finished = observe.finished_in_order(pods, container)
    status = job.get("status") or {}
    if observe.true_condition(job, "Complete") or status.get("succeeded"):
        good = [t for t in finished if t.get("exitCode") == 0]
        try:
            result = read_result(good[-1].get("message") if good else None, BackupVerifyResult)
        except UnreadableResult as exc:
            return Drill(name, False, "ResultUnreadable", f"Job {name}: unreadable drill result ({exc})", {})
        if result is None:
            return Drill(
                name, False, "NoResult", f"Job {name} succeeded without reporting a drill result", {}
            )
        what = "golden questions" if result.mode == "questions" else "sampled chunks"
        message = (
            f"backup {result.version} restored in scratch space, {result.checksums} checksums matched, "
            f"loaded {result.chunks} chunks and answered {result.hits} of {result.questions} {what}"
        )
        return Drill(name, True, VERIFIED, message, _fields(result))
    failed = observe.true_condition(job, "Failed")
    if not failed:
        return None
    bad = [t for t in finished if t.get("exitCode")]
    last = bad[-1].get("message") if bad else None
    detail = parse_error(last) or failed.get("message") or failed.get("reason", "")
    reason = error_reason(last, VERIFY_FAILED)
    when = failed.get("lastTransitionTime") or (bad[-1].get("finishedAt") if bad else "") or ""
    return Drill(name, False, reason, f"Job {name} failed: {detail}", _partial(last), when)


def verified_status(
    new: Drill | None, last: dict[str, Any] | None
) -> tuple[dict[str, Any] | None, tuple[str, str, str] | None]:
    """status.lastVerifiedBackup and BackupVerified. None for the condition when there is nothing
    new to say (the previous condition stays, as does lastVerifiedBackup after the Job's TTL).
    `lastVerifiedTime` is when a drill last passed, kept through the failures that follow."""
    if new is None:
        return last, None
    verdict = PASSED if new.passed else FAILED
    fields = {"time": new.finished_at, **new.fields} if new.finished_at else dict(new.fields)
    passed_at = fields.get("time") if new.passed else (last or {}).get("lastVerifiedTime")
    status = {
        **fields,
        "result": verdict,
        "reason": new.reason,
        "message": new.message[:4096],
        "job": new.job,
        **({"lastVerifiedTime": passed_at} if passed_at else {}),
    }
    return status, ("True" if new.passed else "False", new.reason, new.message)


def pod_cannot_start(problem: observe.PodProblem) -> tuple[str, str, str]:
    """A drill pod that cannot start (a missing Secret): BackupVerified says so at once."""
    return "False", "DrillPodCannotStart", f"pod {problem.pod}: {problem.reason}: {problem.message}"

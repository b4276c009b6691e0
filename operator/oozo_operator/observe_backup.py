"""Pure readers of a finished backup Job and its pods → the outcome status.lastBackup and the
BackupSucceeded condition report (the restore drill's Jobs read their reasons the same way:
drill.py). No I/O: gather.py fetches, these interpret."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from oozo_contract.results import BackupResult
from oozo_operator.observe import (
    UnreadableResult,
    error_reason,
    finished_in_order,
    parse_error,
    read_result,
    true_condition,
)


@dataclass(frozen=True)
class BackupRun:
    """The outcome of one finished backup Job."""

    job: str
    ok: bool
    result: dict[str, Any] | None = None  # shaped as status.lastBackup
    reason: str = ""
    message: str = ""


def last_backup_fields(result: BackupResult) -> dict[str, Any]:
    """The fields of status.lastBackup a backup reports."""
    return result.model_dump(
        mode="json",
        by_alias=True,
        exclude_none=True,
        include={"time", "uri", "sha256", "size_bytes", "version"},
    )


def backup_of(job: dict[str, Any], pods: list[dict[str, Any]], container: str = "backup") -> BackupRun | None:
    """A finished backup Job (and its pods) → BackupRun; None while it is still running."""
    name = job["metadata"]["name"]
    finished = finished_in_order(pods, container)
    if true_condition(job, "Complete") or (job.get("status") or {}).get("succeeded"):
        good = [t for t in finished if t.get("exitCode") == 0]
        try:
            result = read_result(good[-1].get("message") if good else None, BackupResult)
        except UnreadableResult as exc:
            return BackupRun(
                name,
                False,
                None,
                "ResultUnreadable",
                f"Job {name} succeeded but its termination message is not a readable backup result ({exc})",
            )
        if result is None:
            return BackupRun(
                name, False, None, "NoResult", f"Job {name} succeeded without reporting a backup result"
            )
        return BackupRun(
            name,
            True,
            {**last_backup_fields(result), "job": name},
            "BackupCompleted",
            f"backed up to {result.uri}",
        )
    failed = true_condition(job, "Failed")
    if not failed:
        return None
    bad = [t for t in finished if t.get("exitCode")]
    last = bad[-1].get("message") if bad else None
    detail = parse_error(last) or failed.get("message") or failed.get("reason", "")
    return BackupRun(name, False, None, error_reason(last, "BackupFailed"), f"Job {name} failed: {detail}")

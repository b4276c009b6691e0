"""Pure readers of a parallel build's Indexed Job (render/job.py `sharded`): which pod published,
how many shards are staged, which shard failed. observe.build_of asks these for an Indexed Job."""

from __future__ import annotations

import json
from typing import Any

from oozo_operator.render.labels import STAGING

# Set by the Job controller on every pod of an Indexed Job (and passed to it as JOB_COMPLETION_INDEX).
COMPLETION_INDEX = "batch.kubernetes.io/job-completion-index"
# Every shard succeeded and none merged: they staged different builds (docs/operator.md).
NO_MERGE = (
    "Job {job}: every shard finished but none merged: the shards saw different documents (did the "
    "source change during the build?); the next refresh or reindex builds again"
)


def merges_apart(job: dict[str, Any]) -> bool:
    """An Indexed Job whose shards stage in S3 and never publish: a merge Job does (render/job.py)."""
    labels = (job.get("metadata") or {}).get("labels") or {}
    return is_indexed(job) and labels.get(STAGING) == "s3"


def is_indexed(job: dict[str, Any]) -> bool:
    return (job.get("spec") or {}).get("completionMode") == "Indexed"


def completions(job: dict[str, Any]) -> int:
    """Pods that must succeed: spec.completions, 1 for a plain Job."""
    return max(1, int((job.get("spec") or {}).get("completions") or 1))


def publishing(finished: list[tuple[dict[str, Any], dict[str, Any]]]) -> list[tuple[dict[str, Any], Any]]:
    """Of the succeeded (terminated state, pod) pairs, those that report a build result (a
    `version`): the one shard that merged. The others report their shard (oozo_contract
    ShardResult), which is not status.index."""
    out = []
    for terminated, pod in finished:
        try:
            message = json.loads(terminated.get("message") or "")
        except ValueError:
            continue
        if isinstance(message, dict) and "version" in message:
            out.append((terminated, pod))
    return out


def count_indexes(indexes: str | None) -> int:
    """How many indexes a Job status list names: "0-2,4" → 4."""
    count = 0
    for part in (indexes or "").split(","):
        if not part.strip():
            continue
        low, _, high = part.partition("-")
        count += int(high or low) - int(low) + 1
    return count


def progress(job: dict[str, Any]) -> str:
    """E.g. "2 of 3 shards done", from the Job's status.completedIndexes."""
    shards = int((job.get("spec") or {}).get("completions") or 1)
    done = count_indexes((job.get("status") or {}).get("completedIndexes"))
    return f"{done} of {shards} shards done"


def failed(job: dict[str, Any], pods: list[dict[str, Any]], container: str) -> str:
    """The shards that failed, named by index: the Job's status.failedIndexes (per-index
    backoff), else the index of the newest pod whose container failed; "" when none did."""
    listed = (job.get("status") or {}).get("failedIndexes")
    if listed:
        return listed
    newest: tuple[str, str] | None = None
    for pod in pods:
        for status in (pod.get("status") or {}).get("containerStatuses") or []:
            state = status.get("state") or {}
            terminated = state.get("terminated") or (status.get("lastState") or {}).get("terminated")
            if status.get("name") != container or not terminated or not terminated.get("exitCode"):
                continue
            index = ((pod.get("metadata") or {}).get("annotations") or {}).get(COMPLETION_INDEX)
            when = terminated.get("finishedAt") or ""
            if index is not None and (newest is None or when > newest[0]):
                newest = (when, index)
    return newest[1] if newest else ""


def named(job: dict[str, Any], pods: list[dict[str, Any]], container: str) -> str:
    """ "shard 1 " (or "shards 0,2 ") for a message about a failure, "" when no shard is known."""
    which = failed(job, pods, container)
    if not which:
        return ""
    return f"shard {which} " if count_indexes(which) == 1 else f"shards {which} "

"""Pure readers of observed children: Jobs and their pods → build state and result,
Deployment → rollout state. No I/O: gather.py fetches, these interpret."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from pydantic import ValidationError

from oozo_contract.fetch import FetchResult
from oozo_contract.results import (
    QUALITY_GATE_FAILED,
    IndexBuildResult,
    RestoreResult,
    ResultModel,
)
from oozo_operator import shards
from oozo_operator.gate import failed_gate
from oozo_operator.render import fetch, restore
from oozo_operator.render import labels as L

BuildState = Literal["absent", "running", "failing", "succeeded", "failed"]
STATUS_SKIPPED = 20  # status.index lists the first few skipped documents; the count has them all


@dataclass(frozen=True)
class Build:
    """The newest index build for the current index hash."""

    state: BuildState
    job: str | None = None
    result: dict[str, Any] | None = None  # the Job's reported result, shaped as status.index
    reason: str = ""
    message: str = ""
    # A build that failed the quality gate: its scores, shaped as status.index.evaluation.
    evaluation: dict[str, Any] | None = None
    # Every shard of an S3-staged parallel build is staged and its merge Job does not exist
    # yet: the plan creates it (merging.py).
    merge_due: bool = False


@dataclass(frozen=True)
class Rollout:
    exists: bool
    version: str | None = None
    desired: int = 0
    updated: int = 0
    ready: int = 0
    available: int = 0
    total: int = 0
    observed: bool = False
    stuck: str = ""  # ProgressDeadlineExceeded message

    @property
    def done(self) -> bool:
        return (
            self.exists
            and self.observed
            and self.updated >= self.desired
            and self.total == self.updated
            and self.available >= min(1, self.desired)
        )


@dataclass(frozen=True)
class PodProblem:
    """A container that cannot start for a reason a human must fix (e.g. a missing Secret)."""

    pod: str
    reason: str
    message: str


def terminated(pod: dict[str, Any], container: str, init: bool = False) -> dict[str, Any] | None:
    statuses = "initContainerStatuses" if init else "containerStatuses"
    for status in (pod.get("status") or {}).get(statuses) or []:
        if status.get("name") == container:
            return (status.get("state") or {}).get("terminated") or (status.get("lastState") or {}).get(
                "terminated"
            )
    return None


ResultT = TypeVar("ResultT", bound=ResultModel)


def finished_in_order(pods: list[dict[str, Any]], container: str) -> list[dict[str, Any]]:
    """The container's terminated states across a Job's pods, the oldest first: its last
    attempt is the last one."""
    states = (t for p in pods if (t := terminated(p, container)))
    return sorted(states, key=lambda t: t.get("finishedAt") or "")


class UnreadableResult(ValueError):
    """A termination message that is not the result the runtime promises to write."""


def read_result(message: str | None, model: type[ResultT]) -> ResultT | None:
    """A Job's JSON termination message → its typed result; None when it wrote none. A message
    that does not validate raises UnreadableResult saying what is wrong with it."""
    if not message:
        return None
    try:
        return model.model_validate_json(message)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, err['loc'])) or 'message'}: {err['msg']}" for err in exc.errors()[:3]
        )
        raise UnreadableResult(problems) from None


INDEX_STATUS_FIELDS = {
    "version", "documents", "chunks", "skipped_documents", "skipped", "embedding_model",
    "model_revision", "dimensions", "size_bytes", "built_at", "build_seconds", "reused_embeddings",
    "chunks_truncated", "evaluation", "available", "vector_index",
}  # fmt: skip


def index_status(result: IndexBuildResult | RestoreResult) -> dict[str, Any]:
    """The fields of status.index a build (or a restore) reports."""
    fields = result.model_dump(mode="json", by_alias=True, exclude_none=True, include=INDEX_STATUS_FIELDS)
    if "skipped" in fields:
        fields["skipped"] = fields["skipped"][:STATUS_SKIPPED]
    if not fields.get("available"):
        fields.pop("available", None)  # a runtime older than pins lists none
    if isinstance(result, RestoreResult):
        fields["restoredFrom"] = result.uri
    return fields


def with_fetch_result(fields: dict[str, Any], pod: dict[str, Any]) -> dict[str, Any]:
    """status.index fields plus what the pod's `fetch` init container reported: the source
    revision, and the objects it skipped (named without credentials) among the skipped
    documents. A fetch message that cannot be read adds nothing: the index itself was built."""
    done = terminated(pod, fetch.CONTAINER, init=True)
    try:
        found = read_result(done.get("message"), FetchResult) if done and done.get("exitCode") == 0 else None
    except UnreadableResult:
        found = None
    if found is None:
        return fields
    out = {**fields, "sourceRevision": found.revision}
    if found.skipped_objects:
        fetched_skips = [{"document": s.name, "reason": s.reason} for s in found.skipped]
        out["skipped"] = (fetched_skips + list(fields.get("skipped") or []))[:STATUS_SKIPPED]
        out["skippedDocuments"] = int(fields.get("skippedDocuments") or 0) + found.skipped_objects
    return out


def _failures(pods: list[dict[str, Any]], container: str) -> list[tuple[dict[str, Any], bool]]:
    """Failed attempts, oldest first: (terminated state, whether it was the fetch that failed)."""
    failed = [
        (t, init)
        for p in pods
        for init, name in ((True, fetch.CONTAINER), (False, container))
        if (t := terminated(p, name, init)) and t.get("exitCode")
    ]
    return sorted(failed, key=lambda ti: ti[0].get("finishedAt") or "")


def _fetching(pods: list[dict[str, Any]]) -> bool:
    for p in pods:
        for status in (p.get("status") or {}).get("initContainerStatuses") or []:
            if status.get("name") == fetch.CONTAINER and "running" in (status.get("state") or {}):
                return True
    return False


REASON_OK = re.compile(r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$")


def error_reason(message: str | None, default: str) -> str:
    """The `reason` a failed container wrote into its termination message, when it is one a
    condition may carry; else `default`."""
    try:
        raw = json.loads(message or "")
    except ValueError:
        return default
    reason = raw.get("reason") if isinstance(raw, dict) else None
    return reason if isinstance(reason, str) and REASON_OK.match(reason) else default


def parse_error(message: str | None) -> str:
    if not message:
        return ""
    try:
        raw = json.loads(message)
    except ValueError:
        return message.strip()[-500:]  # FallbackToLogsOnError: the log tail
    if isinstance(raw, dict) and raw.get("error"):
        reason = raw.get("reason")
        return f"{raw['error']}" + (f" ({reason})" if reason else "")
    return message.strip()[-500:]


def true_condition(obj: dict[str, Any], kind: str) -> dict[str, Any] | None:
    """The object's condition of type `kind` when its status is "True" (a Job's Complete or
    Failed, a RagCorpus's Stalled), else None."""
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind and cond.get("status") == "True":
            return cond
    return None


def build_of(job: dict[str, Any], pods: list[dict[str, Any]], container: str = "index") -> Build:
    """One Job (and its pods) → Build."""
    name = job["metadata"]["name"]
    status = job.get("status") or {}
    finished = sorted(
        ((t, p) for p in pods if (t := terminated(p, container))),
        key=lambda tp: tp[0].get("finishedAt") or "",
    )
    failures = int(status.get("failed") or 0)
    # An Indexed Job (a parallel build) counts each shard's pod in `succeeded`: all must be done.
    if true_condition(job, "Complete") or int(status.get("succeeded") or 0) >= shards.completions(job):
        if shards.merges_apart(job):  # every shard staged: the merge Job publishes (merging.py)
            return Build("succeeded", name, None, "Staged", f"Job {name}: {shards.progress(job)}")
        good = [(t, p) for t, p in finished if t.get("exitCode") == 0]
        if shards.is_indexed(job):  # a parallel build: only the shard that merged published
            good = shards.publishing(good)
        message = good[-1][0].get("message") if good else None
        try:
            result: IndexBuildResult | RestoreResult | None = (
                read_result(message, RestoreResult)
                if container == restore.CONTAINER
                else read_result(message, IndexBuildResult)
            )
        except UnreadableResult as exc:
            return Build(
                "failed",
                name,
                None,
                "ResultUnreadable",
                f"Job {name} succeeded but its termination message is not a readable result ({exc}); "
                "do the operator and runtime images come from the same Oozo release?",
            )
        if result is None:
            return Build(
                "failed",
                name,
                None,
                "NoResult",
                shards.NO_MERGE.format(job=name)
                if shards.is_indexed(job)
                else f"Job {name} succeeded without reporting a result "
                "in its termination message; is the runtime image an Oozo runtime?",
            )
        fields = {**with_fetch_result(index_status(result), good[-1][1]), "job": name}
        if status.get("completionTime"):  # an unchanged refresh moves it, builtAt not
            fields["succeededAt"] = status["completionTime"]
        return Build("succeeded", name, fields)
    attempts = _failures(pods, container)
    last_error = parse_error(attempts[-1][0].get("message")) if attempts else ""
    if attempts and not attempts[-1][1]:
        gate = failed_gate(attempts[-1][0].get("message"))
        if gate is not None:  # a verdict, final at once: the Job's podFailurePolicy retries nothing
            return Build("failed", name, None, QUALITY_GATE_FAILED, f"Job {name}: {last_error}", gate)
    # A failed fetch names its reason (SourceAuthFailed, ...); the Job's own is BackoffLimitExceeded.
    source_reason = ""
    if attempts and attempts[-1][1]:
        source_reason = error_reason(attempts[-1][0].get("message"), "")
    failed = true_condition(job, "Failed")
    indexed = shards.is_indexed(job)
    shard = shards.named(job, pods, container) if indexed else ""  # "shard 1 ": which one failed
    if failed:
        detail = last_error or failed.get("message") or failed.get("reason", "")
        return Build(
            "failed",
            name,
            None,
            source_reason or failed.get("reason") or "JobFailed",
            f"Job {name} {shard}failed: {detail}",
        )
    if failures:
        return Build(
            "failing",
            name,
            None,
            "Retrying",
            f"Job {name} {shard}attempt {failures} failed: {last_error}",
        )
    if _fetching(pods):
        return Build("running", name, None, "Indexing", f"Job {name} is fetching the documents")
    done = f" ({shards.progress(job)})" if indexed else ""
    return Build("running", name, None, "Indexing", f"Job {name} is building the index{done}")


def rollout_of(deployment: dict[str, Any] | None) -> Rollout:
    if not deployment:
        return Rollout(exists=False)
    spec, status = deployment.get("spec") or {}, deployment.get("status") or {}
    annotations = ((spec.get("template") or {}).get("metadata") or {}).get("annotations") or {}
    stuck = ""
    for cond in status.get("conditions") or []:
        if cond.get("type") == "Progressing" and cond.get("reason") == "ProgressDeadlineExceeded":
            stuck = cond.get("message", "")
    return Rollout(
        exists=True,
        version=annotations.get(L.INDEX_VERSION),
        desired=int(spec.get("replicas", 1)),
        updated=int(status.get("updatedReplicas") or 0),
        ready=int(status.get("readyReplicas") or 0),
        available=int(status.get("availableReplicas") or 0),
        total=int(status.get("replicas") or 0),
        observed=int(status.get("observedGeneration") or 0)
        >= int(deployment["metadata"].get("generation") or 0),
        stuck=stuck,
    )


# Waiting reasons a kubelet reports that no amount of retrying fixes without a human.
HUMAN_REASONS = {"CreateContainerConfigError", "InvalidImageName", "ErrImagePull", "ImagePullBackOff"}


def pod_problems(pods: list[dict[str, Any]]) -> list[PodProblem]:
    found = []
    for p in pods:
        for status in (p.get("status") or {}).get("containerStatuses") or []:
            waiting = (status.get("state") or {}).get("waiting") or {}
            if waiting.get("reason") in HUMAN_REASONS:
                found.append(PodProblem(p["metadata"]["name"], waiting["reason"], waiting.get("message", "")))
    return found


def fingerprint(kind: str, body: Mapping[str, Any]) -> str:
    """What of a child's state can change the corpus's status. Child events whose fingerprint
    did not move (a finalizer added, a pod IP set, a resourceVersion bump) need no reconcile."""
    status = body.get("status") or {}
    meta = body.get("metadata") or {}
    if kind == "job":
        conds = sorted((c.get("type"), c.get("status")) for c in status.get("conditions") or [])
        parts: Any = (status.get("succeeded"), status.get("failed"), conds)
    elif kind == "deployment":
        annotations = (((body.get("spec") or {}).get("template") or {}).get("metadata") or {}).get(
            "annotations"
        )
        progressing = [
            c.get("reason") for c in status.get("conditions") or [] if c.get("type") == "Progressing"
        ]
        parts = (
            meta.get("generation"), status.get("observedGeneration"), status.get("replicas"),
            status.get("updatedReplicas"), status.get("readyReplicas"), status.get("availableReplicas"),
            (annotations or {}).get(L.INDEX_VERSION), progressing,
        )  # fmt: skip
    else:  # pod
        states = []
        for c in status.get("containerStatuses") or []:
            state = c.get("state") or {}
            waiting = (state.get("waiting") or {}).get("reason")
            states.append((c.get("name"), c.get("ready"), sorted(state), waiting))
        phase = None if status.get("phase") == "Pending" and not states else status.get("phase")
        parts = (phase, states, bool(meta.get("deletionTimestamp")))
    return json.dumps(parts, sort_keys=True, default=str)

"""Builders for tests of the reconcile plan and its status, one line each:

    observed(generation=2, status=stored(index=published("v1", "0ld")), builds=(running("docs-index-x"),))

Builds carry the reasons and messages `observe.build_of` gives the same Job states.
"""

from __future__ import annotations

from typing import Any

from oozo_operator import conditions as C
from oozo_operator.config import OperatorSettings
from oozo_operator.gather import Observed, Workloads
from oozo_operator.observe import Build, Rollout
from oozo_operator.outcome import Outcome
from oozo_operator.plan import Apply, Create, Delete, Plan
from oozo_operator.render import labels as L
from oozo_operator.render.corpus import Corpus
from tests.operator_builders import Modifier, make_corpus

NOW = "2026-01-01T00:00:00Z"
SOURCE_REVISION = "5"  # resourceVersion of the source ConfigMap docs-docs
API_KEY = "generated-key"
S3 = {
    "bucket": "oozo-backups",
    "prefix": "handbook/",
    "endpoint": "http://minio.storage:9000",
    "credentialsSecretRef": {"name": "s3-creds"},
}


def corpus(*mods: Modifier) -> Corpus:
    """A RagCorpus `docs` in namespace `ns`, parsed as the operator parses it."""
    body = make_corpus("docs", *mods, namespace="ns")
    body["metadata"]["uid"] = "uid-1"
    return Corpus.from_body(body, OperatorSettings())


def observed(
    *,
    generation: int = 1,
    status: dict[str, Any] | None = None,
    missing: tuple[C.Problem, ...] = (),
    builds: tuple[Build, ...] = (),
) -> Observed:
    return Observed(generation, status or {}, missing, SOURCE_REVISION, builds)


def stored(
    *,
    generation: int = 1,
    index: dict[str, Any] | None = None,
    stalled: str = "",
    source_revision: str = SOURCE_REVISION,
) -> dict[str, Any]:
    """The status an earlier pass wrote for `generation`; `stalled` names a Stalled reason."""
    out: dict[str, Any] = {"observedGeneration": generation, "sourceRevision": source_revision}
    if index:
        out["index"] = index
    out["conditions"] = [
        {
            "type": C.STALLED,
            "status": "True" if stalled else "False",
            "reason": stalled or "AsExpected",
            "message": stalled or "no problem needs attention",
            "lastTransitionTime": "2025-12-31T00:00:00Z",
            "observedGeneration": generation,
        }
    ]
    return out


def published(version: str, spec_hash: str, job: str | None = None) -> dict[str, Any]:
    """status.index as a pass writes it after adopting a build's result."""
    return {
        "version": version,
        "documents": 3,
        "chunks": 9,
        "embeddingModel": "all-MiniLM-L6-v2",
        "job": job or f"docs-index-{spec_hash}",
        "specHash": spec_hash,
    }


def running(job: str) -> Build:
    return Build("running", job, None, "Indexing", f"Job {job} is building the index")


def failing(job: str, attempt: int = 1) -> Build:
    return Build("failing", job, None, "Retrying", f"Job {job} attempt {attempt} failed: boom")


def failed(job: str, reason: str = "BackoffLimitExceeded") -> Build:
    return Build("failed", job, None, reason, f"Job {job} failed: boom")


def succeeded(job: str, version: str, **result: Any) -> Build:
    reported = {"version": version, "documents": 3, "chunks": 9, "embeddingModel": "all-MiniLM-L6-v2"}
    return Build("succeeded", job, {**reported, **result, "job": job})


def rolled_out(version: str, replicas: int = 1) -> Rollout:
    return Rollout(
        exists=True,
        version=version,
        desired=replicas,
        updated=replicas,
        ready=replicas,
        available=replicas,
        total=replicas,
        observed=True,
    )


def workloads(rollout: Rollout | None = None, pods: tuple[dict[str, Any], ...] = ()) -> Workloads:
    return Workloads(rollout or Rollout(exists=False), pods)


def waiting_pod(name: str, reason: str, message: str, component: str = L.SERVER) -> dict[str, Any]:
    """A pod of the corpus whose container the kubelet cannot start."""
    return {
        "metadata": {"name": name, "labels": {L.INSTANCE: "docs", L.COMPONENT: component}},
        "status": {
            "containerStatuses": [{"name": "c", "state": {"waiting": {"reason": reason, "message": message}}}]
        },
    }


def writes(plan: Plan) -> list[str]:
    """The plan's writes in order, e.g. `apply PersistentVolumeClaim docs-index`."""
    out = []
    for w in plan.writes:
        if isinstance(w, Apply | Create):
            verb = "apply" if isinstance(w, Apply) else "create"
            out.append(f"{verb} {w.obj['kind']} {w.obj['metadata']['name']}")
        elif isinstance(w, Delete):
            out.append(f"delete {w.kind} {w.name}")
    return out


def conditions(outcome: Outcome) -> dict[str, tuple[str, str, str]]:
    """type → (status, reason, message) of the status a pass writes."""
    return {c["type"]: (c["status"], c["reason"], c["message"]) for c in outcome.status["conditions"]}

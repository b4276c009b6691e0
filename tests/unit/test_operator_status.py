"""Conditions come from one pure function; the kstatus shape of each state is fixed here.
Also the readers of observed children (Job result, rollout)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from oozo_contract.results import IndexBuildResult
from oozo_operator import conditions as C
from oozo_operator.observe import (
    Build,
    Rollout,
    UnreadableResult,
    build_of,
    index_status,
    pod_problems,
    read_result,
    rollout_of,
)

PUB = {"version": "v1", "specHash": "h1", "job": "docs-index-h1", "documents": 3, "chunks": 9}
DONE = Rollout(exists=True, version="v1", desired=2, updated=2, ready=2, available=2, total=2, observed=True)


def inputs(**kw: Any) -> C.Inputs:
    return C.Inputs(**{"generation": 2, "index_hash": "h1", "endpoint": "http://docs.ns.svc/api/query", **kw})


def shape(wanted: dict[str, tuple[str, str, str]]) -> tuple[str, str, str, str]:
    return tuple(wanted[k][0] for k in (C.READY, C.RECONCILING, C.STALLED, C.INDEX_READY))  # type: ignore[return-value]


def test_indexing_reads_in_progress() -> None:
    w = C.desired(inputs(build=Build("running", "docs-index-h1", message="building")))
    assert shape(w) == ("False", "True", "False", "False")
    assert w[C.READY][1] == "Indexing"


def test_published_and_rolled_out_reads_ready() -> None:
    w = C.desired(inputs(published=PUB, rollout=DONE))
    assert shape(w) == ("True", "False", "False", "True")
    assert "v1" in w[C.READY][2] and "http://docs.ns.svc/api/query" in w[C.READY][2]


def test_published_but_rolling_out_is_still_reconciling() -> None:
    half = Rollout(exists=True, version="v1", desired=2, updated=1, available=1, total=3, observed=True)
    w = C.desired(inputs(published=PUB, rollout=half))
    assert shape(w) == ("False", "True", "False", "True") and w[C.READY][1] == "RollingOut"
    old = Rollout(exists=True, version="v0", desired=1, updated=1, available=1, total=1, observed=True)
    assert C.desired(inputs(published=PUB, rollout=old))[C.READY][1] == "RollingOut"


def test_retrying_build_keeps_reconciling_and_says_what_serves() -> None:
    w = C.desired(
        inputs(
            published={**PUB, "specHash": "h0"},
            rollout=DONE,
            build=Build("failing", "docs-index-h1", message="attempt 1 failed: boom"),
        )
    )
    assert shape(w) == ("False", "True", "False", "False")
    assert w[C.INDEX_READY][1] == "IndexBuildRetrying" and "v1 keeps serving" in w[C.INDEX_READY][2]


def test_exhausted_build_stalls() -> None:
    w = C.desired(
        inputs(
            published={**PUB, "specHash": "h0"},
            rollout=DONE,
            build=Build("failed", "docs-index-h1", message="Job failed: boom"),
        )
    )
    assert shape(w) == ("False", "False", "True", "False")
    assert w[C.STALLED][1] == "IndexBuildFailed"


def test_a_failed_refresh_after_a_good_version_is_reported() -> None:
    w = C.desired(
        inputs(published=PUB, rollout=DONE, build=Build("failed", "docs-refresh-1", message="boom"))
    )
    assert w[C.INDEX_READY][0] == "False" and w[C.STALLED][0] == "True"


def test_problems_stall_with_their_reason() -> None:
    p = C.Problem("SecretNotFound", "Secret openai (spec.generation.apiKeySecretRef) not found")
    w = C.desired(inputs(problems=(p,)))
    assert shape(w) == ("False", "False", "True", "False")
    assert w[C.STALLED][1] == "SecretNotFound" and "openai" in w[C.STALLED][2]


def test_transition_time_moves_only_on_flips() -> None:
    first = C.merge(None, C.desired(inputs(build=Build("running", "j"))), 1, "2026-01-01T00:00:00Z")
    same = C.merge(
        first, C.desired(inputs(build=Build("failing", "j", message="x"))), 2, "2026-01-01T00:05:00Z"
    )
    by = {c["type"]: c for c in same}
    assert by[C.READY]["lastTransitionTime"] == "2026-01-01T00:00:00Z"  # False → False
    assert by[C.READY]["observedGeneration"] == 2
    flipped = C.merge(same, C.desired(inputs(published=PUB, rollout=DONE)), 2, "2026-01-01T00:10:00Z")
    by = {c["type"]: c for c in flipped}
    assert by[C.READY]["lastTransitionTime"] == "2026-01-01T00:10:00Z"
    assert {c["type"] for c in C.flips(same, flipped)} == {C.READY, C.RECONCILING, C.INDEX_READY}


def test_foreign_conditions_survive() -> None:
    backup = {
        "type": "BackupSucceeded",
        "status": "True",
        "reason": "Uploaded",
        "message": "",
        "lastTransitionTime": "2026-01-01T00:00:00Z",
    }
    merged = C.merge([backup], C.desired(inputs()), 1, "2026-01-02T00:00:00Z")
    assert backup in merged


def _job(name: str, **status: Any) -> dict[str, Any]:
    return {"metadata": {"name": name, "creationTimestamp": "2026-01-01T00:00:00Z"}, "status": status}


def _pod(exit_code: int, message: str, finished: str = "2026-01-01T00:01:00Z") -> dict[str, Any]:
    term = {"exitCode": exit_code, "message": message, "finishedAt": finished}
    return {
        "metadata": {"name": "p"},
        "status": {"containerStatuses": [{"name": "index", "state": {"terminated": term}}]},
    }


RESULT = {
    "version": "20260101-ab",
    "documents": 2,
    "chunks": 7,
    "skippedDocuments": 1,
    "skipped": [{"document": "bad.docx", "reason": "not a zip"}],
    "embeddingModel": "m",
    "dimensions": 384,
    "sizeBytes": 10,
    "builtAt": "2026-01-01T00:00:00Z",
    "buildSeconds": 1.5,
    "reusedEmbeddings": 0,
}


def test_succeeded_job_reports_the_termination_message() -> None:
    b = build_of(
        _job("j", succeeded=1, conditions=[{"type": "Complete", "status": "True"}]),
        [_pod(0, json.dumps(RESULT))],
    )
    assert b.state == "succeeded" and b.result is not None
    assert b.result["version"] == "20260101-ab" and b.result["skipped"][0]["document"] == "bad.docx"
    assert b.result["job"] == "j"


def test_the_count_of_truncated_chunks_reaches_status() -> None:
    """chunksTruncated is copied into status.index; a runtime that does not count it (a remote
    model, an older image) leaves it out instead of reporting 0."""
    counted = {**RESULT, "chunksTruncated": 3}
    assert index_status(IndexBuildResult.model_validate(counted))["chunksTruncated"] == 3
    assert "chunksTruncated" not in index_status(IndexBuildResult.model_validate(RESULT))


def test_the_model_files_revision_reaches_status() -> None:
    """modelRevision (a hub commit, a digest of an s3:// or volume model) is copied into
    status.index, so a user sees which weights the serving vectors came from; the bundled model
    reports none and status leaves the field out."""
    commit = "0" * 40
    pinned = {**RESULT, "modelRevision": commit}
    assert index_status(IndexBuildResult.model_validate(pinned))["modelRevision"] == commit
    assert "modelRevision" not in index_status(IndexBuildResult.model_validate(RESULT))


def test_succeeded_job_without_a_message_is_a_failure_a_human_must_see() -> None:
    b = build_of(_job("j", succeeded=1), [_pod(0, "")])
    assert b.state == "failed" and b.reason == "NoResult"


def test_failing_and_failed_jobs_carry_the_runtime_error() -> None:
    err = json.dumps({"error": "no documents", "reason": "EmptyCorpus"})
    failing = build_of(_job("j", failed=1, active=1), [_pod(1, err)])
    assert failing.state == "failing" and "no documents (EmptyCorpus)" in failing.message
    failed = build_of(
        _job(
            "j", failed=2, conditions=[{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}]
        ),
        [_pod(1, err), _pod(1, "Traceback...\nValueError: bad", "2026-01-01T00:02:00Z")],
    )
    assert (
        failed.state == "failed"
        and "ValueError: bad" in failed.message
        and failed.reason == "BackoffLimitExceeded"
    )
    assert build_of(_job("j", active=1), []).state == "running"


def test_read_result_refuses_garbage() -> None:
    assert read_result(None, IndexBuildResult) is None and read_result("", IndexBuildResult) is None
    for garbage in ("not json", '{"error": "x"}'):
        with pytest.raises(UnreadableResult):
            read_result(garbage, IndexBuildResult)


def _finished(message: str) -> Build:
    return build_of(
        _job("j", succeeded=1, conditions=[{"type": "Complete", "status": "True"}]), [_pod(0, message)]
    )


@pytest.mark.parametrize(
    ("message", "named"),
    [
        (json.dumps(RESULT)[:-20], "Invalid JSON"),  # cut short, as by a full termination-log
        ("Traceback (most recent call last): ...", "Invalid JSON"),
        (json.dumps({**RESULT, "documents": "many"}), "documents"),
        (json.dumps({**RESULT, "version": 7}), "version"),
        (json.dumps({**RESULT, "skipped": [{"document": "a.docx"}]}), "skipped.0.reason"),
        (json.dumps({k: v for k, v in RESULT.items() if k != "chunks"}), "chunks"),
    ],
)
def test_unreadable_result_fails_the_build_with_a_clear_reason(message: str, named: str) -> None:
    b = _finished(message)
    assert b.state == "failed" and b.result is None and b.reason == "ResultUnreadable"
    assert "Job j" in b.message and named in b.message


def test_oversize_fields_are_cut_to_what_status_holds() -> None:
    skipped = [{"document": f"{n}.docx" + "x" * 5000, "reason": "r" * 5000} for n in range(50)]
    b = _finished(json.dumps({**RESULT, "version": "v" * 300, "skipped": skipped}))
    assert b.state == "succeeded" and b.result is not None
    assert b.result["version"] == "v" * 128
    assert len(b.result["skipped"]) == 20
    assert all(len(s["document"]) == 4096 and len(s["reason"]) == 4096 for s in b.result["skipped"])


def test_valid_result_becomes_the_status_fields_unchanged() -> None:
    b = _finished(json.dumps({**RESULT, "indexType": "flat", "fromANewerRuntime": True}))
    assert b.result == {**RESULT, "job": "j"}


def test_rollout_reader() -> None:
    dep: dict[str, Any] = {
        "metadata": {"generation": 3},
        "spec": {
            "replicas": 2,
            "template": {"metadata": {"annotations": {"rag.oozo.dev/index-version": "v1"}}},
        },
        "status": {
            "observedGeneration": 3,
            "updatedReplicas": 2,
            "readyReplicas": 2,
            "availableReplicas": 2,
            "replicas": 2,
        },
    }
    r = rollout_of(dep)
    assert r.done and r.version == "v1"
    assert not rollout_of({**dep, "status": {**dep["status"], "observedGeneration": 2}}).done
    assert not rollout_of(None).exists


def test_pod_problems_name_missing_secrets() -> None:
    pod = {
        "metadata": {"name": "docs-1"},
        "status": {
            "containerStatuses": [
                {
                    "name": "server",
                    "state": {
                        "waiting": {
                            "reason": "CreateContainerConfigError",
                            "message": 'secret "openai" not found',
                        }
                    },
                }
            ]
        },
    }
    [problem] = pod_problems([pod])
    assert problem.reason == "CreateContainerConfigError" and "openai" in problem.message


def test_fingerprint_ignores_noise_and_sees_what_matters() -> None:
    from oozo_operator.observe import fingerprint

    job = _job("j", active=1)
    noisy = {**job, "metadata": {**job["metadata"], "resourceVersion": "9", "finalizers": ["x"]}}
    assert fingerprint("job", job) == fingerprint("job", noisy)
    assert fingerprint("job", job) != fingerprint("job", _job("j", succeeded=1))
    pod = _pod(0, "{}")
    assert fingerprint("pod", pod) == fingerprint(
        "pod", {**pod, "status": {**pod["status"], "podIP": "10.0.0.1"}}
    )
    assert fingerprint("pod", pod) != fingerprint(
        "pod", {**pod, "status": {**pod["status"], "phase": "Running"}}
    )
    dep = {"metadata": {"generation": 1}, "spec": {}, "status": {"availableReplicas": 0}}
    assert fingerprint("deployment", dep) != fingerprint(
        "deployment", {**dep, "status": {"availableReplicas": 1}}
    )

"""Restore drills on the operator side, pure: the NAME-verify CronJob renderer, and the table of
decisions that turns a finished drill Job into status.lastVerifiedBackup and BackupVerified (which
never touches Ready or IndexReady), and the metrics that follow them."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

import pytest
from prometheus_client import REGISTRY

from oozo_contract.backup_settings import VERIFY_SCRATCH_DIR, VerifySettings
from oozo_operator import conditions as C
from oozo_operator import drill, metrics
from oozo_operator.config import OperatorSettings
from oozo_operator.outcome import settle
from oozo_operator.plan import plan
from oozo_operator.render import backup, job, pod, verify
from oozo_operator.render import labels as L
from oozo_operator.render.corpus import INDEX_DIR, Corpus
from tests.operator_builders import at, make_corpus
from tests.unit.plan_builders import (
    SOURCE_REVISION,
    conditions,
    observed,
    published,
    rolled_out,
    stored,
    succeeded,
    waiting_pod,
    workloads,
)
from tests.unit.plan_builders import corpus as plan_corpus

S3 = {
    "bucket": "oozo-backups",
    "prefix": "handbook",
    "endpoint": "http://minio:9000",
    "credentialsSecret": "s3",
}
GATE = {"questions": {"configMap": "golden", "key": "questions.yaml"}, "minHitAt5": 0.8}


def corpus_of(*mods: Any) -> Corpus:
    obj = make_corpus("docs", *mods, namespace="ns")
    obj["metadata"]["uid"] = "uid-1"
    return Corpus.from_body(obj, OperatorSettings())


def with_drill(schedule: str = "30 4 * * 0", signing: bool = False) -> Any:
    spec: dict[str, Any] = {"schedule": "0 2 * * *", "s3": S3, "verify": {"schedule": schedule}}
    if signing:
        spec["signingKeySecretRef"] = {"name": "signing", "key": "key"}
    return at("spec.backup", spec)


def container_of(cron_job: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    tpl = cron_job["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return tpl, tpl["containers"][0]


def test_a_drill_cronjob_is_rendered_only_when_spec_backup_verify_asks_for_one() -> None:
    assert verify.wanted(corpus_of(with_drill()))
    assert not verify.wanted(corpus_of(at("spec.backup", {"schedule": "0 2 * * *", "s3": S3})))
    assert not verify.wanted(corpus_of())


def test_the_drill_restores_into_scratch_space_never_the_serving_index() -> None:
    cj = verify.render(corpus_of(with_drill()))
    assert cj["metadata"]["name"] == "docs-verify"
    assert cj["metadata"]["ownerReferences"][0]["uid"] == "uid-1"
    assert cj["metadata"]["ownerReferences"][0]["controller"] is True
    assert cj["spec"]["schedule"] == "30 4 * * 0" and cj["spec"]["concurrencyPolicy"] == "Forbid"
    tpl, ctr = container_of(cj)
    assert not any("persistentVolumeClaim" in v for v in tpl["volumes"])  # no index volume at all
    assert not any(m["mountPath"] == INDEX_DIR for m in ctr["volumeMounts"])
    scratch = next(v for v in tpl["volumes"] if v["name"] == "scratch")
    assert scratch["emptyDir"] == {"sizeLimit": "2Gi"}  # the index's own size bounds it
    env = {e["name"]: e["value"] for e in ctr["env"] if "value" in e and e["name"].startswith("OOZO_")}
    settings = VerifySettings.model_validate({k.removeprefix("OOZO_").lower(): v for k, v in env.items()})
    assert settings.index_dir == VERIFY_SCRATCH_DIR
    assert any(m["mountPath"] == str(VERIFY_SCRATCH_DIR) for m in ctr["volumeMounts"])
    assert settings.restore_uri == "s3://oozo-backups/handbook"  # the newest backup
    assert settings.restore_owner == "uid-1" and settings.restore_owner_corpus == "ns/docs"
    assert settings.evaluation_questions is None
    # The server's own settings (model of the published index, retrieval mode) come from its ConfigMap.
    assert ctr["envFrom"] == [{"configMapRef": {"name": "docs-config"}}]
    assert ctr["args"] == ["verify-backup"]


def test_the_drill_pod_is_hardened_like_the_backup_pod_and_labelled_verify() -> None:
    c = corpus_of(with_drill(signing=True))
    tpl, ctr = container_of(verify.render(c))
    _, backup_ctr = container_of(backup.render(c))
    assert tpl["securityContext"] == pod.POD_SECURITY and ctr["securityContext"] == pod.CONTAINER_SECURITY
    assert tpl["automountServiceAccountToken"] is False and tpl["restartPolicy"] == "Never"
    assert ctr["terminationMessagePolicy"] == "FallbackToLogsOnError"
    secret_env = [e for e in backup_ctr["env"] if "valueFrom" in e]
    assert [e for e in ctr["env"] if "valueFrom" in e] == secret_env  # S3 credentials, signing key
    labels = verify.render(c)["spec"]["jobTemplate"]["metadata"]["labels"]
    assert labels[L.COMPONENT] == L.VERIFY and labels[L.INSTANCE] == "docs"


def test_with_golden_questions_the_drill_mounts_them_and_passes_at_the_gates_floor() -> None:
    tpl, ctr = container_of(verify.render(corpus_of(with_drill(), at("spec.evaluation", GATE))))
    assert {"name": "evaluation", "configMap": {"name": "golden"}} in tpl["volumes"]
    env = {e["name"]: e["value"] for e in ctr["env"] if "value" in e}
    assert env["OOZO_EVALUATION_QUESTIONS"] == f"{job.EVALUATION_DIR}/questions.yaml"
    assert float(env["OOZO_EVALUATION_MIN_HIT_AT5"]) == 0.8


# --- decisions: a finished drill Job -> status.lastVerifiedBackup, BackupVerified ---------------

PASSED = {
    "time": "2026-01-04T04:30:05Z",
    "uri": "s3://oozo-backups/handbook/v2/index.tar.zst",
    "sha256": "a" * 64,
    "version": "v2",
    "checksums": 7,
    "documents": 3,
    "chunks": 40,
    "mode": "questions",
    "questions": 5,
    "hits": 5,
    "seconds": 9.5,
}
COMPLETE = [{"type": "Complete", "status": "True"}]
FAILED = [
    {
        "type": "Failed",
        "status": "True",
        "reason": "BackoffLimitExceeded",
        "lastTransitionTime": "2026-01-04T05:00:00Z",
    }
]


def _job(name: str, **status: Any) -> dict[str, Any]:
    return {"metadata": {"name": name}, "status": status}


def _pod(exit_code: int, message: str) -> dict[str, Any]:
    term = {"exitCode": exit_code, "message": message, "finishedAt": "2026-01-04T04:31:00Z"}
    return {
        "metadata": {"name": "p"},
        "status": {"containerStatuses": [{"name": "verify", "state": {"terminated": term}}]},
    }


def _error(reason: str, message: str, **partial: Any) -> str:
    body: dict[str, Any] = {"error": message, "reason": reason}
    if partial:
        body["verification"] = {**PASSED, **partial}
    return json.dumps(body)


@dataclass(frozen=True)
class Case:
    id: str
    job: dict[str, Any]
    pods: list[dict[str, Any]]
    last: dict[str, Any] | None
    condition: tuple[str, str] | None  # (status, reason); None: nothing new to say
    want: dict[str, Any]  # fields status.lastVerifiedBackup must have


VERIFIED_BEFORE = {"result": "Verified", "job": "d-0", "lastVerifiedTime": "2026-01-01T04:30:05Z"}
CASES = [
    Case(
        "a drill that passed: Verified, with the counts and when",
        _job("d-1", succeeded=1, conditions=COMPLETE),
        [_pod(0, json.dumps(PASSED))],
        None,
        ("True", "Verified"),
        {
            "result": "Verified",
            "version": "v2",
            "checksums": 7,
            "questions": 5,
            "hits": 5,
            "lastVerifiedTime": PASSED["time"],
            "job": "d-1",
        },
    ),
    Case(
        "a tampered artifact: ChecksumMismatch naming the object; the last passed drill's time is kept",
        _job("d-2", failed=3, conditions=FAILED),
        [_pod(1, _error("ChecksumMismatch", "s3://oozo-backups/handbook/v2/index.tar.zst has sha256 x"))],
        VERIFIED_BEFORE,
        ("False", "ChecksumMismatch"),
        {
            "result": "Failed",
            "reason": "ChecksumMismatch",
            "lastVerifiedTime": VERIFIED_BEFORE["lastVerifiedTime"],
            "time": "2026-01-04T05:00:00Z",
        },
    ),
    Case(
        "no backup yet: NoBackup",
        _job("d-3", failed=3, conditions=FAILED),
        [
            _pod(
                1, _error("NoBackup", "no backup to verify: s3://oozo-backups/handbook/latest does not exist")
            )
        ],
        None,
        ("False", "NoBackup"),
        {"result": "Failed", "reason": "NoBackup"},
    ),
    Case(
        "questions it cannot answer: QuestionsFailed, with how far it got",
        _job("d-4", failed=3, conditions=FAILED),
        [_pod(1, _error("QuestionsFailed", "answered 1 of 5 golden questions", hits=1))],
        None,
        ("False", "QuestionsFailed"),
        {"result": "Failed", "reason": "QuestionsFailed", "questions": 5, "hits": 1, "version": "v2"},
    ),
    Case(
        "a drill that died without a word (deadline, OOM): VerifyFailed from the Job",
        _job("d-5", failed=1, conditions=FAILED),
        [_pod(137, "Killed")],
        None,
        ("False", "VerifyFailed"),
        {"result": "Failed", "reason": "VerifyFailed"},
    ),
    Case(
        "a drill that succeeded without a result: NoResult",
        _job("d-6", succeeded=1, conditions=COMPLETE),
        [_pod(0, "")],
        None,
        ("False", "NoResult"),
        {"result": "Failed"},
    ),
    Case("a drill still running: nothing new", _job("d-7"), [], VERIFIED_BEFORE, None, VERIFIED_BEFORE),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_drill_status_decisions(case: Case) -> None:
    found = drill.drill_of(case.job, case.pods, verify.CONTAINER)
    status, condition = drill.verified_status(found, case.last)
    assert (condition[:2] if condition else None) == case.condition
    assert status is not None
    assert {k: status.get(k) for k in case.want} == case.want
    if condition:
        assert status["message"] == condition[2]


def test_a_failed_drill_or_a_stuck_drill_pod_never_changes_ready_or_index_ready() -> None:
    c = plan_corpus(with_drill())
    index_hash = dataclasses.replace(c, source_revision=SOURCE_REVISION).index_hash
    steady = observed(
        status=stored(index=published("v1", index_hash)),
        builds=(succeeded(f"docs-index-{index_hash}", "v1"),),
    )
    planned = plan(steady, c, full=True, new_api_key="k")
    failed = drill.drill_of(
        _job("d-2", failed=3, conditions=FAILED), [_pod(1, _error("ChecksumMismatch", "tampered"))], "verify"
    )
    served = dataclasses.replace(workloads(rolled_out("v1")), new_drill=failed)
    outcome = settle(planned, served, (), "2026-01-04T05:00:00Z")
    conds = conditions(outcome)
    assert conds[C.READY][:2] == ("True", "Serving") and conds[C.INDEX_READY][0] == "True"
    assert conds[drill.BACKUP_VERIFIED][:2] == ("False", "ChecksumMismatch")
    assert outcome.status["lastVerifiedBackup"]["result"] == "Failed"

    stuck = waiting_pod("docs-verify-1-x", "CreateContainerConfigError", "secret s3 not found", L.VERIFY)
    conds = conditions(settle(planned, workloads(rolled_out("v1"), (stuck,)), (), "2026-01-04T05:00:00Z"))
    assert conds[C.READY][:2] == ("True", "Serving") and conds[C.STALLED][0] == "False"
    assert conds[drill.BACKUP_VERIFIED][:2] == ("False", "DrillPodCannotStart")


def test_metrics_follow_the_last_drill() -> None:
    def sample(metric: str) -> float | None:
        return REGISTRY.get_sample_value(metric, {"namespace": "ns", "name": "drilled"})

    status = {"lastVerifiedBackup": {"result": "Verified", "lastVerifiedTime": "2026-01-04T04:30:05+00:00"}}
    metrics.observe_corpus("ns", "drilled", status)
    assert sample("oozo_backup_verified") == 1
    assert sample("oozo_backup_last_verified_timestamp_seconds") == 1767501005.0
    failed = {"lastVerifiedBackup": {**status["lastVerifiedBackup"], "result": "Failed"}}
    metrics.observe_corpus("ns", "drilled", failed)
    assert sample("oozo_backup_verified") == 0
    assert sample("oozo_backup_last_verified_timestamp_seconds") == 1767501005.0  # the last pass stays
    metrics.observe_corpus("ns", "drilled", None)
    assert sample("oozo_backup_verified") is None

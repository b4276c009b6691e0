"""spec.evaluation in the operator: the questions ConfigMap mounted read-only into the index and
refresh pods with the gate's settings, a gate failure read from the Job's termination message
into IndexReady=False/QualityGateFailed and status.index.evaluation while the old version keeps
serving (Ready=True, Stalled=True: kstatus Failed), and no retry of the same verdict."""

from __future__ import annotations

import json
from typing import Any

from oozo_contract.index_settings import IndexSettings
from oozo_operator import conditions as C
from oozo_operator.observe import Build, build_of
from oozo_operator.outcome import settle
from oozo_operator.plan import Create, plan
from oozo_operator.render import cronjob, job
from tests.operator_builders import at, with_refresh
from tests.unit.plan_builders import (
    API_KEY,
    NOW,
    corpus,
    observed,
    published,
    rolled_out,
    stored,
    workloads,
)

GATE = {"questions": {"configMap": "golden"}, "minHitAt5": 0.8, "maxRegression": 0.05}
SCORES = {
    "version": "v2", "questions": 4, "hitAt1": 0.5, "hitAt5": 0.75, "mrrAt5": 0.625, "passed": False,
    "minHitAt5": 0.8, "maxRegression": 0.05, "baselineVersion": "v1", "baselineHitAt5": 1.0,
    "missed": ["vacation"], "reason": "hit@5 0.750 is below minHitAt5 0.800",
}  # fmt: skip
GATE_MESSAGE = json.dumps(
    {
        "evaluation": SCORES,
        "error": "version v2 failed the quality gate and was not published: hit@5 0.750 is below "
        "minHitAt5 0.800 (hit@1 0.500, hit@5 0.750, MRR@5 0.625 over 4 questions)",
        "reason": "QualityGateFailed",
    }
)


def gated(*more: Any) -> Any:
    return corpus(at("spec.evaluation", GATE), *more)


def index_container(pod_spec: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in pod_spec["containers"] if c["name"] == job.CONTAINER)


def test_the_questions_configmap_is_mounted_read_only_with_the_gate_settings_and_the_serving_baseline() -> (
    None
):
    rendered = job.render(gated(), serving_version="v1")
    pod_spec = rendered["spec"]["template"]["spec"]
    container = index_container(pod_spec)
    assert {"name": "evaluation", "configMap": {"name": "golden"}} in pod_spec["volumes"]
    mount = next(m for m in container["volumeMounts"] if m["name"] == "evaluation")
    assert mount == {"name": "evaluation", "mountPath": job.EVALUATION_DIR, "readOnly": True}
    env = {e["name"]: e["value"] for e in container["env"] if "value" in e}
    settings = IndexSettings.model_validate(
        {k.removeprefix("OOZO_").lower(): v for k, v in env.items() if k.startswith("OOZO_")}
    )
    assert str(settings.evaluation_questions) == f"{job.EVALUATION_DIR}/questions.yaml"
    assert (settings.evaluation_min_hit_at5, settings.evaluation_max_regression) == (0.8, 0.05)
    assert settings.evaluation_baseline_version == "v1"
    # the verdict is final: the Job fails on the gate's exit code instead of building twice more
    rule = rendered["spec"]["podFailurePolicy"]["rules"][0]
    assert rule == {
        "action": "FailJob",
        "onExitCodes": {"containerName": "index", "operator": "In", "values": [3]},
    }


def test_the_refresh_cronjob_runs_the_same_gate() -> None:
    rendered = cronjob.render(gated(with_refresh("0 * * * *"), at("spec.evaluation.questions.key", "q.json")))
    spec = rendered["spec"]["jobTemplate"]["spec"]
    env = {e["name"]: e.get("value") for e in index_container(spec["template"]["spec"])["env"]}
    assert env["OOZO_EVALUATION_QUESTIONS"] == f"{job.EVALUATION_DIR}/q.json"
    assert "OOZO_EVALUATION_BASELINE_VERSION" not in env  # a refresh compares with `current`
    assert "podFailurePolicy" in spec


def test_a_corpus_without_a_gate_renders_and_hashes_as_before() -> None:
    plain = job.render(corpus(), serving_version="v1")
    assert "podFailurePolicy" not in plain["spec"]
    assert not any(v["name"] == "evaluation" for v in plain["spec"]["template"]["spec"]["volumes"])
    # thresholds are index inputs only when a gate is set: changing them evaluates again
    assert corpus().index_hash != gated().index_hash != gated(at("spec.evaluation.minHitAt5", 0.9)).index_hash


def _failed_job(name: str) -> dict[str, Any]:
    failed = {"type": "Failed", "status": "True", "reason": "PodFailurePolicy"}
    return {"metadata": {"name": name}, "status": {"failed": 1, "conditions": [failed]}}


def _pod(message: str) -> dict[str, Any]:
    term = {"exitCode": 3, "message": message, "finishedAt": "2026-01-01T00:01:00Z"}
    return {
        "metadata": {"name": "p"},
        "status": {"containerStatuses": [{"name": "index", "state": {"terminated": term}}]},
    }


def test_a_failed_gate_is_read_with_its_scores_even_before_the_job_is_marked_failed() -> None:
    for job_body in (
        _failed_job("docs-index-h2"),
        {"metadata": {"name": "docs-index-h2"}, "status": {"failed": 1}},
    ):
        b = build_of(job_body, [_pod(GATE_MESSAGE)])
        assert (b.state, b.reason) == ("failed", "QualityGateFailed")
        assert b.evaluation == SCORES
        assert "hit@5 0.750" in b.message and "(QualityGateFailed)" in b.message


def test_a_failed_gate_keeps_the_old_version_serving_and_ready_with_the_scores_in_status() -> None:
    c = gated()
    old = published("v1", "h-old")
    gate_build = Build("failed", c.job_name, None, "QualityGateFailed", "Job x: failed the gate", SCORES)
    planned = plan(
        observed(generation=2, status=stored(generation=2, index=old), builds=(gate_build,)),
        c,
        full=False,
        new_api_key=API_KEY,
    )
    assert not [w for w in planned.writes if isinstance(w, Create)]  # the same verdict is not retried
    assert planned.published is not None and planned.published["version"] == "v1"
    assert planned.published["evaluation"] == SCORES
    outcome = settle(planned, workloads(rolled_out("v1")), (), NOW)
    conds = {cond["type"]: cond for cond in outcome.status["conditions"]}
    assert outcome.status["index"]["evaluation"]["hitAt5"] == 0.75
    assert (conds[C.INDEX_READY]["status"], conds[C.INDEX_READY]["reason"]) == ("False", "QualityGateFailed")
    assert "version v1 keeps serving" in conds[C.INDEX_READY]["message"]
    assert (conds[C.READY]["status"], conds[C.READY]["reason"]) == ("True", "Serving")
    assert (conds[C.STALLED]["status"], conds[C.STALLED]["reason"]) == ("True", "QualityGateFailed")
    assert conds[C.RECONCILING]["status"] == "False"


def test_a_failed_first_build_is_not_ready_and_another_problem_still_makes_ready_false() -> None:
    gate_build = Build("failed", "j", None, "QualityGateFailed", "failed the gate", SCORES)
    first = C.desired(C.Inputs(2, "h2", "http://e", build=gate_build))
    assert first[C.READY][0] == "False" and first[C.STALLED][1] == "QualityGateFailed"
    missing = C.Problem("SecretNotFound", "Secret openai not found")
    serving = C.desired(
        C.Inputs(2, "h2", "http://e", published=published("v1", "h1"), build=gate_build,
                 rollout=rolled_out("v1"), problems=(missing,))
    )  # fmt: skip
    assert serving[C.READY][0] == "False"


def test_argo_cd_reads_a_refused_version_as_degraded_while_it_serves() -> None:
    from tests.unit.test_argocd_health import argocd_health
    from tests.unit.test_argocd_health import corpus as corpus_object

    c = gated()
    gate_build = Build("failed", c.job_name, None, "QualityGateFailed", "Job x: failed the gate", SCORES)
    planned = plan(
        observed(
            generation=2, status=stored(generation=2, index=published("v1", "h-old")), builds=(gate_build,)
        ),
        c,
        full=False,
        new_api_key=API_KEY,
    )
    status = settle(planned, workloads(rolled_out("v1")), (), NOW).status
    obj = corpus_object(generation=2, status=status)
    # kstatus reads Stalled=True before Ready: Failed (the controlplane tier runs the real kstatus)
    assert status["observedGeneration"] == 2
    health, message = argocd_health(obj)
    assert health == "Degraded" and message.startswith("QualityGateFailed: ")

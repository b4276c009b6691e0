"""The quality gate end to end: a RagCorpus with golden questions reaches Ready with its scores in
status.index.evaluation; then a document change that makes a golden question unanswerable is
refused by the gate: IndexReady=False/QualityGateFailed with the scores, Ready stays True, and
the Service keeps answering from the old version. The real operator, the real `oozo index` and
`oozo serve` processes, the real model."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
import yaml

from devcluster.kstatus import kstatus
from devcluster.stack import Stack, kubectl
from tests.e2e import documents
from tests.e2e.conftest import DeployedCorpus, apply, ragcorpus

GOLDEN = {
    "questions": [
        {"id": "code-word", "question": "What is the code word for the Aurora launch?",
         "documents": ["aurora-launch.docx"]},
        {"id": "hotel", "question": "How much may a hotel night cost?",
         "documents": ["travel-expenses.docx"]},
        {"id": "badge", "question": "Where do new employees collect their badge?",
         "documents": ["onboarding.docx"]},
    ]
}  # fmt: skip
GATE = {"questions": {"configMap": "golden"}, "minHitAt5": 0.6}
BADGE_QUESTION = "Where do new employees collect their badge?"


def golden_configmap(namespace: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "golden", "namespace": namespace},
        "data": {"questions.yaml": yaml.safe_dump(GOLDEN)},
    }


def condition(status: dict, kind: str) -> dict:
    return next(c for c in status.get("conditions") or [] if c["type"] == kind)


@pytest.fixture(scope="module")
def gated(stack: Stack) -> Iterator[DeployedCorpus]:
    namespace = f"e2e-gate-{uuid.uuid4().hex[:6]}"
    kubectl(stack.kubeconfig, "create", "namespace", namespace)
    corpus = DeployedCorpus("gated", namespace, stack)
    apply(
        stack.kubeconfig,
        documents.configmap("gated-docs", namespace, documents.handbook_docs()),
        golden_configmap(namespace),
        ragcorpus("gated", namespace, "gated-docs", evaluation=GATE),
    )
    corpus.ready_seconds = corpus.wait_ready()
    yield corpus
    kubectl(stack.kubeconfig, "delete", "namespace", namespace, "--wait=false", check=False)


def test_a_corpus_with_golden_questions_is_ready_with_its_scores(gated: DeployedCorpus) -> None:
    index = gated.get()["status"]["index"]
    evaluation = index["evaluation"]
    assert evaluation["passed"] is True and evaluation["version"] == index["version"], evaluation
    assert (evaluation["questions"], evaluation["hitAt5"], evaluation["minHitAt5"]) == (3, 1.0, 0.6), (
        evaluation
    )
    assert evaluation["hitAt1"] <= evaluation["mrrAt5"] <= 1.0, evaluation


def test_a_change_that_fails_the_gate_keeps_the_old_version_serving(gated: DeployedCorpus) -> None:
    before = gated.get()["status"]["index"]["version"]
    docs = {k: v for k, v in documents.handbook_docs().items() if k != "onboarding.docx"}
    apply(gated.kubeconfig, documents.configmap("gated-docs", gated.namespace, docs))
    waited = gated.kubectl(
        "wait",
        '--for=jsonpath={.status.conditions[?(@.type=="IndexReady")].reason}=QualityGateFailed',
        f"ragcorpus/{gated.name}",
        "--timeout=420s",
        check=False,
    )
    assert waited.returncode == 0, f"{waited.stderr}\n{gated.diagnose()}"
    status = gated.get()["status"]
    index_ready, ready, stalled = (condition(status, k) for k in ("IndexReady", "Ready", "Stalled"))
    assert index_ready["status"] == "False" and "hit@5 0.667" in index_ready["message"], index_ready
    assert "serving version" in index_ready["message"] and "missed: badge" in index_ready["message"]
    assert f"version {before} keeps serving" in index_ready["message"], index_ready
    assert ready["status"] == "True", ready
    assert (stalled["status"], stalled["reason"]) == ("True", "QualityGateFailed"), stalled
    assert status["index"]["version"] == before
    assert kstatus(gated.get())[0] == "Failed"  # GitOps tools report the refused content
    evaluation = status["index"]["evaluation"]
    assert evaluation["passed"] is False and evaluation["version"] != before, evaluation
    assert (evaluation["hitAt5"], evaluation["baselineVersion"], evaluation["baselineHitAt5"]) == (
        0.666667,
        before,
        1.0,
    ), evaluation
    assert evaluation["missed"] == ["badge"], evaluation
    # the verdict is final: one attempt, no retry (the Job's podFailurePolicy)
    jobs = json.loads(gated.kubectl("get", "jobs", "-o", "json").stdout)["items"]
    (refused,) = [j["metadata"]["name"] for j in jobs if not j["status"].get("succeeded")]
    failed = gated.kubectl("wait", "--for=condition=Failed", f"job/{refused}", "--timeout=60s", check=False)
    assert failed.returncode == 0, f"{failed.stderr}\n{gated.diagnose()}"
    job = json.loads(gated.kubectl("get", "job", refused, "-o", "json").stdout)
    assert job["status"]["failed"] == 1 and not job["status"].get("active"), job["status"]
    reasons = [c["reason"] for c in job["status"]["conditions"] if c["type"] == "Failed"]
    assert reasons == ["PodFailurePolicy"], job["status"]
    # and the Service still answers from the old version, the badge document included
    reply = gated.query(BADGE_QUESTION)
    assert reply["index_version"] == before, reply
    assert any(s["document"] == "onboarding.docx" for s in reply["sources"]), reply

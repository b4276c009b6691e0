"""spec.evaluation on a real control plane with the real operator: a missing golden-questions
ConfigMap stalls the corpus naming the field and starts no Job; once it exists, the index Job
the API server accepts mounts it read-only and fails at once on the gate's exit code."""

from __future__ import annotations

from kubernetes import client

from devcluster.ragcorpus import condition
from devcluster.waiting import wait_for
from tests.controlplane import test_operator_lifecycle as lifecycle
from tests.operator_builders import at, make_corpus, on_local_node
from tests.operator_support import Operator, until_condition

GATE = {"questions": {"configMap": "golden", "key": "q.yaml"}, "minHitAt5": 0.8}


def test_a_missing_questions_configmap_stalls_the_corpus_until_it_exists(
    operator: Operator,
    api: client.ApiClient,
    core: client.CoreV1Api,
    custom: client.CustomObjectsApi,
    ns: str,
) -> None:
    lifecycle.apply_corpus(core, custom, ns, make_corpus("gq", on_local_node, at("spec.evaluation", GATE)))
    stalled = until_condition(custom, ns, "gq", "Stalled", 20, status="True")
    assert condition(stalled, "Stalled")["reason"] == "ConfigMapNotFound"
    assert "golden (spec.evaluation.questions.configMap)" in condition(stalled, "Stalled")["message"]
    batch = client.BatchV1Api(api)
    assert batch.list_namespaced_job(ns).items == []

    questions = "questions:\n- question: Where?\n  documents: [a.md]\n"
    core.create_namespaced_config_map(
        ns, client.V1ConfigMap.model_validate({"metadata": {"name": "golden"}, "data": {"q.yaml": questions}})
    )
    until_condition(custom, ns, "gq", "Stalled", 30, status="False")
    created = wait_for("the index Job", lambda: batch.list_namespaced_job(ns).items, 20)[0]
    job = api.sanitize_for_serialization(created)
    pod_spec = job["spec"]["template"]["spec"]
    assert {"name": "evaluation", "configMap": {"name": "golden", "defaultMode": 420}} in pod_spec["volumes"]
    (index,) = pod_spec["containers"]
    mount = next(m for m in index["volumeMounts"] if m["name"] == "evaluation")
    assert mount["readOnly"] is True and mount["mountPath"] == "/etc/oozo/evaluation"
    env = {e["name"]: e.get("value") for e in index["env"]}
    assert env["OOZO_EVALUATION_QUESTIONS"] == "/etc/oozo/evaluation/q.yaml"
    assert env["OOZO_EVALUATION_MIN_HIT_AT5"] == "0.8"
    (rule,) = job["spec"]["podFailurePolicy"]["rules"]
    assert rule["action"] == "FailJob" and rule["onExitCodes"]["values"] == [3]

"""The kstatus wrapper gives the verdicts Flux would give, on hand-written objects."""

from __future__ import annotations

from typing import Any

import pytest

from devcluster.kstatus import kstatus


def rolled_out_deployment() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "generation": 3},
        "spec": {"replicas": 2},
        "status": {
            "observedGeneration": 3,
            "replicas": 2,
            "updatedReplicas": 2,
            "readyReplicas": 2,
            "availableReplicas": 2,
            "conditions": [
                {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"},
                {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
            ],
        },
    }


def corpus(*conditions: dict[str, str], generation: int = 1, observed: int = 1) -> dict[str, Any]:
    return {
        "apiVersion": "rag.oozo.dev/v1alpha1",
        "kind": "RagCorpus",
        "metadata": {"name": "handbook", "namespace": "default", "generation": generation},
        "status": {"observedGeneration": observed, "conditions": list(conditions)},
    }


def condition(kind: str, status: str = "True", message: str = "") -> dict[str, str]:
    return {"type": kind, "status": status, "reason": kind, "message": message}


def test_a_rolled_out_deployment_is_current() -> None:
    assert kstatus(rolled_out_deployment())[0] == "Current"


def test_a_deployment_mid_rollout_is_in_progress() -> None:
    dep = rolled_out_deployment()
    dep["status"]["updatedReplicas"] = 1
    assert kstatus(dep)[0] == "InProgress"


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (corpus(condition("Reconciling", message="building index")), "InProgress"),
        (corpus(condition("Stalled", message="bad source")), "Failed"),
        (corpus(condition("Ready"), generation=2, observed=1), "InProgress"),
        (corpus(condition("Ready")), "Current"),
    ],
    ids=["reconciling", "stalled", "stale-generation", "ready"],
)
def test_custom_resource_verdicts(obj: dict[str, Any], expected: str) -> None:
    assert kstatus(obj)[0] == expected


def test_the_message_comes_along() -> None:
    assert kstatus(corpus(condition("Stalled", message="bad source")))[1] == "bad source"


def test_an_object_being_deleted_is_terminating() -> None:
    obj = corpus(condition("Ready"))
    obj["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    assert kstatus(obj)[0] == "Terminating"

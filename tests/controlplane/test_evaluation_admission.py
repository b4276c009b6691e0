"""spec.evaluation on a real kube-apiserver: bad thresholds and references are refused with a
message naming the field, and a good gate is stored with its defaults (server-side dry runs)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.controlplane.test_operator_admission import GROUP, PLURAL, VERSION, install_crd
from tests.operator_builders import at, make_corpus


@pytest.fixture(scope="module")
def custom(control_plane: Any) -> Iterator[client.CustomObjectsApi]:
    install_crd(control_plane)
    with control_plane.api_client() as api:
        yield client.CustomObjectsApi(api)


@pytest.fixture(scope="module")
def ns(control_plane: Any) -> Iterator[str]:
    name = f"gate-{uuid.uuid4().hex[:6]}"
    with control_plane.api_client() as api:
        core = client.CoreV1Api(api)
        core.create_namespace(client.V1Namespace.model_validate({"metadata": {"name": name}}))
        yield name
        core.delete_namespace(name)


GOLDEN = {"configMap": "golden"}
BAD = [
    ("minHitAt5 above 1", {"questions": GOLDEN, "minHitAt5": 1.5}, "spec.evaluation.minHitAt5"),
    ("minHitAt5 negative", {"questions": GOLDEN, "minHitAt5": -0.1}, "spec.evaluation.minHitAt5"),
    ("maxRegression above 1", {"questions": GOLDEN, "maxRegression": 2}, "spec.evaluation.maxRegression"),
    ("no questions", {"minHitAt5": 0.8}, "spec.evaluation.questions"),
    ("no ConfigMap", {"questions": {"key": "q.yaml"}}, "spec.evaluation.questions.configMap"),
    (
        "ConfigMap name invalid",
        {"questions": {"configMap": "Golden_Q"}},
        "spec.evaluation.questions.configMap",
    ),
    (
        "key with a slash",
        {"questions": {"configMap": "g", "key": "a/b.yaml"}},
        "spec.evaluation.questions.key",
    ),
]


@pytest.mark.parametrize(("what", "evaluation", "field"), BAD, ids=[b[0] for b in BAD])
def test_a_bad_quality_gate_is_refused_naming_the_field(
    custom: client.CustomObjectsApi, ns: str, what: str, evaluation: dict[str, Any], field: str
) -> None:
    obj = make_corpus("a", at("spec.evaluation", evaluation))
    with pytest.raises(ApiException) as refused:
        custom.create_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, obj, dry_run="All")
    assert refused.value.status == 422, refused.value.body
    assert field in (refused.value.body or ""), f"{what}: {refused.value.body}"


def test_a_quality_gate_is_stored_with_its_defaults(custom: client.CustomObjectsApi, ns: str) -> None:
    obj = make_corpus("gated", at("spec.evaluation", {"questions": GOLDEN}))
    created = custom.create_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, obj, dry_run="All")
    assert isinstance(created, dict)  # the client types it `object`
    assert created["spec"]["evaluation"] == {
        "questions": {"configMap": "golden", "key": "questions.yaml"},
        "minHitAt5": 0.0,
        "maxRegression": 0.0,
    }

"""The NetworkPolicy NAME on a real control plane: created with a new corpus, changed with
spec.runtime.networkPolicy, deleted once disabled, and made again when enabled."""

from __future__ import annotations

from typing import Any

from kubernetes import client
from kubernetes.client.rest import ApiException

from devcluster.ragcorpus import GROUP, PLURAL, VERSION
from devcluster.waiting import wait_for
from tests.controlplane.test_operator_lifecycle import apply_corpus
from tests.operator_builders import make_corpus, on_local_node
from tests.operator_support import Operator, corpus

FRONTEND = {"podSelector": {"matchLabels": {"app": "chat-frontend"}}}


def read_policy(api: client.ApiClient, ns: str, name: str) -> dict[str, Any] | None:
    try:
        found = client.NetworkingV1Api(api).read_namespaced_network_policy(name, ns)
    except ApiException as err:
        if err.status == 404:
            return None
        raise
    out = api.sanitize_for_serialization(found)
    assert isinstance(out, dict)
    return out


def peers(policy: dict[str, Any]) -> list[dict[str, Any]]:
    [rule] = policy["spec"]["ingress"]
    assert rule["ports"] == [{"protocol": "TCP", "port": "http"}]
    return list(rule["from"])


def test_network_policy_is_created_updated_and_dropped_when_disabled(
    operator: Operator,
    api: client.ApiClient,
    core: client.CoreV1Api,
    custom: client.CustomObjectsApi,
    ns: str,
) -> None:
    apply_corpus(core, custom, ns, make_corpus("guarded", on_local_node))
    uid = corpus(custom, ns, "guarded")["metadata"]["uid"]
    policy = wait_for("the NetworkPolicy", lambda: read_policy(api, ns, "guarded"), 30)
    assert [(o["kind"], o["uid"], o["controller"]) for o in policy["metadata"]["ownerReferences"]] == [
        ("RagCorpus", uid, True)
    ]
    assert policy["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/instance"] == "guarded"
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    monitoring = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
    assert peers(policy) == [{"podSelector": {}}, monitoring]

    # Name the frontend pods and another monitoring namespace: the policy follows the spec.
    change = {"from": [FRONTEND], "monitoringNamespace": "observability"}
    custom.patch_namespaced_custom_object(
        GROUP, VERSION, ns, PLURAL, "guarded", {"spec": {"runtime": {"networkPolicy": change}}}
    )
    observability = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "observability"}}}
    wait_for(
        "the NetworkPolicy updated",
        lambda: ((p := read_policy(api, ns, "guarded")) and peers(p) == [FRONTEND, observability]) or None,
        30,
    )

    # Disabled: the operator deletes its NetworkPolicy.
    custom.patch_namespaced_custom_object(
        GROUP, VERSION, ns, PLURAL, "guarded", {"spec": {"runtime": {"networkPolicy": {"enabled": False}}}}
    )
    wait_for("the NetworkPolicy deleted", lambda: read_policy(api, ns, "guarded") is None, 30)
    generation = corpus(custom, ns, "guarded")["metadata"]["generation"]
    wait_for(
        "the pass observed",
        lambda: corpus(custom, ns, "guarded").get("status", {}).get("observedGeneration") == generation,
        30,
    )
    assert read_policy(api, ns, "guarded") is None

    # Enabled again: it comes back.
    custom.patch_namespaced_custom_object(
        GROUP, VERSION, ns, PLURAL, "guarded", {"spec": {"runtime": {"networkPolicy": {"enabled": True}}}}
    )
    wait_for("the NetworkPolicy back", lambda: read_policy(api, ns, "guarded"), 30)

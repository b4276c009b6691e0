"""spec.retrieval.rerank on a real control plane (issue 15, optional reranking): the API server
refuses a bad rerank naming the field (the CRD's schema and CEL rules, server-side dry runs); a
missing API key Secret stalls the corpus naming the field; once it exists, the server's ConfigMap
holds the rerank settings and the Deployment the key as a secretKeyRef the API server accepts,
never as a value; the key appears nowhere in status, Events or the rendered children."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from devcluster.kubelet.player import KubeletPlayer
from devcluster.ragcorpus import condition
from tests.controlplane import test_operator_lifecycle as lifecycle
from tests.controlplane.test_operator_admission import GROUP, PLURAL, VERSION
from tests.operator_builders import make_corpus, on_local_node, with_rerank
from tests.operator_support import (
    Operator,
    everything_told,
    server_deployment,
    until_condition,
)

TEI = "http://tei-reranker.models:8080"
API_KEY = "cp-rerank-key-5e0b9a7c21"
FIELD = "spec.retrieval.rerank.apiKeySecretRef"

BAD: list[tuple[str, dict[str, Any], str]] = [
    ("topN zero", {"topN": 0}, "spec.retrieval.rerank.topN"),
    ("topN above the bound", {"topN": 101}, "spec.retrieval.rerank.topN"),
    ("unknown api", {"api": "openai"}, "spec.retrieval.rerank.api"),
    ("endpoint not a URL", {"endpoint": "tei-reranker:8080"}, "spec.retrieval.rerank.endpoint"),
    ("endpoint with credentials", {"endpoint": "http://u:p@tei:8080"}, "spec.retrieval.rerank.endpoint"),
    ("timeout zero", {"timeoutSeconds": 0}, "spec.retrieval.rerank.timeoutSeconds"),
    (
        "key without its key",
        {"apiKeySecretRef": {"name": "reranker"}},
        "spec.retrieval.rerank.apiKeySecretRef",
    ),
]


@pytest.mark.parametrize(("what", "fields", "field"), BAD, ids=[b[0] for b in BAD])
def test_a_bad_rerank_is_refused_naming_the_field(
    custom: client.CustomObjectsApi, ns: str, what: str, fields: dict[str, Any], field: str
) -> None:
    obj = make_corpus("a", with_rerank(TEI))
    obj["spec"]["retrieval"]["rerank"].update(fields)
    with pytest.raises(ApiException) as refused:
        custom.create_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, obj, dry_run="All")
    assert refused.value.status == 422, refused.value.body
    assert refused.value.body is not None
    assert field in refused.value.body, f"{what}: {refused.value.body}"


def test_a_good_rerank_is_accepted_with_top_n_defaulted(custom: client.CustomObjectsApi, ns: str) -> None:
    created = custom.create_namespaced_custom_object(
        GROUP, VERSION, ns, PLURAL, make_corpus("r", with_rerank(TEI + "/v1", api="cohere")), dry_run="All"
    )
    assert isinstance(created, dict)  # the client types it `object`
    assert created["spec"]["retrieval"]["rerank"] == {"endpoint": TEI + "/v1", "api": "cohere", "topN": 20}


def test_the_server_gets_the_rerank_settings_and_the_key_only_by_reference(
    operator: Operator,
    api: client.ApiClient,
    core: client.CoreV1Api,
    custom: client.CustomObjectsApi,
    kubelet: KubeletPlayer,
    ns: str,
) -> None:
    body = make_corpus("reranked", on_local_node, with_rerank(TEI, secret="reranker", topN=12))
    lifecycle.apply_corpus(core, custom, ns, body)
    stalled = until_condition(custom, ns, "reranked", "Stalled", 30, status="True")
    assert condition(stalled, "Stalled")["reason"] == "SecretNotFound"
    assert FIELD in condition(stalled, "Stalled")["message"]

    secret = {"metadata": {"name": "reranker"}, "stringData": {"api-key": API_KEY}}
    core.create_namespaced_secret(ns, client.V1Secret.model_validate(secret))
    until_condition(custom, ns, "reranked", "Stalled", 30, status="False")
    lifecycle.bring_up(api, custom, kubelet, ns, "reranked", "20260101-beef")

    config = core.read_namespaced_config_map("reranked-config", ns).data or {}
    assert (config["OOZO_RERANK_ENDPOINT"], config["OOZO_RERANK_API"]) == (TEI, "tei")
    assert config["OOZO_RERANK_TOP_N"] == "12"
    deployment = server_deployment(api, ns, "reranked")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e for e in container["env"]}
    assert env["OOZO_RERANK_API_KEY"] == {
        "name": "OOZO_RERANK_API_KEY",
        "valueFrom": {"secretKeyRef": {"name": "reranker", "key": "api-key"}},
    }
    assert API_KEY not in everything_told(api, custom, ns, "reranked", deployment, config)

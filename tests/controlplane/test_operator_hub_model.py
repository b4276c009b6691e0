"""A Hugging Face Hub model id on a real control plane: the index Job the operator creates reaches
the hub endpoint with the token Secret by reference (HF_TOKEN) and HF_HUB_OFFLINE=0; the serving
Deployment and its ConfigMap get neither, only the model cache on the corpus volume; a missing
token Secret stalls the corpus naming the field instead of leaving a pod that cannot start."""

from __future__ import annotations

import json
from typing import Any

from kubernetes import client

from devcluster.kubelet.player import KubeletPlayer, index_result_message
from devcluster.ragcorpus import condition
from devcluster.waiting import wait_for
from tests.controlplane.test_operator_lifecycle import apply_corpus, serve_version
from tests.operator_builders import at, make_corpus, on_local_node
from tests.operator_support import Operator, until_condition

MODEL = "intfloat/multilingual-e5-small"
ENDPOINT = "http://hf-mirror.models.svc:8090"
HUB = {
    "model": MODEL,
    "revision": "main",
    "hub": {"endpoint": ENDPOINT, "tokenSecret": {"name": "hf", "key": "token"}},
}


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env") or []}


def as_dict(api: client.ApiClient, obj: Any) -> dict[str, Any]:
    out = api.sanitize_for_serialization(obj)
    assert isinstance(out, dict)
    return out


def test_the_index_job_gets_endpoint_and_token_the_server_neither(
    operator: Operator,
    api: client.ApiClient,
    core: client.CoreV1Api,
    custom: client.CustomObjectsApi,
    kubelet: KubeletPlayer,
    ns: str,
) -> None:
    secret = {"metadata": {"name": "hf"}, "stringData": {"token": "hf_secret_value_for_test"}}
    core.create_namespaced_secret(ns, client.V1Secret.model_validate(secret))
    apply_corpus(core, custom, ns, make_corpus("multi", on_local_node, at("spec.embedding", HUB)))
    batch = client.BatchV1Api(api)
    made = as_dict(api, wait_for("the index Job", lambda: batch.list_namespaced_job(ns).items, 30)[0])
    [container] = made["spec"]["template"]["spec"]["containers"]
    env = env_of(container)
    assert env["OOZO_MODEL"] == MODEL and env["OOZO_HUB_ENDPOINT"] == ENDPOINT
    assert env["OOZO_HUB_REVISION"] == "main" and env["HF_HUB_OFFLINE"] == "0"
    assert env["OOZO_MODEL_CACHE_DIR"] == "/var/lib/oozo/index/models"
    assert env["HF_TOKEN"] == {"secretKeyRef": {"name": "hf", "key": "token"}}

    result = {**json.loads(index_result_message("v1")), "embeddingModel": MODEL}
    kubelet.finish_index(ns, "multi", json.dumps(result))
    wait_for("the Deployment", lambda: serve_version(api, ns, "multi") == "v1" or None, 30)
    dep = as_dict(api, client.AppsV1Api(api).read_namespaced_deployment("multi", ns))
    [server] = dep["spec"]["template"]["spec"]["containers"]
    server_env = env_of(server)
    assert not {"HF_TOKEN", "HF_HUB_OFFLINE", "OOZO_HUB_ENDPOINT", "OOZO_HUB_REVISION"} & set(server_env)
    config = as_dict(api, core.read_namespaced_config_map("multi-config", ns))["data"]
    assert config["OOZO_MODEL"] == MODEL and config["OOZO_MODEL_CACHE_DIR"] == "/var/lib/oozo/index/models"
    assert not {"OOZO_HUB_ENDPOINT", "OOZO_HUB_REVISION", "HF_TOKEN"} & set(config)
    assert ENDPOINT not in str(dep) and "hf_secret_value_for_test" not in str(dep)


def test_a_missing_token_secret_stalls_naming_the_field(
    operator: Operator, core: client.CoreV1Api, custom: client.CustomObjectsApi, ns: str
) -> None:
    apply_corpus(core, custom, ns, make_corpus("gated", on_local_node, at("spec.embedding", HUB)))
    stalled = until_condition(custom, ns, "gated", "Stalled", 20, status="True")
    assert condition(stalled, "Stalled")["reason"] == "SecretNotFound"
    assert "spec.embedding.hub.tokenSecret" in condition(stalled, "Stalled")["message"]

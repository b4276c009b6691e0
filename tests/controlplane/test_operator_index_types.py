"""spec.index.type and its parameters on a real control plane: the API server refuses
parameters of another type (the CRD's CEL rule); the index Job gets the type and parameters; the
build's measured index (type, recall@10, size, memory per replica) lands in status.index
.vectorIndex; and the server's memory request follows the memory the version needs. The test
plays the kubelet of oozo-local-0 with the result the runtime reports."""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from devcluster.kubelet.player import KubeletPlayer, index_result_message
from devcluster.ragcorpus import GROUP, PLURAL, VERSION, docs_configmap, volume_for
from devcluster.waiting import wait_for
from oozo_contract.results import IndexBuildResult, VectorIndexReport
from tests.operator_builders import at, make_corpus, on_local_node
from tests.operator_support import Operator, corpus

MI = 1024**2


def measured_result(version: str) -> str:
    """What `oozo index` reports for an IVF-PQ version whose replica needs 1.5 GiB."""
    plain = IndexBuildResult.model_validate_json(index_result_message(version))
    report = VectorIndexReport(
        type="ivfpq", recall_at10=0.9412, size_bytes=104_857_600, memory_bytes=1536 * MI
    )
    return plain.model_copy(update={"index_type": "ivfpq", "vector_index": report}).model_dump_json(
        by_alias=True, exclude_none=True
    )


def test_parameters_of_another_index_type_are_refused_by_the_api_server(
    api: client.ApiClient, ns: str
) -> None:
    body = make_corpus("mixed", at("spec.index.type", "flat"), at("spec.index.hnsw", {"m": 16}), namespace=ns)
    with pytest.raises(ApiException) as refused:
        client.CustomObjectsApi(api).create_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, body)
    assert refused.value.status == 422 and "hnsw parameters need type hnsw" in str(refused.value.body)


def test_hnswfp16_with_hnsw_parameters_is_admitted_by_the_api_server(api: client.ApiClient, ns: str) -> None:
    body = make_corpus(
        "half", at("spec.index.type", "hnswfp16"), at("spec.index.hnsw", {"m": 16}), namespace=ns
    )
    custom = client.CustomObjectsApi(api)
    custom.create_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, body)
    stored: Any = custom.get_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, "half")
    assert stored["spec"]["index"]["type"] == "hnswfp16" and stored["spec"]["index"]["hnsw"] == {"m": 16}


def test_status_shows_the_measured_index_and_the_server_requests_its_memory(
    api: client.ApiClient, operator: Operator, kubelet: KubeletPlayer, ns: str
) -> None:
    core, custom = client.CoreV1Api(api), client.CustomObjectsApi(api)
    docs_configmap(core, ns, "big-docs")
    volume_for(core, ns, "big")
    tuned = make_corpus(
        "big",
        on_local_node,
        at("spec.index.type", "ivfpq"),
        at("spec.index.ivfpq", {"nprobe": 32}),
        namespace=ns,
    )
    custom.create_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, tuned)

    def index_env() -> dict[str, str] | None:
        jobs = client.BatchV1Api(api).list_namespaced_job(ns).items
        if not jobs:
            return None
        body = client.ApiClient().sanitize_for_serialization(jobs[0])
        container = body["spec"]["template"]["spec"]["containers"][0]
        return {e["name"]: e["value"] for e in container.get("env", []) if "value" in e}

    env = wait_for("the index Job", index_env, 30)
    assert env["OOZO_INDEX_TYPE"] == "ivfpq" and env["OOZO_INDEX_IVF_NPROBE"] == "32"
    assert "OOZO_INDEX_PQ_M" not in env  # unset: the build chooses it for the corpus

    kubelet.finish_index(ns, "big", measured_result("20260101t000000z-ivfpq001"))

    def server_memory() -> dict[str, Any] | None:
        try:
            dep = client.AppsV1Api(api).read_namespaced_deployment("big", ns)
        except ApiException:
            return None
        body = client.ApiClient().sanitize_for_serialization(dep)
        resources: dict[str, Any] = body["spec"]["template"]["spec"]["containers"][0]["resources"]
        return resources

    resources = wait_for("the Deployment", server_memory, 30)
    assert resources["requests"]["memory"] == "2560Mi"  # 1Gi for the runtime + 1.5Gi for the version
    assert resources["limits"]["memory"] == "3584Mi"
    shown = wait_for(
        "status.index.vectorIndex",
        lambda: corpus(custom, ns, "big").get("status", {}).get("index", {}).get("vectorIndex"),
        30,
    )
    assert shown == {
        "type": "ivfpq",
        "recallAt10": 0.9412,
        "sizeBytes": 104_857_600,
        "memoryBytes": 1536 * MI,
    }, json.dumps(shown)

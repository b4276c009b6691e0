"""The operator enforces the corpus policy itself (defence in depth for clusters without the
ValidatingAdmissionPolicy), running with exactly deploy/rbac.yaml and the policy's parameters:
a spec breaking it is Stalled/PolicyViolation naming the field and gets no child at all; a
Secret or PVC without the opt-in label is not used, and reads exactly like a missing one."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client

from devcluster.ragcorpus import GROUP, PLURAL, VERSION, condition, docs_configmap, install_crd
from tests.controlplane.test_operator_rbac import kubectl, service_account_kubeconfig
from tests.operator_builders import make_corpus, on_local_node, with_answer_cache, with_openai, with_source
from tests.operator_support import REPO, Operator, until_condition
from tests.policy_cases import LABEL, PARAMS, with_backup_to, with_image

LLM = "https://llm.example.com/v1"


@pytest.fixture(scope="module")
def api(control_plane: Any) -> Iterator[client.ApiClient]:
    install_crd(control_plane.env())
    kubectl(control_plane.env(), "apply", "--server-side", "-f", str(REPO / "deploy" / "rbac.yaml"))
    with control_plane.api_client() as api_client:
        yield api_client


@pytest.fixture(scope="module")
def operator(
    control_plane: Any, api: client.ApiClient, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Operator]:
    tmp = tmp_path_factory.mktemp("policy")
    kubeconfig = service_account_kubeconfig(
        control_plane.env(), control_plane.kubeconfig, tmp / "sa.kubeconfig"
    )
    op = Operator({**control_plane.env(), "KUBECONFIG": str(kubeconfig)}, tmp, **PARAMS).start()
    yield op
    op.stop()


def children(api: client.ApiClient, ns: str) -> list[str]:
    """Every object of a kind Oozo renders, in the namespace (the test's own Secrets aside)."""
    core, apps, batch = client.CoreV1Api(api), client.AppsV1Api(api), client.BatchV1Api(api)
    lists = {
        "PVC": core.list_namespaced_persistent_volume_claim(ns),
        "Service": core.list_namespaced_service(ns),
        "ConfigMap": core.list_namespaced_config_map(ns),
        "Deployment": apps.list_namespaced_deployment(ns),
        "Job": batch.list_namespaced_job(ns),
        "CronJob": batch.list_namespaced_cron_job(ns),
    }
    found = []
    for kind, listed in lists.items():
        for item in api.sanitize_for_serialization(listed)["items"]:
            name = item["metadata"]["name"]
            if kind != "ConfigMap" or name.endswith("-config"):  # not the test's docs or kube-root-ca
                found.append(f"{kind} {name}")
    return found


def create(api: client.ApiClient, ns: str, body: dict[str, Any]) -> None:
    client.CustomObjectsApi(api).create_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, body)


def secret(api: client.ApiClient, ns: str, name: str, labels: dict[str, str] | None = None) -> None:
    body = {"metadata": {"name": name, "labels": labels or {}}, "stringData": {"api-key": "s3cr3t"}}
    client.CoreV1Api(api).create_namespaced_secret(ns, client.V1Secret.model_validate(body))


def stalled(api: client.ApiClient, ns: str, name: str) -> dict[str, Any]:
    obj = until_condition(client.CustomObjectsApi(api), ns, name, "Stalled", 60, status="True")
    return condition(obj, "Stalled")


def test_a_corpus_breaking_the_policy_is_stalled_naming_the_field_and_gets_no_child(
    operator: Operator, api: client.ApiClient, ns: str
) -> None:
    docs_configmap(client.CoreV1Api(api), ns, "evil-docs")
    create(
        api,
        ns,
        make_corpus("evil", on_local_node, with_image("evil.io/miner:1"), with_backup_to("http://evil.net")),
    )
    found = stalled(api, ns, "evil")
    assert found["reason"] == "PolicyViolation"
    assert "spec.runtime.image: repository evil.io/miner" in found["message"]
    assert "spec.backup.s3.endpoint: host evil.net" in found["message"]
    assert children(api, ns) == []


def test_an_unlabelled_secret_is_not_used_and_reads_like_a_missing_one(
    operator: Operator, api: client.ApiClient, ns: str
) -> None:
    core = client.CoreV1Api(api)
    docs_configmap(core, ns, "llm-docs")
    secret(api, ns, "payments-db")  # exists, but its owner never let corpora use it
    create(api, ns, make_corpus("llm", on_local_node, with_openai("payments-db", base_url=LLM)))
    unlabelled = stalled(api, ns, "llm")
    assert unlabelled["reason"] == "PolicyViolation"
    assert unlabelled["message"].startswith("spec.generation.apiKeySecretRef: Secret payments-db")
    assert children(api, ns) == []

    core.delete_namespaced_secret("payments-db", ns)
    create(api, ns, make_corpus("gone", on_local_node, with_openai("payments-db", base_url=LLM)))
    missing = stalled(api, ns, "gone")
    assert (missing["reason"], missing["message"]) == (unlabelled["reason"], unlabelled["message"])

    secret(api, ns, "payments-db", {LABEL[0]: LABEL[1]})  # its owner opts in: the corpus proceeds
    until_condition(client.CustomObjectsApi(api), ns, "llm", "Stalled", 60, status="False")
    assert any(c.startswith("Job llm-index-") for c in children(api, ns))


def test_an_unlabelled_pvc_source_is_not_mounted(operator: Operator, api: client.ApiClient, ns: str) -> None:
    claim = {
        "metadata": {"name": "team-archive"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }
    core = client.CoreV1Api(api)
    core.create_namespaced_persistent_volume_claim(ns, client.V1PersistentVolumeClaim.model_validate(claim))
    create(api, ns, make_corpus("arch", on_local_node, with_source(pvc={"claimName": "team-archive"})))
    found = stalled(api, ns, "arch")
    assert found["reason"] == "PolicyViolation"
    assert found["message"].startswith("spec.source.pvc.claimName: PersistentVolumeClaim team-archive")
    assert children(api, ns) == ["PVC team-archive"]  # the user's own claim; nothing of Oozo's


def test_an_unlabelled_redis_password_secret_is_not_used(
    operator: Operator, api: client.ApiClient, ns: str
) -> None:
    """spec.runtime.cache.redis.passwordSecretRef goes through the same opt-in rule (issue 15)."""
    core = client.CoreV1Api(api)
    docs_configmap(core, ns, "cache-docs")
    secret(api, ns, "team-redis")  # exists, unlabelled
    redis = with_answer_cache("redis://minio.storage:6379/0", "team-redis", key="api-key")
    create(api, ns, make_corpus("cache", on_local_node, redis))
    found = stalled(api, ns, "cache")
    assert found["reason"] == "PolicyViolation"
    assert found["message"].startswith("spec.runtime.cache.redis.passwordSecretRef: Secret team-redis")
    assert children(api, ns) == []

    core.patch_namespaced_secret("team-redis", ns, {"metadata": {"labels": {LABEL[0]: LABEL[1]}}})
    until_condition(client.CustomObjectsApi(api), ns, "cache", "Stalled", 60, status="False")
    assert any(c.startswith("Job cache-index-") for c in children(api, ns))

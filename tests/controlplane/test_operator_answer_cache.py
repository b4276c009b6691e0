"""spec.runtime.cache on a real control plane (issue 15, Answer cache): a missing Redis password
Secret stalls the corpus naming the field; once it exists, the server's ConfigMap holds the cache
settings and the Deployment the password as a secretKeyRef the API server accepts, never as a
value; the password appears nowhere in status, Events or the rendered children."""

from __future__ import annotations

from kubernetes import client

from devcluster.kubelet.player import KubeletPlayer
from devcluster.ragcorpus import condition
from tests.controlplane import test_operator_lifecycle as lifecycle
from tests.operator_builders import make_corpus, on_local_node, with_answer_cache
from tests.operator_support import (
    Operator,
    everything_told,
    server_deployment,
    until_condition,
)

REDIS = "redis://redis.cache.svc:6379/1"
PASSWORD = "cp-redis-password-8c41d2e7f0"
FIELD = "spec.runtime.cache.redis.passwordSecretRef"


def test_the_server_gets_the_cache_settings_and_the_redis_password_only_by_reference(
    operator: Operator,
    api: client.ApiClient,
    core: client.CoreV1Api,
    custom: client.CustomObjectsApi,
    kubelet: KubeletPlayer,
    ns: str,
) -> None:
    body = make_corpus(
        "cached", on_local_node, with_answer_cache(REDIS, "redis-cache", size=500, ttlSeconds=90)
    )
    lifecycle.apply_corpus(core, custom, ns, body)
    stalled = until_condition(custom, ns, "cached", "Stalled", 30, status="True")
    assert condition(stalled, "Stalled")["reason"] == "SecretNotFound"
    assert FIELD in condition(stalled, "Stalled")["message"]

    secret = {"metadata": {"name": "redis-cache"}, "stringData": {"password": PASSWORD}}
    core.create_namespaced_secret(ns, client.V1Secret.model_validate(secret))
    until_condition(custom, ns, "cached", "Stalled", 30, status="False")
    lifecycle.bring_up(api, custom, kubelet, ns, "cached", "20260101-cafe")

    config = core.read_namespaced_config_map("cached-config", ns).data or {}
    assert config["OOZO_ANSWER_CACHE_REDIS_URL"] == REDIS
    assert (config["OOZO_ANSWER_CACHE_SIZE"], config["OOZO_ANSWER_CACHE_TTL_SECONDS"]) == ("500", "90")
    deployment = server_deployment(api, ns, "cached")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e for e in container["env"]}
    assert env["OOZO_ANSWER_CACHE_REDIS_PASSWORD"] == {
        "name": "OOZO_ANSWER_CACHE_REDIS_PASSWORD",
        "valueFrom": {"secretKeyRef": {"name": "redis-cache", "key": "password"}},
    }
    assert PASSWORD not in everything_told(api, custom, ns, "cached", deployment, config)

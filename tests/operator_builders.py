"""Fixture builders for RagCorpus tests, in the cert-manager style:

    make_corpus("docs", with_replicas(3), with_autoscaling(2, 5))

Each modifier takes the object (a plain dict, as the API server sees it) and changes it in place.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from devcluster.controlplane.plane import LOCAL_SCHEDULING

Modifier = Callable[[dict[str, Any]], None]


def make_corpus(name: str = "docs", *mods: Modifier, namespace: str | None = None) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "rag.oozo.dev/v1alpha1",
        "kind": "RagCorpus",
        "metadata": {"name": name},
        "spec": {"source": {"configMap": {"name": f"{name}-docs"}}},
    }
    if namespace:
        obj["metadata"]["namespace"] = namespace
    for mod in mods:
        mod(obj)
    return obj


def at(path: str, value: Any) -> Modifier:
    """Set a dotted path under the object, e.g. at("spec.chunking.size", 50)."""

    def mod(obj: dict[str, Any]) -> None:
        *parents, leaf = path.split(".")
        node = obj
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = copy.deepcopy(value)

    return mod


def with_source(**source: Any) -> Modifier:
    return at("spec.source", source)


def with_replicas(n: int) -> Modifier:
    return at("spec.runtime.replicas", n)


def with_autoscaling(low: int, high: int, cpu: int = 70) -> Modifier:
    return at(
        "spec.runtime.autoscaling",
        {"minReplicas": low, "maxReplicas": high, "targetCPUUtilizationPercentage": cpu},
    )


def with_auth(secret: dict[str, str] | None = None) -> Modifier:
    return at("spec.runtime.auth", {"enabled": True, **({"apiKeySecretRef": secret} if secret else {})})


def without_auth() -> Modifier:
    """The explicit opt-out of the default API key."""
    return at("spec.runtime.auth", {"enabled": False})


def with_network_policy(
    enabled: bool = True, peers: list[dict[str, Any]] | None = None, monitoring: str | None = None
) -> Modifier:
    """spec.runtime.networkPolicy: `peers` is its `from`, `monitoring` its monitoringNamespace."""
    policy: dict[str, Any] = {"enabled": enabled}
    if peers is not None:
        policy["from"] = peers
    if monitoring is not None:
        policy["monitoringNamespace"] = monitoring
    return at("spec.runtime.networkPolicy", policy)


def with_openai(secret: str = "openai", key: str = "api-key", base_url: str | None = None) -> Modifier:
    gen: dict[str, Any] = {
        "provider": "openai",
        "model": "gpt-4o-mini",
        "apiKeySecretRef": {"name": secret, "key": key},
    }
    if base_url:
        gen["baseURL"] = base_url
    return at("spec.generation", gen)


def with_refresh(schedule: str) -> Modifier:
    return at("spec.refresh", {"schedule": schedule})


def on_local_node(obj: dict[str, Any]) -> None:
    """Every pod of the corpus lands on oozo-local-0, where the test plays the kubelet."""
    obj["spec"]["scheduling"] = copy.deepcopy(LOCAL_SCHEDULING)


def with_small_pods(obj: dict[str, Any]) -> None:
    """Tiny requests, so many corpora fit on the one test node (8 CPU, 16Gi)."""
    small = {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"memory": "256Mi"}}
    obj["spec"].setdefault("index", {})["resources"] = small
    obj["spec"].setdefault("runtime", {})["resources"] = small


def with_rerank(
    endpoint: str = "http://tei-reranker.models:8080",
    api: str = "tei",
    secret: str | None = None,
    **fields: Any,
) -> Modifier:
    """spec.retrieval.rerank: `fields` are model/topN/timeoutSeconds; the API key's Secret (key
    `api-key`) when `secret` is given."""
    rerank: dict[str, Any] = {"endpoint": endpoint, "api": api, **fields}
    if secret:
        rerank["apiKeySecretRef"] = {"name": secret, "key": "api-key"}
    return at("spec.retrieval.rerank", rerank)


def with_answer_cache(
    redis_url: str | None = None, secret: str = "redis-cache", key: str = "password", **fields: int
) -> Modifier:
    """spec.runtime.cache: `fields` are size/ttlSeconds; a Redis with its password Secret when
    `redis_url` is given."""
    cache: dict[str, Any] = dict(fields)
    if redis_url:
        cache["redis"] = {"url": redis_url, "passwordSecretRef": {"name": secret, "key": key}}
    return at("spec.runtime.cache", cache)

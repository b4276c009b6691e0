"""Deployment NAME: `oozo serve` pinned to one published index version.

The version comes from status.index (what the index Job reported), never from the spec, so a
new version rolls out only after it has been built; until the first build there is no
Deployment at all. The version is in the env (OOZO_INDEX_VERSION) and in a pod-template
annotation, so changing it is a rolling update with maxUnavailable 0: the old version keeps
answering until the new pods are ready."""

from __future__ import annotations

from typing import Any

from oozo_contract.serve_settings import ServeSettings
from oozo_contract.settings import env_for, env_name
from oozo_operator.render import answer_cache, configmap, embedding, pod, rerank, secret
from oozo_operator.render import labels as L
from oozo_operator.render.corpus import INDEX_DIR, SERVER_PORT, Corpus, short_hash
from oozo_operator.render.server_memory import DEFAULT_RESOURCES as DEFAULT_RESOURCES
from oozo_operator.render.server_memory import server_resources

CONTAINER = "server"
PRE_STOP_SECONDS = 5


def _secret_env(corpus: Corpus) -> list[dict[str, Any]]:
    """Secrets reach the server by reference; the operator never reads their values."""
    env: list[dict[str, Any]] = []
    gen = corpus.spec.generation
    if gen.provider == "openai" and gen.api_key_secret_ref:
        ref = gen.api_key_secret_ref
        env.append(
            {
                "name": env_name(ServeSettings, "openai_api_key"),
                "valueFrom": {"secretKeyRef": {"name": ref.name, "key": ref.key}},
            }
        )
    env.extend(embedding.api_key_env(corpus.spec.embedding))
    env.extend(answer_cache.password_env(corpus.spec.runtime.cache))
    env.extend(rerank.api_key_env(corpus.spec.retrieval.rerank))
    api_keys = secret.api_key_ref(corpus)
    if api_keys:
        env.append(
            {
                "name": env_name(ServeSettings, "api_keys"),
                "valueFrom": {"secretKeyRef": {"name": api_keys[0], "key": api_keys[1]}},
            }
        )
    return env


def _probe(path: str, **timing: int) -> dict[str, Any]:
    return {"httpGet": {"path": path, "port": "http"}, **timing}


def replicas(corpus: Corpus) -> int | None:
    """None when an HPA owns the count: leaving the field out of the applied object keeps the
    operator from fighting the autoscaler over it."""
    return None if corpus.spec.runtime.autoscaling else corpus.spec.runtime.replicas


def render(
    corpus: Corpus, version: str, model: str | None = None, memory_bytes: int | None = None
) -> dict[str, Any]:
    """`memory_bytes`: what a replica needs for `version` (status.index.memoryBytes), which the
    default memory request follows (render/server_memory.py); None when unknown."""
    rt = corpus.spec.runtime
    version_env = env_for(ServeSettings, index_version=version)
    env = [
        *pod.BASE_ENV,
        *({"name": k, "value": v} for k, v in version_env.items()),
        *_secret_env(corpus),
    ]
    template_labels = L.labels(corpus, L.SERVER)
    model_volumes, model_mounts = embedding.model_volume(corpus.spec.embedding)
    resources = server_resources(rt.resources.wire() if rt.resources else None, memory_bytes)
    spec: dict[str, Any] = {
        "selector": {"matchLabels": L.selector(corpus, L.SERVER)},
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
        "revisionHistoryLimit": 5,
        "template": {
            "metadata": {
                "labels": template_labels,
                "annotations": {
                    L.INDEX_VERSION: version,
                    # ConfigMap changes do not restart pods by themselves; this does.
                    L.CONFIG_HASH: short_hash(configmap.serve_env(corpus, model)),
                },
            },
            "spec": {
                "securityContext": dict(pod.POD_SECURITY),
                "automountServiceAccountToken": False,
                "terminationGracePeriodSeconds": PRE_STOP_SECONDS + 25,  # + in-flight queries
                **pod.placement(corpus),
                "containers": [
                    {
                        "name": CONTAINER,
                        "image": corpus.server_image,
                        "imagePullPolicy": corpus.settings.image_pull_policy,
                        "command": ["oozo"],
                        "args": ["serve", "--index", INDEX_DIR],
                        "ports": [{"name": "http", "containerPort": SERVER_PORT, "protocol": "TCP"}],
                        "envFrom": [{"configMapRef": {"name": corpus.config_name}}],
                        "env": env,
                        "resources": resources,
                        "securityContext": dict(pod.CONTAINER_SECURITY),
                        "startupProbe": _probe("/health", periodSeconds=5, failureThreshold=60),
                        "readinessProbe": _probe("/ready", periodSeconds=5, failureThreshold=3),
                        "livenessProbe": _probe("/health", periodSeconds=10, failureThreshold=3),
                        # Keep answering for a few seconds after the pod is marked for deletion,
                        # while Service endpoints (kube-proxy, ingress) catch up: without it a
                        # rolling update refuses the connections routed in that window.
                        "lifecycle": {"preStop": {"sleep": {"seconds": PRE_STOP_SECONDS}}},
                        "volumeMounts": [pod.index_mount(read_only=True), pod.TMP_MOUNT, *model_mounts],
                    }
                ],
                "volumes": [pod.index_volume(corpus, read_only=True), pod.TMP_VOLUME, *model_volumes],
            },
        },
    }
    count = replicas(corpus)
    if count is not None:
        spec["replicas"] = count
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": L.metadata(corpus, corpus.name, L.SERVER),
        "spec": spec,
    }

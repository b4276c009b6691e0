"""`report`: a support bundle (tar.gz) of one corpus: the RagCorpus with its status, the status
summary, its Events, the manifest of every object it owns (directly or through a Job or
ReplicaSet, by ownerReference uid), the names and types of the namespace's Secrets, and the
recent logs of its pods.

Secret values never enter the bundle: Secrets are reduced to name and type before anything is
written, and objects of kind Secret are never written as manifests. What the user may not read
is noted in errors.txt instead of failing the whole report."""

from __future__ import annotations

import io
import json
import tarfile
import time
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client

from oozo_kubectl.kube import Cluster, PluginError
from oozo_kubectl.logs import LogSource, read_log
from oozo_kubectl.status import observe
from oozo_kubectl.summary import Observed, status_summary

LOG_TAIL_LINES = 500


def owned_closure(root_uid: str, objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every object owned by root_uid, or by an object that is (pods of Jobs, ReplicaSets of the
    Deployment, their pods), in a stable order."""
    owned: dict[str, dict[str, Any]] = {}
    frontier = {root_uid}
    while frontier:
        found = {
            o["metadata"]["uid"]: o
            for o in objects
            if o["metadata"]["uid"] not in owned
            and any(ref.get("uid") in frontier for ref in o["metadata"].get("ownerReferences") or [])
        }
        owned.update(found)
        frontier = set(found)
    return sorted(owned.values(), key=lambda o: (o["kind"], o["metadata"]["name"]))


def secret_listing(secrets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"name": s["metadata"]["name"], "type": s.get("type")} for s in secrets]


def _lists(cluster: Cluster) -> list[tuple[str, str, Any]]:
    """(kind, apiVersion, list call) of every kind a corpus can own, and of what its Jobs and
    Deployment own."""
    api = cluster.api
    apps, batch, core = cluster.apps, cluster.batch, cluster.core
    return [
        ("ConfigMap", "v1", core.list_namespaced_config_map),
        ("Service", "v1", core.list_namespaced_service),
        ("PersistentVolumeClaim", "v1", core.list_namespaced_persistent_volume_claim),
        ("Pod", "v1", core.list_namespaced_pod),
        ("Deployment", "apps/v1", apps.list_namespaced_deployment),
        ("ReplicaSet", "apps/v1", apps.list_namespaced_replica_set),
        ("Job", "batch/v1", batch.list_namespaced_job),
        ("CronJob", "batch/v1", batch.list_namespaced_cron_job),
        ("HorizontalPodAutoscaler", "autoscaling/v2",
         client.AutoscalingV2Api(api).list_namespaced_horizontal_pod_autoscaler),
        ("PodDisruptionBudget", "policy/v1", client.PolicyV1Api(api).list_namespaced_pod_disruption_budget),
        ("NetworkPolicy", "networking.k8s.io/v1", client.NetworkingV1Api(api).list_namespaced_network_policy),
        ("Ingress", "networking.k8s.io/v1", client.NetworkingV1Api(api).list_namespaced_ingress),
    ]  # fmt: skip


def _tidy(obj: dict[str, Any], kind: str, api_version: str) -> dict[str, Any]:
    """List items lack kind/apiVersion; managedFields only add noise to a bundle."""
    obj = {"apiVersion": api_version, "kind": kind, **obj}
    obj["metadata"] = {k: v for k, v in obj["metadata"].items() if k != "managedFields"}
    return obj


class Bundle:
    def __init__(self, root: str) -> None:
        self.root = root
        self.buffer = io.BytesIO()
        self.tar = tarfile.open(fileobj=self.buffer, mode="w:gz")  # noqa: SIM115 (closed by close())
        self.files: list[str] = []

    def add(self, path: str, text: str) -> None:
        data = text.encode()
        info = tarfile.TarInfo(f"{self.root}/{path}")
        info.size, info.mtime, info.mode = len(data), int(time.time()), 0o644
        self.tar.addfile(info, io.BytesIO(data))
        self.files.append(path)

    def add_yaml(self, path: str, obj: Any) -> None:
        self.add(path, yaml.safe_dump(obj, sort_keys=False))

    def close(self) -> bytes:
        self.tar.close()
        return self.buffer.getvalue()


def build_report(cluster: Cluster, name: str, log_tail: int = LOG_TAIL_LINES) -> tuple[bytes, list[str]]:
    """The bundle's bytes and the paths inside it."""
    obs: Observed = observe(cluster, name)
    corpus = obs.corpus
    bundle = Bundle(f"oozo-report-{cluster.namespace}-{name}")
    errors: list[str] = []
    bundle.add_yaml(
        "ragcorpus.yaml", _tidy(corpus, corpus.get("kind", "RagCorpus"), corpus.get("apiVersion", ""))
    )
    bundle.add("status.json", json.dumps(status_summary(obs), indent=2))
    bundle.add_yaml("events.yaml", obs.events)
    objects: list[dict[str, Any]] = []
    for kind, api_version, list_call in _lists(cluster):
        try:
            objects += [_tidy(o, kind, api_version) for o in cluster.items(list_call, kind)]
        except PluginError as err:
            errors.append(str(err))
    children = owned_closure(corpus["metadata"]["uid"], objects)
    for obj in children:
        bundle.add_yaml(f"children/{obj['kind']}-{obj['metadata']['name']}.yaml", obj)
    try:
        secrets = secret_listing(cluster.items(cluster.core.list_namespaced_secret, "secrets"))
        bundle.add_yaml("secrets.yaml", secrets)
    except PluginError as err:
        errors.append(str(err))
    for pod in (o for o in children if o["kind"] == "Pod"):
        for container in (pod["spec"].get("initContainers") or []) + pod["spec"]["containers"]:
            source = LogSource(pod["metadata"]["name"], container["name"])
            try:
                bundle.add(f"logs/{source.pod}_{source.container}.log", read_log(cluster, source, log_tail))
            except PluginError as err:
                errors.append(str(err))
    if errors:
        bundle.add("errors.txt", "\n".join(errors) + "\n")
    return bundle.close(), bundle.files


def write_report(cluster: Cluster, name: str, out: Path | None) -> tuple[Path, list[str]]:
    data, files = build_report(cluster, name)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = out or Path(f"oozo-report-{cluster.namespace}-{name}-{stamp}.tar.gz")
    path.write_bytes(data)
    return path, files

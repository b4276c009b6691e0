"""One rendered pod's container on this host as a real container: the pod's ConfigMaps and
Secrets resolved into its environment, its volumes as host folders (emptyDir made here, PVCs
given by the caller), a loopback pod address, then `podman run` with the rendered security context.
What a kubelet with runc does for one container, without the API server: the caller hands in
the objects (rendered by the operator, or read from a cluster)."""

from __future__ import annotations

import base64
import copy
import random
import socket
from dataclasses import dataclass, field
from pathlib import Path

from devcluster.containers.podman import Exited, Podman
from devcluster.containers.run_args import ContainerPlan, container_plan
from devcluster.kubelet.launch import ConfigError, container_env

# Kubernetes makes an emptyDir world-writable (0777): any runAsUser may write to it.
EMPTY_DIR_MODE = 0o777


def free_loopback_address(port: int) -> str:
    """A loopback address 127.0.x.y (never 127.0.0.1) whose `port` is free: the pod's IP."""
    for _ in range(200):
        address = f"127.0.{random.randint(100, 250)}.{random.randint(2, 250)}"
        with socket.socket() as probe:
            try:
                probe.bind((address, port))
            except OSError:
                continue
            return address
    raise OSError(f"no loopback address with port {port} free")


@dataclass
class PodObjects:
    """The namespace objects a pod refers to, by name: ConfigMap data and decoded Secret data."""

    config_maps: dict[str, dict[str, str]] = field(default_factory=dict)
    secrets: dict[str, dict[str, str]] = field(default_factory=dict)

    def add(self, obj: dict) -> PodObjects:
        name = obj["metadata"]["name"]
        if obj["kind"] == "ConfigMap":
            self.config_maps[name] = dict(obj.get("data") or {})
        elif obj["kind"] == "Secret":
            data = {k: base64.b64decode(v).decode() for k, v in (obj.get("data") or {}).items()}
            self.secrets[name] = {**data, **(obj.get("stringData") or {})}
        else:
            raise ValueError(f"a pod refers to ConfigMaps and Secrets, not {obj['kind']}")
        return self

    def lookup(self, kind: str, name: str) -> dict[str, str] | None:
        return (self.config_maps if kind == "configmap" else self.secrets).get(name)


@dataclass
class ContainerPod:
    """A pod (from a rendered pod template) whose one container runs under podman."""

    pod: dict
    container: dict
    plan: ContainerPlan
    pod_ip: str
    folder: Path

    @property
    def termination_file(self) -> Path:
        return self.folder / "termination-log"


def prepare(
    podman: Podman,
    template: dict,
    *,
    name: str,
    image: str,
    objects: PodObjects,
    claims: dict[str, Path],
    folder: Path,
    container_name: str | None = None,
    pod_ip: str | None = None,
    provided: dict[str, tuple[Path, str]] | None = None,
    service_env: dict[str, str] | None = None,
) -> ContainerPod:
    """Everything a kubelet does before it starts the container. template is a pod template
    (metadata + spec), image the local image standing in for the rendered one, claims the host
    folder of each PersistentVolumeClaim by claim name. provided: volumes the API server adds to
    a real pod (the ServiceAccount admission plugin's token volume), name → (host folder, mount
    path), mounted read-only into every container; service_env: the variables a kubelet injects
    (KUBERNETES_SERVICE_HOST/PORT). Raises ConfigError where a kubelet would not create the
    container (a missing reference, runAsNonRoot that cannot hold)."""
    spec = copy.deepcopy(template["spec"])
    for volume_name, (_, mount_path) in (provided or {}).items():
        spec.setdefault("volumes", []).append({"name": volume_name, "projected": {"sources": []}})
        for each in spec["containers"]:
            mount = {"name": volume_name, "mountPath": mount_path, "readOnly": True}
            each.setdefault("volumeMounts", []).append(mount)
    pod = {"metadata": {**template.get("metadata", {}), "name": name}, "spec": spec}
    containers = pod["spec"]["containers"]
    container = next((c for c in containers if c["name"] == container_name), containers[0])
    folder.mkdir(parents=True, exist_ok=True)
    volume_dirs: dict[str, str] = {}
    for volume in pod["spec"].get("volumes") or []:
        if "emptyDir" in volume:
            path = folder / "volumes" / volume["name"]
            path.mkdir(parents=True, exist_ok=True)
            path.chmod(EMPTY_DIR_MODE)
        elif volume["name"] in (provided or {}):
            path = (provided or {})[volume["name"]][0]
        elif "persistentVolumeClaim" in volume:
            claim = volume["persistentVolumeClaim"]["claimName"]
            if claim not in claims:
                raise ConfigError(f"persistentvolumeclaim {claim!r} is not bound")
            path = claims[claim]
        else:
            raise ConfigError(f"volume {volume['name']!r}: only emptyDir and PVCs are run in containers yet")
        volume_dirs[volume["name"]] = str(path)
    env = {**(service_env or {}), **container_env(pod, container, objects.lookup)}
    port = next((p["containerPort"] for p in container.get("ports") or []), 8000)
    address = pod_ip or free_loopback_address(port)
    termination = folder / "termination-log"
    termination.write_text("")
    termination.chmod(0o666)  # the container's user writes its result here, as on a node
    plan = container_plan(
        pod,
        container,
        image=image,
        image_user=podman.image_user(image),
        env=env,
        volume_dirs=volume_dirs,
        pod_ip=address,
        termination_dir=str(folder),
        name=name,
    )
    return ContainerPod(pod=pod, container=container, plan=plan, pod_ip=address, folder=folder)


def run_to_completion(podman: Podman, pod: ContainerPod, timeout: float = 300) -> Exited:
    podman.start(pod.plan)
    try:
        return podman.wait(pod.plan.name, pod.termination_file, timeout)
    finally:
        podman.remove(pod.plan.name)

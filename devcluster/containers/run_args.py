"""How a pod's container becomes a `podman run` command line: image, command and args, env,
volumes as bind mounts with their read-only flags, and the security context as a kubelet with
runc would apply it. Pure (no I/O), so every rule is unit tested
(tests/unit/test_container_run_args.py); devcluster/containers/podman.py runs the result.

What stays like the local kubelet (devcluster/kubelet/launch.py): the pod's "network namespace" is
one loopback address (host network), handed to the program as OOZO_HOST, so replicas listen on
the same port without a bridge network.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from devcluster.kubelet.launch import TERMINATION_LOG, ConfigError

# The pod-level securityContext fields a container-level one overrides (the rest are pod-only).
_SHARED_FIELDS = ("runAsUser", "runAsGroup", "runAsNonRoot", "seccompProfile")


def effective_security(pod_spec: dict, container: dict) -> dict:
    """The container's security context with the pod's defaults filled in, as the kubelet merges them."""
    pod_level = pod_spec.get("securityContext") or {}
    merged = {k: pod_level[k] for k in _SHARED_FIELDS if k in pod_level}
    merged.update(container.get("securityContext") or {})
    return merged


def verify_run_as_non_root(security: dict, image_user: str, pod_name: str, container_name: str) -> None:
    """The kubelet's runAsNonRoot check (before it creates the container): the user the container
    will run as must be known to be non-zero. Raises ConfigError with the kubelet's own wording,
    which it reports as CreateContainerConfigError."""
    if not security.get("runAsNonRoot"):
        return
    where = f"(pod: {pod_name!r}, container: {container_name})"
    if "runAsUser" in security:
        if int(security["runAsUser"]) == 0:
            raise ConfigError(f"container's runAsUser breaks non-root policy {where}")
        return
    user = image_user.split(":", 1)[0] or "0"  # an image without USER runs as root
    if not user.isdigit():
        raise ConfigError(
            f"container has runAsNonRoot and image has non-numeric user ({user}), "
            f"cannot verify user is non-root {where}"
        )
    if int(user) == 0:
        raise ConfigError(f"container has runAsNonRoot and image will run as root {where}")


def _security_flags(pod_spec: dict, security: dict) -> list[str]:
    flags: list[str] = []
    if "runAsUser" in security:
        group = security.get("runAsGroup", security["runAsUser"])
        flags += ["--user", f"{security['runAsUser']}:{group}"]
    pod_level = pod_spec.get("securityContext") or {}
    for group in [pod_level["fsGroup"]] if "fsGroup" in pod_level else []:
        flags += ["--group-add", str(group)]
    for group in pod_level.get("supplementalGroups") or []:
        flags += ["--group-add", str(group)]
    if security.get("readOnlyRootFilesystem"):
        # Kubernetes adds no writable tmpfs of its own: podman's default /tmp, /run, /var/tmp would
        # hide a pod that writes where it declared no volume.
        flags += ["--read-only", "--read-only-tmpfs=false"]
    if security.get("allowPrivilegeEscalation") is False:
        flags += ["--security-opt", "no-new-privileges"]
    capabilities = security.get("capabilities") or {}
    for cap in capabilities.get("drop") or []:
        flags += ["--cap-drop", cap]
    for cap in capabilities.get("add") or []:
        flags += ["--cap-add", cap]
    if security.get("privileged"):
        flags += ["--privileged"]
    seccomp = (security.get("seccompProfile") or {}).get("type")
    if seccomp == "Unconfined":
        flags += ["--security-opt", "seccomp=unconfined"]
    elif seccomp == "Localhost":
        raise ConfigError("seccompProfile Localhost is not supported by the container runner")
    # RuntimeDefault (and unset, which Oozo never renders) is podman's default seccomp profile.
    return flags


def _resource_flags(container: dict) -> list[str]:
    limits = (container.get("resources") or {}).get("limits") or {}
    flags: list[str] = []
    if "memory" in limits:
        flags += ["--memory", _bytes(str(limits["memory"]))]
    if "cpu" in limits:
        flags += ["--cpus", _cpus(str(limits["cpu"]))]
    return flags


_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}
_DECIMAL = {"k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}


def _bytes(quantity: str) -> str:
    for suffix, factor in {**_BINARY, **_DECIMAL}.items():
        if quantity.endswith(suffix):
            return str(int(float(quantity[: -len(suffix)]) * factor))
    return str(int(float(quantity)))


def _cpus(quantity: str) -> str:
    return str(int(quantity[:-1]) / 1000) if quantity.endswith("m") else quantity


@dataclass(frozen=True)
class ContainerPlan:
    """A container ready to run: the image to use (the rendered one or its local stand-in) and
    the `podman run` arguments that go before the image (flags) and after it (args)."""

    name: str
    flags: list[str]
    image: str
    args: list[str]

    def argv(self, podman: str) -> list[str]:
        return [podman, "run", "--name", self.name, *self.flags, self.image, *self.args]


def container_plan(
    pod: dict,
    container: dict,
    *,
    image: str,
    image_user: str,
    env: dict[str, str],
    volume_dirs: dict[str, str],
    pod_ip: str,
    termination_dir: str,
    name: str,
) -> ContainerPlan:
    """The `podman run` of one container of `pod`. env is the container's resolved environment
    (devcluster.kubelet.launch.container_env), volume_dirs the host folder of each pod volume.
    Raises ConfigError where a kubelet would refuse to create the container."""
    pod_spec = pod["spec"]
    security = effective_security(pod_spec, container)
    verify_run_as_non_root(security, image_user, pod["metadata"]["name"], container["name"])
    flags = ["--network", "host", "--hostname", pod["metadata"]["name"]]
    flags += _security_flags(pod_spec, security)
    flags += _resource_flags(container)
    read_only_volumes = {
        vol["name"]
        for vol in pod_spec.get("volumes") or []
        if (vol.get("persistentVolumeClaim") or {}).get("readOnly")
    }
    for mount in container.get("volumeMounts") or []:
        if mount["name"] not in volume_dirs:
            raise ConfigError(f"volumeMount {mount['name']!r} names no volume of the pod")
        source = volume_dirs[mount["name"]]
        if mount.get("subPath"):
            source = f"{source}/{mount['subPath']}"
        read_only = mount.get("readOnly") or mount["name"] in read_only_volumes
        flags += ["--volume", f"{source}:{mount['mountPath']}:{'ro' if read_only else 'rw'}"]
    termination_path = container.get("terminationMessagePath", TERMINATION_LOG)
    flags += ["--volume", f"{termination_dir}/termination-log:{termination_path}:rw"]
    for key, value in {**env, "OOZO_HOST": pod_ip}.items():
        flags += ["--env", f"{key}={value}"]
    if container.get("workingDir"):
        flags += ["--workdir", container["workingDir"]]
    args = list(container.get("args") or [])
    if container.get("command"):
        # podman takes a JSON list for an entrypoint of several words.
        flags += ["--entrypoint", json.dumps(list(container["command"]))]
    return ContainerPlan(name=name, flags=flags, image=image, args=args)

"""The local kubelet's container runtime (OOZO_KUBELET_RUNTIME=podman): a pod's container as a
real container (podman + runc) instead of a host process, with the `podman run` flags of
devcluster/containers/run_args.py (command, args, env, volumes as bind mounts with their
read-only flags, the security context, the termination-message file, resource limits).

The network is the host's: the container listens on the pod's loopback address (OOZO_HOST, as
the host-process path gives it), so readiness probes, Services (resolve_service) and the
operator reach it at the same address as a process, and replicas share a port without a bridge,
a CNI or iptables rules that would need a network namespace per pod on this host.

Which image runs a container: the rendered image is a registry reference nothing here can pull;
an `oozo…` image maps to the local image `make images` built for what it runs (oozo_images_for:
`oozo serve` → oozo-server, other `oozo` subcommands → oozo-runtime). A container whose local image
is absent (a machine that built only some of the images) runs as a host process, and the
kubelet's log says so. Every container carries the label
oozo.dev/devcluster=<owner>, so the kubelet removes exactly the containers it started.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import subprocess
import threading
import uuid
from pathlib import Path

from devcluster.containers.podman import LABEL, Podman, ensure_podman
from devcluster.containers.run_args import container_plan
from devcluster.kubelet.container import ContainerProcess, _die_with_parent

log = logging.getLogger("oozo.local-kubelet")

RUNTIME_ENV = "OOZO_KUBELET_RUNTIME"
RUNTIMES = ("process", "podman")
# Kubernetes makes an emptyDir world-writable; local-path provisioners make a PV's folder 0777.
SHARED_DIR_MODE = 0o777
# podman's own exit codes when the container's program could not be started.
PODMAN_EXEC_FAILED = (126, 127)


def runtime_from_env(value: str | None = None) -> str:
    """The kubelet runtime named by OOZO_KUBELET_RUNTIME ('process' when unset)."""
    chosen = (value if value is not None else os.environ.get(RUNTIME_ENV, "")) or "process"
    if chosen not in RUNTIMES:
        raise ValueError(f"{RUNTIME_ENV}={chosen!r}: expected one of {', '.join(RUNTIMES)}")
    return chosen


def oozo_subcommand(container: dict) -> str:
    """The `oozo` subcommand a container of an Oozo image runs ('serve' by the image's CMD)."""
    command = list(container.get("command") or ["oozo"])
    args = list(container.get("args") or ([] if container.get("command") else ["serve"]))
    words = [*command[1:], *args] if Path(command[0]).name == "oozo" else []
    return words[0] if words else ""


def oozo_images_for(container: dict) -> tuple[str, ...]:
    """Which of the images `make images` builds can run a container of the rendered Oozo image,
    best first: `oozo serve` the server image; the other `oozo` subcommands (index, backup,
    restore) only the runtime image, which has torch and boto3; any other command (a shell, a
    script) the runtime image, else the server image, the smaller one with the same shell."""
    command = container.get("command") or ["oozo"]
    subcommand = oozo_subcommand(container)
    if subcommand == "serve":
        return ("server",)
    if Path(command[0]).name == "oozo":
        return ("runtime",)
    return ("runtime", "server")


class PodmanProcess(ContainerProcess):
    """One run of one container: the attached `podman run` client is the process the worker
    watches (its exit code is the container's), signals go through `podman kill`."""

    def __init__(
        self, popen: subprocess.Popen[bytes], log_path: Path, term_path: Path, podman: Podman, name: str
    ) -> None:
        super().__init__(popen, log_path, term_path)
        self.podman = podman
        self.name = name

    def signal(self, sig: int) -> None:
        done = subprocess.run(
            [self.podman.podman, "kill", "--signal", str(int(sig)), self.name],
            capture_output=True,
            timeout=60,
            check=False,
        )
        if done.returncode != 0 and self.popen.poll() is None:
            super().signal(sig)  # not created yet (or gone): stop the client, release() removes it

    def release(self) -> None:
        self.podman.remove(self.name)

    @property
    def runtime_id(self) -> str:
        return f"podman://{self.name}"

    def exec_argv(self, argv: list[str]) -> list[str]:
        return [self.podman.podman, "exec", self.name, *argv]


class PodmanRuntime:
    """The node's container runtime: podman (installed by hack/images/podman.sh), the local
    images, and the label that marks what this kubelet started."""

    def __init__(self, api_server: str, podman_path: str | None = None, tag: str | None = None) -> None:
        """api_server: the API server's URL, given to containers as KUBERNETES_SERVICE_HOST/PORT
        (a kubelet gives the `kubernetes` Service's ClusterIP, which kube-proxy sends there; no
        ClusterIP routes here, so the address itself), for in-cluster configuration."""
        self.podman = Podman(podman_path or ensure_podman(), owner=f"kubelet-{uuid.uuid4().hex[:8]}")
        host, _, port = api_server.removeprefix("https://").partition(":")
        self.service_env = {
            "KUBERNETES_SERVICE_HOST": host,
            "KUBERNETES_SERVICE_PORT": port or "443",
            "KUBERNETES_SERVICE_PORT_HTTPS": port or "443",
        }
        self.tag = tag or os.environ.get("OOZO_IMAGE_TAG", "dev")
        self._users: dict[str, str] = {}
        self._present: dict[str, bool] = {}
        self._lock = threading.Lock()

    def local_image(self, container: dict) -> str | None:
        """The local image that runs this container, or None (run it as a host process)."""
        ref = container.get("image", "")
        repo = ref.split("@")[0].rsplit("/", 1)[-1].split(":")[0]
        if not repo.startswith("oozo"):
            return ref if ref and self._exists(ref) else None
        kinds = ("operator",) if repo == "oozo-operator" else oozo_images_for(container)
        candidates = [f"oozo-{kind}:{self.tag}" for kind in kinds]
        return next((image for image in candidates if self._exists(image)), None)

    def _exists(self, image: str) -> bool:
        with self._lock:
            if image not in self._present:
                done = subprocess.run(
                    [self.podman.podman, "image", "exists", image], capture_output=True, check=False
                )
                self._present[image] = done.returncode == 0
            return self._present[image]

    def image_user(self, image: str) -> str:
        with self._lock:
            if image not in self._users:
                self._users[image] = self.podman.image_user(image)
            return self._users[image]

    def start(
        self,
        pod: dict,
        container: dict,
        *,
        image: str,
        env: dict[str, str],
        volume_dirs: dict[str, str],
        pod_ip: str,
        term_path: Path,
        log_path: Path,
        name: str,
    ) -> PodmanProcess:
        """Plan and start the container (attached, output appended to log_path). Raises
        ConfigError where a kubelet would not create it (runAsNonRoot that cannot hold)."""
        share_volumes(pod, volume_dirs)
        term_path.chmod(0o666)  # the container's user writes its result here, as on a node
        plan = container_plan(
            pod,
            container,
            image=image,
            image_user=self.image_user(image),
            env={**self.service_env, **env},
            volume_dirs=volume_dirs,
            pod_ip=pod_ip,
            termination_dir=str(term_path.parent),
            name=name,
        )
        argv = plan.argv(self.podman.podman)
        argv[2:2] = ["--label", f"{LABEL}={self.podman.owner}", "--pull", "never"]
        self.podman.remove(name)  # a leftover of an earlier run of this kubelet under this name
        with log_path.open("ab") as out:
            popen = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        log.info("container %s: %s", name, json.dumps(argv[argv.index(image) :]))
        return PodmanProcess(popen, log_path, term_path, self.podman, name)

    def remove_all(self) -> None:
        """Every container this kubelet started (its label), and nothing else."""
        with contextlib.suppress(Exception):
            self.podman.remove_all_mine()


def share_volumes(pod: dict, volume_dirs: dict[str, str]) -> None:
    """What a node's volume plugins do so a non-root container can use its volumes: an emptyDir
    and a PVC's folder are world-writable (0777: the emptyDir plugin, local-path provisioners);
    ConfigMap, Secret, projected and downwardAPI files get the pod's fsGroup as their group, with
    group read (the kubelet's SetVolumeOwnership). Volumes the pod mounts from the host as they
    are (hostPath) are left alone."""
    fs_group = (pod["spec"].get("securityContext") or {}).get("fsGroup")
    for volume in pod["spec"].get("volumes") or []:
        folder = volume_dirs.get(volume["name"])
        if folder is None:
            continue
        if "emptyDir" in volume or "persistentVolumeClaim" in volume:
            Path(folder).chmod(SHARED_DIR_MODE)
        elif fs_group is not None and not {"hostPath"} & set(volume):
            for path in [Path(folder), *Path(folder).rglob("*")]:
                shutil.chown(path, group=int(fs_group))
                path.chmod(path.stat().st_mode | (0o2050 if path.is_dir() else 0o040))


def exec_failed(exit_code: int, log_text: str) -> bool:
    """podman's exit when the container's program could not be executed: the kubelet's StartError."""
    return exit_code in PODMAN_EXEC_FAILED and "OCI runtime" in log_text

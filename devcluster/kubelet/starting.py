"""Starting one run of a container on the local node, as a host process (launch.launch_plan) or,
with the podman runtime and a local image for it, as a real container (in_container); and the
probes of that run, pointed where it runs. Called by the pod worker (worker.py)."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from devcluster.kubelet.container import ContainerProcess
from devcluster.kubelet.host import PodHost
from devcluster.kubelet.launch import (
    Lookup,
    PathTable,
    container_env,
    image_for,
    launch_plan,
    path_table,
)
from devcluster.kubelet.probes import Probe, probe_target

PROBES = ("readinessProbe", "livenessProbe", "startupProbe")


class PodView(Protocol):
    """What starting a container reads of its pod worker."""

    kubelet: PodHost
    pod: dict
    dir: Path
    rootfs: Path
    volume_dirs: dict[str, str]
    local_ip: str

    def _lookup(self, kind: str, name: str) -> dict[str, str] | None: ...


@dataclass
class Run:
    proc: ContainerProcess
    probes: dict[str, Probe | None]
    describe: str


def start_run(pod: PodView, spec: dict, restart: int) -> Run:
    """Start the container's next run. Raises ConfigError (not created: the kubelet keeps it
    waiting), StartError or OSError (its program cannot be started)."""
    name = spec["name"]
    log_path = pod.dir / "logs" / f"{name}.{restart}.log"
    runtime = pod.kubelet.containers
    image = runtime.local_image(spec) if runtime else None
    lookup: Lookup = pod._lookup
    user_env = container_env(pod.pod, spec, lookup)
    if runtime is not None and image is not None:
        term = pod.dir / "termination" / f"{name}.container" / "termination-log"
        term.parent.mkdir(parents=True, exist_ok=True)
        term.write_text("")
        probes = {k: _probe(spec, k, pod.local_ip, []) for k in PROBES}
        in_container = runtime.start(
            pod.pod,
            spec,
            image=image,
            env=user_env,
            volume_dirs=pod.volume_dirs,
            pod_ip=pod.local_ip,
            term_path=term,
            log_path=log_path,
            name=container_name(pod.pod, spec, restart),
        )
        for probe in probes.values():
            if probe is not None and probe.target.kind == "exec":  # runs inside the container
                probe.target.argv = in_container.exec_argv(probe.target.argv)
        return Run(in_container, probes, f"in container {in_container.runtime_id} from {image}")
    if runtime is not None:
        note = "host process: no local image for " + repr(spec.get("image", ""))
    else:
        note = "host process"
    term = pod.dir / "termination" / name
    term.parent.mkdir(parents=True, exist_ok=True)
    term.write_text("")
    oozo_image = image_for(spec.get("image", ""))
    table = path_table(spec, pod.volume_dirs, str(term), str(pod.rootfs), oozo_image)
    for cpath, local in table:
        if cpath in oozo_image.paths:
            Path(local).mkdir(parents=True, exist_ok=True)
    host = pod.kubelet
    plan = launch_plan(
        pod.pod, spec, user_env, table, pod.local_ip, str(host.python_bin), host.base_env, str(pod.rootfs)
    )
    probes = {k: _probe(spec, k, pod.local_ip, table) for k in PROBES}
    proc = ContainerProcess.start(plan.argv, plan.env, plan.cwd, log_path, term)
    return Run(proc, probes, f"{note} (pid {proc.popen.pid}) {' '.join(plan.argv)}")


def _probe(spec: dict, kind: str, local_ip: str, table: PathTable) -> Probe | None:
    return Probe(spec[kind], probe_target(spec[kind], spec, local_ip, table)) if spec.get(kind) else None


def pre_stop_view(spec: dict, proc: ContainerProcess | None, table: PathTable) -> tuple[dict, PathTable]:
    """The container spec and path table a preStop hook runs with: an exec hook of a run in a
    container runs inside it (`podman exec`), with container paths unchanged."""
    hook = (spec.get("lifecycle") or {}).get("preStop") or {}
    if proc is None or proc.exec_argv(["x"]) == ["x"] or "exec" not in hook:
        return spec, table
    inside = copy.deepcopy(spec)
    inside["lifecycle"]["preStop"]["exec"]["command"] = proc.exec_argv(list(hook["exec"]["command"]))
    return inside, []


def container_name(pod: dict, container: dict, restart: int) -> str:
    """The container's name in podman, unique per pod uid and run, as a kubelet names them."""
    meta = pod["metadata"]
    return f"k8s_{container['name']}_{meta['name']}_{meta['namespace']}_{meta['uid'][:8]}_{restart}"

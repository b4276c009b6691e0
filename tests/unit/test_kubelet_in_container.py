"""The local kubelet's podman runtime, its pure rules: which runtime the setting names, which local
image runs a container of the rendered Oozo image, how a run is named and reported, where its
exec hooks run, and what a node does to a pod's volumes so a non-root container can use them."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest

from devcluster.kubelet.container import ContainerProcess
from devcluster.kubelet.in_container import (
    exec_failed,
    oozo_images_for,
    oozo_subcommand,
    runtime_from_env,
    share_volumes,
)
from devcluster.kubelet.pod_status import ContainerState
from devcluster.kubelet.starting import container_name, pre_stop_view


def test_the_runtime_setting_defaults_to_host_processes_and_refuses_unknown_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OOZO_KUBELET_RUNTIME", raising=False)
    assert runtime_from_env() == "process"
    monkeypatch.setenv("OOZO_KUBELET_RUNTIME", "podman")
    assert runtime_from_env() == "podman"
    assert runtime_from_env("process") == "process"
    with pytest.raises(ValueError, match="OOZO_KUBELET_RUNTIME='docker': expected one of process, podman"):
        runtime_from_env("docker")


SERVER = {"command": ["oozo"], "args": ["serve", "--index", "/var/lib/oozo/index"]}
INDEX = {"command": ["oozo"], "args": ["index", "/source", "--out", "/var/lib/oozo/index"]}


def test_serve_runs_in_the_server_image_other_oozo_commands_need_the_runtime_image() -> None:
    assert oozo_subcommand(SERVER) == "serve" and oozo_images_for(SERVER) == ("server",)
    assert oozo_subcommand({}) == "serve"  # the image's own CMD
    assert oozo_subcommand({"args": ["backup", "--to", "s3://b"]}) == "backup"
    assert oozo_images_for(INDEX) == ("runtime",)
    assert oozo_images_for({"command": ["/opt/oozo/bin/oozo", "restore"]}) == ("runtime",)
    # A shell or another program: the runtime image when it is built, else the server's shell.
    assert oozo_images_for({"command": ["sh", "-c", "oozo serve"]}) == ("runtime", "server")


def test_a_run_is_named_per_pod_uid_and_restart_and_reported_by_that_name() -> None:
    pod = {"metadata": {"name": "docs-7f", "namespace": "team-a", "uid": "0123456789abcdef"}}
    assert container_name(pod, {"name": "server"}, 2) == "k8s_server_docs-7f_team-a_01234567_2"
    state = ContainerState(name="server", image="x", pid=42)
    assert state.container_id() == "oozo-local://42"
    state.runtime_id = "podman://k8s_server_docs-7f_team-a_01234567_2"
    assert state.container_id() == "podman://k8s_server_docs-7f_team-a_01234567_2"


class InContainer(ContainerProcess):
    def __init__(self) -> None:  # no process: only how exec argv are wrapped matters here
        pass

    def exec_argv(self, argv: list[str]) -> list[str]:
        return ["podman", "exec", "c1", *argv]


def test_an_exec_pre_stop_hook_of_a_container_runs_inside_it_with_its_own_paths() -> None:
    hook = {"exec": {"command": ["/bin/drain", "/var/lib/x"]}}
    spec: dict[str, Any] = {"name": "s", "lifecycle": {"preStop": hook}}
    table = [("/var/lib/x", "/host/pods/p/volumes/x")]
    inside, inside_table = pre_stop_view(spec, InContainer(), table)
    assert inside["lifecycle"]["preStop"]["exec"]["command"] == [
        "podman", "exec", "c1", "/bin/drain", "/var/lib/x",
    ]  # fmt: skip
    assert inside_table == [] and spec["lifecycle"]["preStop"]["exec"]["command"][0] == "/bin/drain"
    assert pre_stop_view(spec, None, table) == (spec, table)  # a host process: paths rewritten
    sleeping = {"name": "s", "lifecycle": {"preStop": {"sleep": {"seconds": 5}}}}
    assert pre_stop_view(sleeping, InContainer(), table) == (sleeping, table)


def test_volumes_are_shared_with_the_pods_non_root_user_as_a_node_shares_them(tmp_path: Path) -> None:
    folders = {name: tmp_path / name for name in ("tmp", "index", "config", "host")}
    for folder in folders.values():
        folder.mkdir(mode=0o700)
    secret_file = folders["config"] / "api-key"
    secret_file.write_text("k")
    secret_file.chmod(0o600)
    (folders["host"] / "f").write_text("h")
    pod = {
        "spec": {
            "securityContext": {"fsGroup": 65532},
            "volumes": [
                {"name": "tmp", "emptyDir": {}},
                {"name": "index", "persistentVolumeClaim": {"claimName": "docs-index"}},
                {"name": "config", "secret": {"secretName": "s"}},
                {"name": "host", "hostPath": {"path": str(folders["host"])}},
            ],
        }
    }
    share_volumes(pod, {name: str(folder) for name, folder in folders.items()})
    assert stat.S_IMODE(folders["tmp"].stat().st_mode) == 0o777
    assert stat.S_IMODE(folders["index"].stat().st_mode) == 0o777
    assert secret_file.stat().st_gid == 65532 and stat.S_IMODE(secret_file.stat().st_mode) == 0o640
    assert folders["config"].stat().st_gid == 65532
    assert stat.S_IMODE(folders["config"].stat().st_mode) & 0o2050 == 0o2050
    # A hostPath is the host's own folder: left as it is.
    assert stat.S_IMODE(folders["host"].stat().st_mode) == 0o700
    assert (folders["host"] / "f").stat().st_gid == os.getgid()


def test_podman_s_own_exec_failure_is_a_start_error_a_program_s_exit_code_is_not() -> None:
    oci = 'Error: runc: exec: "nope": executable file not found in $PATH: OCI runtime attempted...'
    assert exec_failed(127, oci)
    assert not exec_failed(127, "sh: 1: nope: not found")  # the shell's own 127: its program's exit
    assert not exec_failed(1, oci)

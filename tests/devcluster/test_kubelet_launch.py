"""How the local kubelet turns a pod spec into a local process: paths, env, argv."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest

from devcluster.kubelet.launch import (
    OOZO_RUNTIME_IMAGE,
    ConfigError,
    Image,
    Launch,
    Lookup,
    PathTable,
    StartError,
    container_env,
    decode_data,
    image_for,
    launch_plan,
    path_table,
    project_items,
    rewrite_path,
    rewrite_script,
    start_failure_reason,
)
from devcluster.kubelet.probes import probe_target
from devcluster.kubelet.services import local_address, pod_addresses
from oozo_operator.config import DEFAULT_INDEXER_IMAGE, DEFAULT_SERVER_IMAGE

REPO = Path(__file__).resolve().parents[2]
OPERATOR_DEFAULT_IMAGES = (DEFAULT_SERVER_IMAGE, DEFAULT_INDEXER_IMAGE)


def pod(*containers: dict, **spec: object) -> dict:
    return {
        "metadata": {"name": "handbook-abc", "namespace": "docs", "uid": "u-1", "labels": {"app": "rag"}},
        "spec": {"containers": list(containers), "nodeName": "oozo-local-0", **spec},
        "status": {"podIP": "10.233.0.2"},
    }


def container(**fields: object) -> dict:
    return {"name": "serve", "image": "ghcr.io/oozo-dev/oozo-runtime:0.1.0", **fields}


def lookup_from(objects: dict[tuple[str, str], dict[str, str]]) -> Lookup:
    return lambda kind, name: objects.get((kind, name))


INDEX_MOUNT = {"name": "index", "mountPath": "/var/lib/oozo/index"}
TMP_MOUNT = {"name": "tmp", "mountPath": "/tmp"}
DIRS = {"index": "/w/pv/docs-index", "tmp": "/w/pods/p/volumes/tmp", "src": "/w/pods/p/volumes/src"}


def table_for(c: dict) -> PathTable:
    return path_table(c, DIRS, "/w/pods/p/termination/serve", "/w/pods/p/rootfs", image_for(c["image"]))


def test_paths_under_a_mount_are_rewritten_longest_mount_first() -> None:
    c = container(
        volumeMounts=[INDEX_MOUNT, TMP_MOUNT, {"name": "src", "mountPath": "/var/lib/oozo/index/src"}]
    )
    table = table_for(c)
    assert rewrite_path("/var/lib/oozo/index", table) == "/w/pv/docs-index"
    assert rewrite_path("/var/lib/oozo/index/v1/manifest.json", table) == "/w/pv/docs-index/v1/manifest.json"
    assert rewrite_path("/var/lib/oozo/index/src/a.docx", table) == "/w/pods/p/volumes/src/a.docx"
    assert rewrite_path("--out=/tmp/x", table) == "--out=/w/pods/p/volumes/tmp/x"
    assert rewrite_path("/dev/termination-log", table) == "/w/pods/p/termination/serve"
    # A prefix that is not a path boundary, and paths under no mount, stay as they are.
    assert rewrite_path("/tmpfoo", table) == "/tmpfoo"
    assert rewrite_path("/etc/hosts", table) == "/etc/hosts"
    # Image paths not covered by a mount land in the pod's rootfs folder.
    assert rewrite_path("/var/cache/oozo/models", table) == "/w/pods/p/rootfs/var/cache/oozo/models"


def test_a_path_that_is_already_local_is_not_rewritten_again() -> None:
    """The operator renders what a pod reported (the index's model: the local folder of a model
    volume) into another pod; with that folder under /tmp and an emptyDir at /tmp, a second
    rewrite would point the server at a folder inside its own /tmp."""
    dirs = {"tmp": "/tmp/w/pods/p/volumes/tmp", "model": "/tmp/w/pv/model-store"}
    model_mount = {"name": "model", "mountPath": "/models/minilm", "subPath": "st/minilm"}
    c = container(volumeMounts=[TMP_MOUNT, model_mount])
    table = path_table(
        c, dirs, "/tmp/w/pods/p/termination/serve", "/tmp/w/pods/p/rootfs", image_for(c["image"])
    )
    assert rewrite_path("/models/minilm", table) == "/tmp/w/pv/model-store/st/minilm"
    assert rewrite_path("/tmp/w/pv/model-store/st/minilm", table) == "/tmp/w/pv/model-store/st/minilm"
    assert rewrite_path("/tmp/w/pods/p/volumes/tmp/x", table) == "/tmp/w/pods/p/volumes/tmp/x"
    assert rewrite_path("/tmp/x", table) == "/tmp/w/pods/p/volumes/tmp/x"


def test_shell_scripts_get_whole_container_paths_rewritten_once() -> None:
    table = table_for(container(volumeMounts=[INDEX_MOUNT, TMP_MOUNT]))
    script = 'cp /tmp/a /var/lib/oozo/index/v1 && echo ok > /dev/termination-log; ls /tmpx "/tmp"'
    assert rewrite_script(script, table) == (
        "cp /w/pods/p/volumes/tmp/a /w/pv/docs-index/v1 && echo ok > /w/pods/p/termination/serve; "
        'ls /tmpx "/w/pods/p/volumes/tmp"'
    )
    # /w/pods/p/volumes/tmp starts with nothing we map, but even a local path under /tmp would
    # not be rewritten a second time: one pass.
    assert rewrite_script("/tmp/x", [("/tmp", "/tmp/kubelet/tmp")]) == "/tmp/kubelet/tmp/x"


def test_sub_path_mounts_point_inside_the_volume() -> None:
    c = container(volumeMounts=[{"name": "src", "mountPath": "/src", "subPath": "handbook"}])
    assert rewrite_path("/src/a.docx", table_for(c)) == "/w/pods/p/volumes/src/handbook/a.docx"


def test_env_from_then_env_with_refs_and_expansion() -> None:
    c = container(
        envFrom=[
            {"configMapRef": {"name": "handbook-config"}},
            {"secretRef": {"name": "extra"}, "prefix": "X_"},
        ],
        env=[
            {"name": "OOZO_PORT", "value": "8000"},
            {"name": "URL", "value": "http://$(OOZO_HOST_NAME):$(OOZO_PORT)/$$(LITERAL)/$(UNDEFINED)"},
            {
                "name": "OOZO_API_KEYS",
                "valueFrom": {"secretKeyRef": {"name": "handbook-api-key", "key": "api-key"}},
            },
            {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
            {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {"name": "OPT", "valueFrom": {"configMapKeyRef": {"name": "nope", "key": "k", "optional": True}}},
        ],
    )
    objects = {
        ("configmap", "handbook-config"): {"OOZO_HOST_NAME": "rag", "OOZO_PORT": "9", "bad-name!": "x"},
        ("secret", "extra"): {"TOKEN": "t"},
        ("secret", "handbook-api-key"): {"api-key": "s3cret"},
    }
    env = container_env(pod(c), c, lookup_from(objects))
    assert env == {
        "OOZO_HOST_NAME": "rag",
        "OOZO_PORT": "8000",  # env wins over envFrom
        "X_TOKEN": "t",
        "URL": "http://rag:8000/$(LITERAL)/$(UNDEFINED)",
        "OOZO_API_KEYS": "s3cret",
        "POD": "handbook-abc",
        "APP": "rag",
        "IP": "10.233.0.2",
    }


@pytest.mark.parametrize(
    "env",
    [
        [{"name": "K", "valueFrom": {"secretKeyRef": {"name": "missing", "key": "k"}}}],
        [{"name": "K", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "absent"}}}],
    ],
)
def test_missing_required_reference_is_a_config_error(env: list) -> None:
    c = container(env=env)
    with pytest.raises(ConfigError, match="not found"):
        container_env(pod(c), c, lookup_from({("configmap", "cm"): {"other": "v"}}))


def plan(c: dict, user_env: dict[str, str] | None = None) -> Launch:
    p = pod(c)
    return launch_plan(
        p,
        c,
        user_env or {},
        table_for(c),
        "127.0.0.2",
        "/venv/bin",
        {"PATH": "/usr/bin:/bin"},
        "/w/pods/p/rootfs",
    )


def test_oozo_command_runs_the_venv_entry_point_with_local_paths_and_pod_address() -> None:
    c = container(
        command=["oozo"],
        args=["serve", "--index", "/var/lib/oozo/index", "--host", "0.0.0.0"],
        volumeMounts=[INDEX_MOUNT, TMP_MOUNT],
    )
    launch = plan(c, {"OOZO_INDEX_DIR": "/var/lib/oozo/index", "HOME": "/tmp", "OOZO_HOST": "0.0.0.0"})
    assert launch.argv == ["/venv/bin/oozo", "serve", "--index", "/w/pv/docs-index", "--host", "127.0.0.2"]
    assert launch.env["OOZO_INDEX_DIR"] == "/w/pv/docs-index"
    assert launch.env["OOZO_HOST"] == "127.0.0.2"  # its own loopback address, whatever the spec says
    assert launch.env["HOME"] == launch.env["TMPDIR"] == "/w/pods/p/volumes/tmp"
    assert launch.env["HF_HUB_OFFLINE"] == "1"  # the image's ENV
    assert launch.env["OOZO_MODEL_CACHE_DIR"] == "/w/pods/p/rootfs/var/cache/oozo/models"
    assert launch.env["PATH"].startswith("/venv/bin:")
    assert launch.env["HOSTNAME"] == "handbook-abc"
    assert launch.cwd == "/w/pods/p/rootfs"


def test_command_and_args_follow_the_entrypoint_cmd_rules() -> None:
    assert plan(container()).argv == [
        "/venv/bin/oozo",
        "serve",
        "--index",
        "/w/pods/p/rootfs/var/lib/oozo/index",
    ]
    assert plan(container(args=["index", "/src"])).argv == ["/venv/bin/oozo", "index", "/src"]
    assert plan(container(command=["/opt/oozo/bin/oozo", "version"])).argv == ["/venv/bin/oozo", "version"]
    assert plan(container(command=["oozo", "index", "$(SRC)"]), {"SRC": "/tmp/docs"}).argv[2] == "/tmp/docs"


def test_other_programs_run_from_path_or_fail_with_a_reason() -> None:
    shell = plan(container(image="busybox", command=["sh", "-c", "echo hi > /dev/termination-log"]))
    assert shell.argv[0].endswith("/sh")
    assert shell.argv[1:] == ["-c", "echo hi > /w/pods/p/termination/serve"]
    with pytest.raises(StartError, match='exec: "no-such-program": executable file not found') as err:
        plan(container(image="busybox", command=["no-such-program"]))
    assert start_failure_reason(err.value) == "StartError"
    assert start_failure_reason(ConfigError("secret 'x' not found")) == "CreateContainerConfigError"
    assert start_failure_reason(ConfigError("unsupported probe")) == "CreateContainerError"
    with pytest.raises(ConfigError, match="no entrypoint known"):
        plan(container(image="busybox"))


def test_runtime_image_profile_mirrors_the_dockerfile() -> None:
    dockerfile = (REPO / "Dockerfile.runtime").read_text()
    assert f'ENTRYPOINT ["{OOZO_RUNTIME_IMAGE.entrypoint[0]}"]' in dockerfile
    cmd = re.search(r"^CMD (\[.*\])$", dockerfile, re.M)
    assert cmd and list(OOZO_RUNTIME_IMAGE.cmd) == __import__("json").loads(cmd.group(1))
    for name, value in OOZO_RUNTIME_IMAGE.env:
        assert f"{name}={value}" in dockerfile
    assert image_for("oozo-runtime:dev") is OOZO_RUNTIME_IMAGE
    # the operator's two images, as the chart names them and as `make images` tags them
    for ref in ("oozo-server:dev", "oozo-indexer:dev", *OPERATOR_DEFAULT_IMAGES):
        assert image_for(ref) is OOZO_RUNTIME_IMAGE, ref
    assert image_for("docker.io/library/busybox:1.36") == Image()


def test_volume_files_from_configmap_and_secret() -> None:
    cm = {"data": {"a.md": "hello"}, "binaryData": {"b.docx": base64.b64encode(b"PK\x03\x04").decode()}}
    assert decode_data(cm, secret=False) == {"a.md": b"hello", "b.docx": b"PK\x03\x04"}
    secret = {"data": {"api-key": base64.b64encode(b"k").decode()}}
    assert decode_data(secret, secret=True) == {"api-key": b"k"}
    files = {"a.md": b"1", "b.docx": b"2"}
    assert project_items(files, [{"key": "a.md", "path": "docs/a.md"}], "cm", False) == {"docs/a.md": b"1"}
    with pytest.raises(ConfigError):
        project_items(files, [{"key": "zzz", "path": "z"}], "cm", False)


def test_probe_targets_use_the_local_address_and_named_ports() -> None:
    c = container(ports=[{"name": "http", "containerPort": 8000}])
    target = probe_target({"httpGet": {"path": "/ready", "port": "http"}}, c, "127.0.0.5", [])
    assert target.kind == "http" and target.url == "http://127.0.0.5:8000/ready"
    assert probe_target({"tcpSocket": {"port": 8000}}, c, "127.0.0.5", []).port == 8000
    with pytest.raises(ConfigError, match="named port"):
        probe_target({"httpGet": {"path": "/", "port": "metrics"}}, c, "127.0.0.5", [])


def test_pod_addresses_pair_an_api_ip_with_a_loopback_ip() -> None:
    assert pod_addresses(0) == ("10.233.0.2", "127.0.0.2")
    assert pod_addresses(252) == ("10.233.0.254", "127.0.0.254")
    assert pod_addresses(253) == ("10.233.1.2", "127.0.1.2")
    assert local_address("10.233.1.2") == "127.0.1.2"
    assert local_address("10.244.0.7") == "10.244.0.7"  # a kwok pod: not ours to translate

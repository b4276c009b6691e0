"""How a rendered container becomes `podman run` flags (devcluster/containers/run_args.py): the
security context as runc applies it, volumes with their read-only flags, the kubelet's
runAsNonRoot check with its own words."""

from __future__ import annotations

import pytest

from devcluster.containers.run_args import container_plan, effective_security, verify_run_as_non_root
from devcluster.kubelet.launch import ConfigError
from tests.containers.rendered import rendered_server


def plan_of(template: dict, image_user: str = "65532:65532") -> list[str]:
    pod = {"metadata": {"name": "docs-1"}, "spec": template["spec"]}
    plan = container_plan(
        pod,
        template["spec"]["containers"][0],
        image="oozo-server:dev",
        image_user=image_user,
        env={"OOZO_AUTH_ENABLED": "true"},
        volume_dirs={"index": "/srv/index", "tmp": "/srv/tmp"},
        pod_ip="127.0.100.2",
        termination_dir="/srv/pod",
        name="docs-1",
    )
    return plan.argv("podman")


def test_the_rendered_server_security_context_becomes_runc_flags() -> None:
    template, _ = rendered_server("v1")
    argv = plan_of(template)
    flags = " ".join(argv)
    assert "--user 65532:65532" in flags and "--group-add 65532" in flags
    assert "--read-only --read-only-tmpfs=false" in flags
    assert "--security-opt no-new-privileges" in flags and "--cap-drop ALL" in flags
    assert "seccomp=unconfined" not in flags  # RuntimeDefault: the runtime's own profile
    assert "--volume /srv/index:/var/lib/oozo/index:ro" in flags
    assert "--volume /srv/tmp:/tmp:rw" in flags
    assert "--volume /srv/pod/termination-log:/dev/termination-log:rw" in flags
    assert "--memory 2147483648" in flags
    assert "--env OOZO_HOST=127.0.100.2" in flags and "--network host" in flags
    assert argv[argv.index("oozo-server:dev") :] == [
        "oozo-server:dev",
        "serve",
        "--index",
        "/var/lib/oozo/index",
    ]
    assert argv[argv.index("--entrypoint") + 1] == '["oozo"]'


def test_a_container_security_context_overrides_the_pods() -> None:
    pod_spec = {"securityContext": {"runAsUser": 1000, "runAsNonRoot": True, "fsGroup": 5}}
    merged = effective_security(pod_spec, {"securityContext": {"runAsUser": 2000}})
    assert merged == {"runAsUser": 2000, "runAsNonRoot": True}


@pytest.mark.parametrize(
    ("security", "image_user", "message"),
    [
        ({"runAsNonRoot": True}, "", "image will run as root"),
        ({"runAsNonRoot": True}, "0:0", "image will run as root"),
        ({"runAsNonRoot": True}, "oozo", "non-numeric user"),
        ({"runAsNonRoot": True, "runAsUser": 0}, "65532", "runAsUser breaks non-root policy"),
    ],
)
def test_run_as_non_root_refuses_what_a_kubelet_refuses(
    security: dict, image_user: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        verify_run_as_non_root(security, image_user, "docs-1", "server")


def test_run_as_non_root_accepts_a_known_non_root_user() -> None:
    verify_run_as_non_root({"runAsNonRoot": True}, "65532:65532", "p", "c")
    verify_run_as_non_root({"runAsNonRoot": True, "runAsUser": 7}, "", "p", "c")
    verify_run_as_non_root({}, "", "p", "c")  # no policy: root is allowed


def test_a_mount_of_no_volume_is_refused() -> None:
    template, _ = rendered_server("v1")
    template["spec"]["containers"][0]["volumeMounts"].append({"name": "ghost", "mountPath": "/x"})
    with pytest.raises(ConfigError, match="ghost"):
        plan_of(template)

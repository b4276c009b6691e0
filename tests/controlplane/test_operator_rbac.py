"""The operator runs with exactly deploy/rbac.yaml: as its ServiceAccount, it brings a corpus to
Ready, generates an API key Secret, and notices a missing Secret — without being able to list,
watch or read Secret values anywhere."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from devcluster.kstatus import kstatus
from devcluster.kubelet.player import KubeletPlayer, index_result_message
from devcluster.ragcorpus import GROUP, PLURAL, VERSION, condition, docs_configmap, install_crd, volume_for
from devcluster.waiting import wait_for
from tests.operator_builders import make_corpus, on_local_node, with_auth, with_openai
from tests.operator_support import REPO, Operator, corpus, until_condition

SA = "system:serviceaccount:oozo-system:oozo-operator"


def kubectl(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["kubectl", *args], env=env, check=check, capture_output=True, text=True)


def service_account_kubeconfig(env: dict[str, str], admin: Path, target: Path) -> Path:
    token = kubectl(
        env, "create", "token", "oozo-operator", "-n", "oozo-system", "--duration=2h"
    ).stdout.strip()
    conf = yaml.safe_load(admin.read_text())
    cluster = conf["clusters"][0]
    target.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [cluster],
                "users": [{"name": "oozo-operator", "user": {"token": token}}],
                "contexts": [
                    {"name": "oozo", "context": {"cluster": cluster["name"], "user": "oozo-operator"}}
                ],
                "current-context": "oozo",
            }
        )
    )
    return target


@pytest.fixture(scope="module")
def api(control_plane: Any) -> Iterator[client.ApiClient]:
    install_crd(control_plane.env())
    kubectl(control_plane.env(), "apply", "--server-side", "-f", str(REPO / "deploy" / "rbac.yaml"))
    with control_plane.api_client() as api_client:
        yield api_client


@pytest.fixture(scope="module")
def operator(
    control_plane: Any, api: client.ApiClient, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Operator]:
    tmp = tmp_path_factory.mktemp("rbac")
    kubeconfig = service_account_kubeconfig(
        control_plane.env(), control_plane.kubeconfig, tmp / "sa.kubeconfig"
    )
    op = Operator({**control_plane.env(), "KUBECONFIG": str(kubeconfig)}, tmp).start()
    yield op
    op.stop()


@pytest.mark.parametrize(
    ("verb", "resource", "allowed"),
    [
        ("list", "secrets", "no"),
        ("watch", "secrets", "no"),
        ("get", "secrets", "yes"),
        ("create", "secrets", "yes"),
        ("delete", "secrets", "no"),
        ("update", "secrets", "no"),
        ("create", "clusterroles", "no"),
        ("delete", "ragcorpora.rag.oozo.dev", "no"),
        ("patch", "ragcorpora.rag.oozo.dev/status", "yes"),
        ("delete", "deployments.apps", "no"),
        ("watch", "jobs.batch", "yes"),
        ("create", "pods", "no"),
    ],
)
def test_service_account_can_do_only_what_it_needs(
    control_plane: Any, api: client.ApiClient, verb: str, resource: str, allowed: str
) -> None:
    answer = kubectl(control_plane.env(), "auth", "can-i", verb, resource, "-A", "--as", SA, check=False)
    assert answer.stdout.strip() == allowed, f"{verb} {resource}: {answer.stdout}{answer.stderr}"


def test_operator_with_least_privilege_reaches_ready(
    operator: Operator, api: client.ApiClient, ns: str
) -> None:
    core, custom, kubelet = (
        client.CoreV1Api(api),
        client.CustomObjectsApi(api),
        KubeletPlayer(client.CoreV1Api(api)),
    )
    docs_configmap(core, ns, "kb-docs")
    volume_for(core, ns, "kb")
    custom.create_namespaced_custom_object(
        GROUP, VERSION, ns, PLURAL, make_corpus("kb", on_local_node, with_auth())
    )
    kubelet.finish_index(ns, "kb", index_result_message("v1"))

    def serving() -> dict[str, Any] | None:
        kubelet.ready_servers(ns, "kb")
        obj = corpus(custom, ns, "kb")
        return obj if condition(obj, "Ready").get("status") == "True" else None

    obj = wait_for("Ready", serving, 60)
    assert kstatus(obj)[0] == "Current"
    meta = core.read_namespaced_secret("kb-api-key", ns).metadata
    assert meta is not None and meta.owner_references is not None
    assert meta.owner_references[0].name == "kb"


def test_missing_secret_is_seen_through_metadata_only(
    operator: Operator, api: client.ApiClient, ns: str
) -> None:
    core, custom = client.CoreV1Api(api), client.CustomObjectsApi(api)
    docs_configmap(core, ns, "llm-docs")
    volume_for(core, ns, "llm")
    custom.create_namespaced_custom_object(
        GROUP, VERSION, ns, PLURAL, make_corpus("llm", on_local_node, with_openai("nope"))
    )
    obj = until_condition(custom, ns, "llm", "Stalled", 30, status="True")
    assert (
        condition(obj, "Stalled")["reason"] == "SecretNotFound"
        and "nope" in condition(obj, "Stalled")["message"]
    )

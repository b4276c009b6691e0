"""The shipped examples, applied to a real API server with the operator running: every child
appears with the right wiring, and the quickstart goes Ready once its index is reported."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client

from devcluster.kstatus import kstatus
from devcluster.kubelet.player import KubeletPlayer, index_result_message
from devcluster.ragcorpus import GROUP, PLURAL, VERSION, condition, volume_for
from devcluster.waiting import wait_for
from tests.doc_commands import documented, namespaced_kubeconfig, shell
from tests.example_steps import steps_of
from tests.k8s_fields import owners_of
from tests.operator_builders import on_local_node
from tests.operator_support import REPO, Operator, corpus


def kubectl(env: dict[str, str], *args: str, input: str | None = None) -> str:
    return subprocess.run(
        ["kubectl", *args], env=env, check=True, capture_output=True, text=True, input=input
    ).stdout


def test_quickstart_goes_ready(
    control_plane: Any, operator: Operator, api: client.ApiClient, ns: str
) -> None:
    core, custom = client.CoreV1Api(api), client.CustomObjectsApi(api)
    volume_for(core, ns, "handbook")
    kubectl(
        control_plane.env(), "apply", "--server-side", "-n", ns, "-k", str(REPO / "examples/quickstart/demo")
    )
    job = wait_for("the index Job", lambda: client.BatchV1Api(api).list_namespaced_job(ns).items, 30)[0]
    volumes = {v.name: v for v in job.spec.template.spec.volumes}
    cm_name = corpus(custom, ns, "handbook")["spec"]["source"]["configMap"]["name"]
    assert volumes["source"].config_map.name == cm_name and cm_name.startswith("handbook-docs-")
    binary_data = core.read_namespaced_config_map(cm_name, ns).binary_data
    assert binary_data is not None and len(binary_data) == 3
    kubelet = KubeletPlayer(core)
    kubelet.finish_index(ns, "handbook", index_result_message("20260101-quick", documents=3, chunks=5))

    def serving() -> dict[str, Any] | None:
        kubelet.ready_servers(ns, "handbook")
        obj = corpus(custom, ns, "handbook")
        return obj if condition(obj, "Ready").get("status") == "True" else None

    obj = wait_for("Ready", serving, 60)
    assert kstatus(obj)[0] == "Current"
    table = kubectl(control_plane.env(), "get", "ragc", "-n", ns)
    header, row = table.splitlines()[:2]
    assert header.split() == ["NAME", "READY", "REASON", "DOCUMENTS", "CHUNKS", "VERSION", "AGE"]
    assert row.split()[:6] == ["handbook", "True", "Serving", "3", "5", "20260101-quick"]
    waited = subprocess.run(
        ["kubectl", "wait", "-n", ns, "--for=condition=Ready", "ragcorpus/handbook", "--timeout=5s"],
        env=control_plane.env(),
        capture_output=True,
        text=True,
    )
    assert waited.returncode == 0, waited.stderr


def test_the_operator_page_quickstart_lines_go_ready(
    control_plane: Any, operator: Operator, api: client.ApiClient, ns: str, tmp_path: Path
) -> None:
    """docs/operator.md's quickstart after the install line: `kubectl apply -k examples/quickstart`,
    `kubectl wait ... Ready` and `kubectl get ragc`, read from the page and run by bash from the
    checkout, in a kubeconfig whose current namespace is the test's (the lines name none). One
    visible substitution: the quickstart's demo overlay, the same corpus with its pods placed on
    the node whose kubelet the test plays (kwok's node would finish the index Job without a
    result); the kubelet player reports the index and the servers, as a cluster's kubelet would."""
    core, custom = client.CoreV1Api(api), client.CustomObjectsApi(api)
    env = {"KUBECONFIG": str(namespaced_kubeconfig(control_plane.kubeconfig, ns, tmp_path))}
    volume_for(core, ns, "handbook")
    quickstart = documented("docs/operator.md", startswith="kubectl apply -k examples/quickstart")
    applied = shell(quickstart.replace("examples/quickstart", "examples/quickstart/demo"), REPO, env)
    assert applied.returncode == 0, applied.stderr
    waiting = subprocess.Popen(
        ["bash", "-c", documented("docs/operator.md", startswith="kubectl wait --for=condition=Ready")],
        env={**control_plane.env(), **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for("the index Job", lambda: client.BatchV1Api(api).list_namespaced_job(ns).items, 30)
        kubelet = KubeletPlayer(core)
        kubelet.finish_index(ns, "handbook", index_result_message("20260101-docs", documents=3, chunks=5))

        def serving() -> dict[str, Any] | None:
            kubelet.ready_servers(ns, "handbook")
            obj = corpus(custom, ns, "handbook")
            return obj if condition(obj, "Ready").get("status") == "True" else None

        wait_for("Ready", serving, 60)
        out, err = waiting.communicate(timeout=30)
    finally:
        waiting.kill()
    assert waiting.returncode == 0 and "condition met" in out, err
    table = shell(documented("docs/operator.md", startswith="kubectl get ragc"), REPO, env)
    header, row = table.stdout.splitlines()[:2]
    assert header.split() == ["NAME", "READY", "REASON", "DOCUMENTS", "CHUNKS", "VERSION", "AGE"]
    assert row.split()[:6] == ["handbook", "True", "Serving", "3", "5", "20260101-docs"]


def test_openai_example_wires_secrets_by_reference(
    control_plane: Any, operator: Operator, api: client.ApiClient, ns: str
) -> None:
    core, custom = client.CoreV1Api(api), client.CustomObjectsApi(api)
    core.create_namespaced_secret(
        ns,
        client.V1Secret.model_validate(
            {"metadata": {"name": "openai"}, "stringData": {"api-key": "sk-never-read"}}
        ),
    )
    core.create_namespaced_persistent_volume_claim(
        ns,
        client.V1PersistentVolumeClaim.model_validate(
            {
                "metadata": {"name": "support-docs"},
                "spec": {"accessModes": ["ReadOnlyMany"], "resources": {"requests": {"storage": "1Gi"}}},
            }
        ),
    )
    core.create_persistent_volume(
        client.V1PersistentVolume.model_validate(
            {
                "metadata": {"name": f"{ns}-support-docs", "labels": {"oozo-test": ns}},
                "spec": {
                    "capacity": {"storage": "1Gi"},
                    "accessModes": ["ReadOnlyMany"],
                    "hostPath": {"path": f"/tmp/oozo-test-pv/{ns}/docs"},
                    "claimRef": {"namespace": ns, "name": "support-docs"},
                },
            }
        )
    )
    volume_for(core, ns, "support-kb", size="5Gi")
    obj = yaml.safe_load((REPO / "examples/openai/ragcorpus.yaml").read_text())
    on_local_node(obj)
    custom.create_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, obj)
    batch = client.BatchV1Api(api)
    job = wait_for("the index Job", lambda: batch.list_namespaced_job(ns).items, 30)[0]
    source = next(v for v in job.spec.template.spec.volumes if v.name == "source")
    assert (
        source.persistent_volume_claim.claim_name == "support-docs"
        and source.persistent_volume_claim.read_only
    )
    wait_for("the refresh CronJob", lambda: batch.read_namespaced_cron_job("support-kb-refresh", ns), 30)
    wait_for(
        "the HPA",
        lambda: client.AutoscalingV2Api(api).read_namespaced_horizontal_pod_autoscaler("support-kb", ns),
        30,
    )
    generated = wait_for("the API key", lambda: core.read_namespaced_secret("support-kb-api-key", ns), 30)
    assert owners_of(generated)[0].name == "support-kb"
    KubeletPlayer(core).finish_index(ns, "support-kb", index_result_message("v1"))
    dep = wait_for("the Deployment", lambda: client.AppsV1Api(api).list_namespaced_deployment(ns).items, 30)[
        0
    ]
    env = {e.name: e for e in dep.spec.template.spec.containers[0].env}
    assert env["OOZO_OPENAI_API_KEY"].value_from.secret_key_ref.name == "openai"
    assert env["OOZO_API_KEYS"].value_from.secret_key_ref.name == "support-kb-api-key"
    cm = core.read_namespaced_config_map("support-kb-config", ns).data
    assert cm is not None
    assert (
        cm["OOZO_OPENAI_BASE_URL"] == "https://api.openai.com/v1"
        and cm["OOZO_GENERATION_PROVIDER"] == "openai"
    )
    status = corpus(custom, ns, "support-kb")
    assert "sk-never-read" not in yaml.safe_dump(status) and "sk-never-read" not in yaml.safe_dump(cm)


def test_autoscaling_example_goes_ready_with_its_hpa(
    control_plane: Any, operator: Operator, api: client.ApiClient, ns: str
) -> None:
    """examples/autoscaling, step by step: applied with -k (its documents included), Ready, and
    the HPA its header shows. The nfs-client class is played by a ReadWriteMany volume of that
    class, pre-bound to the claim as an administrator would; pods go on the local node like the
    quickstart's demo overlay."""
    core, custom = client.CoreV1Api(api), client.CustomObjectsApi(api)
    core.create_persistent_volume(
        client.V1PersistentVolume.model_validate(
            {
                "metadata": {"name": f"{ns}-handbook-scaled", "labels": {"oozo-test": ns}},
                "spec": {
                    "capacity": {"storage": "2Gi"},
                    "accessModes": ["ReadWriteMany"],
                    "storageClassName": "nfs-client",
                    "hostPath": {"path": f"/tmp/oozo-test-pv/{ns}/handbook-scaled"},
                    "claimRef": {"namespace": ns, "name": "handbook-scaled-index"},
                },
            }
        )
    )
    env = control_plane.env()
    steps = steps_of(REPO / "examples/autoscaling/kustomization.yaml")
    assert [s[:2] for s in steps] == [["apply", "-k"], ["wait", "--for=condition=Ready"], ["get", "hpa"]]
    built = [d for d in yaml.safe_load_all(kubectl(env, "kustomize", str(REPO / steps[0][2]))) if d]
    for obj in built:
        if obj["kind"] == "RagCorpus":
            on_local_node(obj)
    kubectl(env, "apply", "--server-side", "-n", ns, "-f", "-", input=yaml.safe_dump_all(built))
    kubelet = KubeletPlayer(core)
    kubelet.finish_index(
        ns, "handbook-scaled", index_result_message("20260101-scaled", documents=3, chunks=5)
    )

    def serving() -> dict[str, Any] | None:
        kubelet.ready_servers(ns, "handbook-scaled")
        obj = corpus(custom, ns, "handbook-scaled")
        return obj if condition(obj, "Ready").get("status") == "True" else None

    wait_for("Ready", serving, 60)
    kubectl(env, *steps[1], "-n", ns, "--timeout=30s")
    hpa = kubectl(env, *steps[2], "-n", ns, "-o", "json")
    spec = json.loads(hpa)["spec"]
    assert (spec["minReplicas"], spec["maxReplicas"]) == (2, 10), spec

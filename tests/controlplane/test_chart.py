"""The Helm chart: lint, render with several value sets, server-side dry run of what it renders
against the real API server, and promtool on the alerts it ships."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from oozo_operator.config import DEFAULT_INDEXER_IMAGE, DEFAULT_SERVER_IMAGE

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "oozo"
# helm built from the module proxy assumes Kubernetes 1.20; render for the version we test on.
KUBE_VERSION = next(
    line.split("=", 1)[1].strip()
    for line in (ROOT / "hack/controlplane/versions.env").read_text().splitlines()
    if line.startswith("K8S_VERSION=")
)

VALUE_SETS: dict[str, list[str]] = {
    "defaults": [],
    "namespaced": ["--set", "watchNamespaces={team-a,team-b}", "--set", "logLevel=debug"],
    "monitoring": [
        "--set", "metrics.serviceMonitor.enabled=true",
        "--set", "metrics.podMonitor.enabled=true",
        "--set", "prometheusRule.enabled=true",
        "--set", "grafanaDashboard.enabled=true",
    ],
    "crds-managed-elsewhere": ["--set", "crds.install=false"],
    "existing-service-account": ["--set", "serviceAccount.create=false", "--set", "serviceAccount.name=ops"],
    "open-corpus-policy": [
        "--set", "corpusPolicy.allowedImageRepositories=null",
        "--set", "corpusPolicy.allowedHosts={llm.example.com,*.example.org}",
        "--set", "corpusPolicy.referenceOptInLabel=",
        "--set", "corpusPolicy.validationActions={Warn,Audit}",
    ],
}  # fmt: skip


@pytest.fixture(scope="module")
def helm() -> str:
    return subprocess.run(
        ["bash", str(ROOT / "hack/tools/helm.sh")], check=True, capture_output=True, text=True
    ).stdout.strip()


def render(helm: str, *args: str) -> list[dict[str, Any]]:
    out = subprocess.run(
        [
            helm,
            "template",
            "oozo",
            str(CHART),
            "--kube-version",
            KUBE_VERSION,
            "--namespace",
            "oozo-system",
            "--include-crds",
            *args,
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def test_helm_lint_passes_for_every_value_set(helm: str) -> None:
    for name, args in VALUE_SETS.items():
        result = subprocess.run(
            [helm, "lint", "--strict", "--kube-version", KUBE_VERSION, str(CHART), *args],
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, f"{name}: {result.stdout}{result.stderr}"


def test_values_schema_refuses_a_bad_value(helm: str) -> None:
    result = subprocess.run(
        [helm, "template", "oozo", str(CHART), "--kube-version", KUBE_VERSION, "--set", "metrics.port=80"],
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "metrics.port" in result.stderr or "port" in result.stderr


@pytest.mark.parametrize("value_set", sorted(VALUE_SETS))
def test_operator_deployment_is_one_replica_recreate_and_locked_down(helm: str, value_set: str) -> None:
    docs = render(helm, *VALUE_SETS[value_set])
    (deployment,) = [d for d in docs if d["kind"] == "Deployment"]
    spec = deployment["spec"]
    assert spec["replicas"] == 1 and spec["strategy"] == {"type": "Recreate"}
    pod = spec["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    (container,) = pod["containers"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["command"] == ["oozo-operator"]


def test_watch_namespaces_reach_the_operator_args(helm: str) -> None:
    docs = render(helm, *VALUE_SETS["namespaced"])
    (deployment,) = [d for d in docs if d["kind"] == "Deployment"]
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--namespace=team-a" in args and "--namespace=team-b" in args


def test_dashboard_is_valid_json_with_the_promised_panels(helm: str) -> None:
    docs = render(helm, *VALUE_SETS["monitoring"])
    (dashboard,) = [
        d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].endswith("dashboard")
    ]
    panels = {p["title"] for p in json.loads(dashboard["data"]["oozo.json"])["panels"]}
    assert panels >= {"Requests/s", "p95 latency", "Errors/s (5xx)", "Documents", "Chunks", "Index age"}


def test_alert_rules_pass_promtool(helm: str, tmp_path: Path) -> None:
    promtool = subprocess.run(
        ["bash", str(ROOT / "hack/tools/promtool.sh")], check=True, capture_output=True, text=True
    ).stdout.strip()
    docs = render(helm, *VALUE_SETS["monitoring"])
    (rule,) = [d for d in docs if d["kind"] == "PrometheusRule"]
    alerts = {r["alert"] for g in rule["spec"]["groups"] for r in g["rules"]}
    assert {"HighResponseTime", "HighErrorRate", "ServiceDown"} <= alerts
    rules_file = tmp_path / "rules.yaml"
    rules_file.write_text(yaml.safe_dump(rule["spec"]))
    result = subprocess.run([promtool, "check", "rules", str(rules_file)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("value_set", ["defaults", "namespaced"])
def test_rendered_manifests_pass_a_server_side_dry_run(
    helm: str, value_set: str, control_plane: Any, tmp_path: Path
) -> None:
    docs = render(helm, *VALUE_SETS[value_set])
    env = control_plane.env()
    for namespace in ("oozo-system", "team-a", "team-b"):
        subprocess.run(["kubectl", "create", "namespace", namespace], env=env, capture_output=True)
    manifest = tmp_path / "chart.yaml"
    manifest.write_text(yaml.safe_dump_all(docs))
    result = subprocess.run(
        ["kubectl", "apply", "--server-side", "--dry-run=server", "-f", str(manifest)],
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_chart_carries_the_current_crd(helm: str) -> None:
    assert (CHART / "files/ragcorpus-crd.yaml").read_text() == (ROOT / "crds/ragcorpus.yaml").read_text(), (
        "charts/oozo/files/ragcorpus-crd.yaml is stale: run hack/gen_crd.py"
    )
    crd = yaml.safe_load((ROOT / "crds/ragcorpus.yaml").read_text())
    (rendered,) = [d for d in render(helm) if d["kind"] == "CustomResourceDefinition"]
    assert rendered["spec"] == crd["spec"]
    assert rendered["metadata"]["annotations"] == {"helm.sh/resource-policy": "keep"}
    (not_kept,) = [
        d for d in render(helm, "--set", "crds.keep=false") if d["kind"] == "CustomResourceDefinition"
    ]
    assert "helm.sh/resource-policy" not in (not_kept["metadata"].get("annotations") or {})
    assert not [
        d for d in render(helm, "--set", "crds.install=false") if d["kind"] == "CustomResourceDefinition"
    ]


def test_chart_rbac_grants_exactly_what_deploy_rbac_grants(helm: str) -> None:
    deploy = [d for d in yaml.safe_load_all((ROOT / "deploy/rbac.yaml").read_text()) if d]
    (expected,) = [d["rules"] for d in deploy if d["kind"] == "ClusterRole"]
    (cluster_role,) = [d for d in render(helm) if d["kind"] == "ClusterRole"]
    assert cluster_role["rules"] == expected
    namespaced = render(helm, *VALUE_SETS["namespaced"])
    roles = [d for d in namespaced if d["kind"] == "Role"]
    (cluster_role,) = [d for d in namespaced if d["kind"] == "ClusterRole"]
    assert {r["metadata"]["namespace"] for r in roles} == {"team-a", "team-b"}
    for role in roles:
        assert role["rules"] + cluster_role["rules"] == expected


def test_chart_corpus_policy_equals_deploy_policy_and_feeds_the_operator(helm: str) -> None:
    deploy = [d for d in yaml.safe_load_all((ROOT / "deploy/policy.yaml").read_text()) if d]
    (expected,) = [d["spec"] for d in deploy if d["kind"] == "ValidatingAdmissionPolicy"]
    docs = render(helm)
    (policy,) = [d for d in docs if d["kind"] == "ValidatingAdmissionPolicy"]
    assert policy["spec"] == expected
    (binding,) = [d for d in docs if d["kind"] == "ValidatingAdmissionPolicyBinding"]
    assert binding["spec"]["validationActions"] == ["Deny"]
    (params,) = [
        d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "oozo-corpus-policy"
    ]
    assert params["data"] == {
        # the server's and the indexer's repositories, and the indexer's older name
        "OOZO_ALLOWED_IMAGE_REPOSITORIES": (
            "ghcr.io/oozo-dev/oozo-server,ghcr.io/oozo-dev/oozo-indexer,ghcr.io/oozo-dev/oozo-runtime"
        ),
        "OOZO_ALLOWED_HOSTS": "",
        "OOZO_REFERENCE_OPT_IN_LABEL": "rag.oozo.dev/usable-by-corpora=true",
    }
    (deployment,) = [d for d in docs if d["kind"] == "Deployment"]
    assert deployment["spec"]["template"]["spec"]["containers"][0]["envFrom"] == [
        {"configMapRef": {"name": "oozo-corpus-policy"}}
    ]
    warn_only = render(helm, "--set", "corpusPolicy.validationActions={Warn,Audit}")
    (binding,) = [d for d in warn_only if d["kind"] == "ValidatingAdmissionPolicyBinding"]
    assert binding["spec"]["validationActions"] == ["Warn", "Audit"]
    without = render(helm, "--set", "corpusPolicy.admission=false")
    assert not [d for d in without if d["kind"].startswith("ValidatingAdmissionPolicy")]


def helm_test_pods(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        d
        for d in docs
        if d["kind"] == "Pod" and (d["metadata"].get("annotations") or {}).get("helm.sh/hook") == "test"
    ]


@pytest.mark.parametrize("value_set", sorted(VALUE_SETS))
def test_helm_test_pod_asks_the_operator_health_through_its_service(helm: str, value_set: str) -> None:
    docs = render(helm, *VALUE_SETS[value_set])
    (pod,) = helm_test_pods(docs)
    (deployment,) = [d for d in docs if d["kind"] == "Deployment"]
    (service,) = [d for d in docs if d["kind"] == "Service"]
    (operator_container,) = deployment["spec"]["template"]["spec"]["containers"]
    (container,) = pod["spec"]["containers"]
    assert pod["metadata"]["annotations"]["helm.sh/hook-delete-policy"] == "before-hook-creation"
    assert pod["spec"]["restartPolicy"] == "Never"
    # the operator's own image (it has Python), and as locked down as the operator's pod
    assert container["image"] == operator_container["image"] and container["command"][:2] == ["python3", "-c"]
    assert pod["spec"]["securityContext"] == deployment["spec"]["template"]["spec"]["securityContext"]
    assert container["securityContext"] == operator_container["securityContext"]
    assert pod["spec"]["automountServiceAccountToken"] is False
    # never an endpoint of the Service it checks
    selector = service["spec"]["selector"]
    assert not all(pod["metadata"]["labels"].get(k) == v for k, v in selector.items())

    # each URL names the Service, a port of it, and behind that port the operator's endpoint
    (urls,) = [e["value"].split() for e in container["env"] if e["name"] == "OOZO_HEALTH_URLS"]
    service_ports = {p["port"]: p["targetPort"] for p in service["spec"]["ports"]}
    container_ports = {p["name"]: p["containerPort"] for p in operator_container["ports"]}
    liveness = operator_container["livenessProbe"]["httpGet"]
    host = f"{service['metadata']['name']}.{service['metadata']['namespace']}.svc"
    targets = {}
    for url in urls:
        authority, path = url.removeprefix("http://").split("/", 1)
        name, port = authority.rsplit(":", 1)
        assert name == host, url
        targets[service_ports[int(port)]] = "/" + path
    assert targets == {liveness["port"]: liveness["path"], "metrics": "/metrics"}
    assert f"--liveness-port={container_ports[liveness['port']]}" in operator_container["args"]


def test_helm_test_script_passes_against_a_live_operator(helm: str, operator: Any) -> None:
    """The rendered pod's own script, run against a real operator process: the local control
    plane has no cluster DNS or Service routing for a pod, so the URLs point at the operator's
    ports on loopback instead of the Service (test_chart_lifecycle.py says why `helm test` itself
    is not run)."""
    (pod,) = helm_test_pods(render(helm))
    (container,) = pod["spec"]["containers"]
    operator.wait_live()
    urls = (
        f"http://127.0.0.1:{operator.liveness_port}/healthz http://127.0.0.1:{operator.metrics_port}/metrics"
    )
    done = subprocess.run(
        [sys.executable, *container["command"][1:]],
        env={"OOZO_HEALTH_URLS": urls, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.split("\n")[:2] == [
        f"http://127.0.0.1:{operator.liveness_port}/healthz 200",
        f"http://127.0.0.1:{operator.metrics_port}/metrics 200",
    ]


def test_the_chart_gives_the_operator_both_images(helm: str) -> None:
    """serverImage for the serving pods, indexerImage for the Job pods: as deploy/operator.yaml
    and the operator's own defaults name them."""

    def image_env(docs: list[dict[str, Any]]) -> dict[str, str]:
        (deployment,) = [d for d in docs if d["kind"] == "Deployment"]
        env = deployment["spec"]["template"]["spec"]["containers"][0]["env"]
        return {e["name"]: e["value"] for e in env if e["name"].endswith("_IMAGE")}

    shipped = {"OOZO_SERVER_IMAGE": DEFAULT_SERVER_IMAGE, "OOZO_INDEXER_IMAGE": DEFAULT_INDEXER_IMAGE}
    assert image_env(render(helm)) == shipped
    deploy = [d for d in yaml.safe_load_all((ROOT / "deploy/operator.yaml").read_text()) if d]
    assert image_env(deploy) == shipped
    chosen = render(helm, "--set", "serverImage=reg/s:1", "--set", "indexerImage=reg/i:1")
    assert image_env(chosen) == {"OOZO_SERVER_IMAGE": "reg/s:1", "OOZO_INDEXER_IMAGE": "reg/i:1"}

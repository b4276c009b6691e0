"""deploy/: the RBAC is least privilege on paper too (the control-plane tier proves it in use)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]


def rules() -> list[dict[str, Any]]:
    docs = list(yaml.safe_load_all((REPO / "deploy" / "rbac.yaml").read_text()))
    [role] = [d for d in docs if d["kind"] == "ClusterRole"]
    return role["rules"]


def test_no_wildcards_and_no_escalation() -> None:
    for rule in rules():
        assert "*" not in rule["verbs"] and "*" not in rule["resources"] and "*" not in rule["apiGroups"]
        assert not {"escalate", "bind", "impersonate"} & set(rule["verbs"])


def test_secrets_create_and_metadata_get_only() -> None:
    verbs = {v for r in rules() if "secrets" in r["resources"] for v in r["verbs"]}
    assert verbs == {"create", "get"}


def test_no_deletes_of_stateful_children() -> None:
    for rule in rules():
        if {"persistentvolumeclaims", "deployments", "jobs", "ragcorpora"} & set(rule["resources"]):
            assert "delete" not in rule["verbs"], rule


@pytest.mark.skipif(not shutil.which("kubectl"), reason="kubectl (kustomize) not installed")
def test_deploy_kustomization_builds() -> None:
    out = subprocess.run(
        ["kubectl", "kustomize", str(REPO / "deploy")], check=True, capture_output=True, text=True
    )
    kinds = sorted(d["kind"] for d in yaml.safe_load_all(out.stdout) if d)
    assert kinds == sorted(
        [
            "Namespace",
            "ServiceAccount",
            "ClusterRole",
            "ClusterRoleBinding",
            "Deployment",
            "Service",
            "ConfigMap",
            "ValidatingAdmissionPolicy",
            "ValidatingAdmissionPolicyBinding",
        ]
    )
    [dep] = [d for d in yaml.safe_load_all(out.stdout) if d and d["kind"] == "Deployment"]
    assert dep["spec"]["strategy"]["type"] == "Recreate" and dep["spec"]["replicas"] == 1


def test_the_operator_reads_the_corpus_policy_parameters_admission_reads() -> None:
    """One source of truth: the ConfigMap that is the policy's paramRef is the operator's envFrom."""
    [params] = [
        d
        for d in yaml.safe_load_all((REPO / "deploy" / "policy.yaml").read_text())
        if d["kind"] == "ConfigMap"
    ]
    [binding] = [
        d
        for d in yaml.safe_load_all((REPO / "deploy" / "policy.yaml").read_text())
        if d["kind"] == "ValidatingAdmissionPolicyBinding"
    ]
    [dep] = [
        d
        for d in yaml.safe_load_all((REPO / "deploy" / "operator.yaml").read_text())
        if d["kind"] == "Deployment"
    ]
    [container] = dep["spec"]["template"]["spec"]["containers"]
    assert container["envFrom"] == [{"configMapRef": {"name": params["metadata"]["name"]}}]
    assert binding["spec"]["paramRef"]["name"] == params["metadata"]["name"]
    assert binding["spec"]["validationActions"] == ["Deny"]
    assert set(params["data"]) == {
        "OOZO_ALLOWED_IMAGE_REPOSITORIES",
        "OOZO_ALLOWED_HOSTS",
        "OOZO_REFERENCE_OPT_IN_LABEL",
    }

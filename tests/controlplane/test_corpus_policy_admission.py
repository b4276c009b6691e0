"""The corpus policy's ValidatingAdmissionPolicy on the real kube-apiserver, as deploy/ and the
Helm chart ship it: a RagCorpus that breaks a rule is refused with a message naming the field,
one that keeps to the rules is admitted; Warn lets it through with a warning; without its
parameters the policy refuses everything. No operator runs here (server-side dry-run creates)."""

from __future__ import annotations

import copy
import json
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException

from devcluster.ragcorpus import GROUP, PLURAL, VERSION, install_crd
from devcluster.waiting import wait_for
from tests.controlplane.test_chart import render
from tests.operator_builders import at, make_corpus
from tests.policy_cases import ALLOWED, PARAMS, REFUSED, with_image

REPO = Path(__file__).resolve().parents[2]
SYSTEM = "oozo-system"


def kubectl(env: dict[str, str], *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["kubectl", *args], env=env, input=stdin, capture_output=True, text=True)


def policy_objects(source: str, helm: str) -> list[dict[str, Any]]:
    """The ConfigMap, policy and binding as deploy/ or the chart renders them, with the test's
    parameters in the ConfigMap (the shipped defaults are tried separately)."""
    if source == "deploy":
        docs = [d for d in yaml.safe_load_all((REPO / "deploy/policy.yaml").read_text()) if d]
    else:
        docs = [d for d in render(helm) if d["kind"] in POLICY_KINDS or _is_policy_configmap(d)]
    assert sorted(d["kind"] for d in docs) == sorted([*POLICY_KINDS, "ConfigMap"])
    return docs


POLICY_KINDS = ["ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"]


def _is_policy_configmap(doc: dict[str, Any]) -> bool:
    return doc["kind"] == "ConfigMap" and doc["metadata"]["name"].endswith("corpus-policy")


def dry_run_create(custom: client.CustomObjectsApi, ns: str, body: dict[str, Any]) -> None:
    custom.create_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, body, dry_run="All")


def refusal(custom: client.CustomObjectsApi, ns: str, body: dict[str, Any]) -> str:
    """The API server's message for a refused create; fails the test if it was admitted."""
    with pytest.raises(ApiException) as refused:
        dry_run_create(custom, ns, body)
    assert refused.value.status == 403, refused.value.body  # reason Forbidden
    return str(json.loads(refused.value.body or "{}")["message"])


@pytest.fixture(scope="module")
def helm() -> str:
    return subprocess.run(
        ["bash", str(REPO / "hack/tools/helm.sh")], check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.fixture(scope="module")
def custom(control_plane: Any) -> Iterator[client.CustomObjectsApi]:
    install_crd(control_plane.env())
    kubectl(control_plane.env(), "create", "namespace", SYSTEM)
    with control_plane.api_client() as api:
        yield client.CustomObjectsApi(api)


@pytest.fixture(scope="module")
def ns(control_plane: Any, custom: client.CustomObjectsApi) -> Iterator[str]:
    name = f"pol-{uuid.uuid4().hex[:6]}"
    kubectl(control_plane.env(), "create", "namespace", name)
    yield name
    kubectl(control_plane.env(), "delete", "namespace", name, "--wait=false")


@pytest.fixture(scope="module")
def installed(
    control_plane: Any, custom: client.CustomObjectsApi, ns: str, helm: str
) -> Iterator[list[dict[str, Any]]]:
    """The policy objects of deploy/ or the chart, applied, with the test's parameters; waits
    until the API server enforces them (policies and bindings reach admission asynchronously)."""
    # One installation per API server (the bug below): deploy/'s. The chart renders the same
    # policy, binding and parameters (tests/controlplane/test_chart.py holds them equal).
    docs = renamed(policy_objects("deploy", helm))
    for doc in docs:
        if doc["kind"] == "ConfigMap":
            doc["data"] = dict(PARAMS)
    env = control_plane.env()
    apply_in_order(env, docs)

    def enforced() -> bool | None:
        try:
            dry_run_create(custom, ns, make_corpus("probe", with_image("evil.io/x:1")))
        except ApiException as err:
            if err.status == 403 and "spec.runtime.image" in (err.body or ""):
                return True
            raise  # not yet, and wait_for names this answer if it never changes
        return None

    # Policies, bindings and their parameters reach admission through informers: usually within a
    # second; the bound is generous for a loaded 2-core machine.
    wait_for("the corpus policy to be enforced", enforced, 120)
    yield docs
    retire(env, docs)


# Kubernetes bug kubernetes/kubernetes#133827 (open): after one installation of a policy with a
# ConfigMap parameter, a second installation on the same API server (even under new names, one
# object at a time) can stay at "no params found" for good. So the module installs once (deploy/'s;
# the chart's objects are held equal to it by test_chart.py), under names of its own, writes other
# parameters into that ConfigMap in place, and deletes the ConfigMap only in its last test.
APPLY_ORDER = ["ConfigMap", "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"]


def renamed(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The policy objects under fresh names, the binding pointing at the renamed policy and
    ConfigMap."""
    suffix = "-" + uuid.uuid4().hex[:6]
    out = copy.deepcopy(docs)
    for doc in out:
        doc["metadata"]["name"] += suffix
        if doc["kind"] == "ValidatingAdmissionPolicyBinding":
            doc["spec"]["policyName"] += suffix
            doc["spec"]["paramRef"]["name"] += suffix
    return out


def apply_in_order(env: dict[str, str], docs: list[dict[str, Any]]) -> None:
    for kind in APPLY_ORDER:
        for doc in (d for d in docs if d["kind"] == kind):
            applied = kubectl(env, "apply", "--server-side", "-f", "-", stdin=yaml.safe_dump(doc))
            assert applied.returncode == 0, applied.stderr


def retire(env: dict[str, str], docs: list[dict[str, Any]]) -> None:
    """Stop enforcing: delete the binding (see the bug above for why only the binding)."""
    for doc in (d for d in docs if d["kind"] == "ValidatingAdmissionPolicyBinding"):
        deleted = kubectl(env, "delete", "--wait=true", "-f", "-", stdin=yaml.safe_dump(doc))
        assert deleted.returncode == 0, deleted.stderr


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_admission_refuses_a_corpus_breaking_the_policy_naming_the_field(
    installed: list[dict[str, Any]], custom: client.CustomObjectsApi, ns: str, case: str
) -> None:
    mods, field = REFUSED[case]
    message = refusal(custom, ns, make_corpus("c", *mods))
    assert f"{field}: " in message and "is not allowed" in message, message


@pytest.mark.parametrize("case", sorted(ALLOWED))
def test_admission_allows_a_corpus_within_the_policy(
    installed: list[dict[str, Any]], custom: client.CustomObjectsApi, ns: str, case: str
) -> None:
    dry_run_create(custom, ns, make_corpus("c", *ALLOWED[case]))


def test_a_stored_corpus_keeps_its_metadata_writable_but_not_a_breaking_spec(
    installed: list[dict[str, Any]], custom: client.CustomObjectsApi, ns: str
) -> None:
    """Only a new spec is judged: kopf's annotations on a corpus stored before the policy still
    go through, a spec change that breaks the policy does not."""
    name = f"kept-{uuid.uuid4().hex[:4]}"
    custom.create_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, make_corpus(name))
    try:
        custom.patch_namespaced_custom_object(
            GROUP, VERSION, ns, PLURAL, name, {"metadata": {"annotations": {"rag.oozo.dev/x": "1"}}}
        )
        with pytest.raises(ApiException) as refused:
            custom.patch_namespaced_custom_object(
                GROUP, VERSION, ns, PLURAL, name, {"spec": {"runtime": {"image": "evil.io/x:1"}}}
            )
        assert refused.value.status == 403 and "spec.runtime.image" in (refused.value.body or "")
    finally:
        custom.delete_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, name)


def test_warn_mode_admits_with_a_warning_naming_the_field(
    installed: list[dict[str, Any]], control_plane: Any, custom: client.CustomObjectsApi, ns: str
) -> None:
    (binding,) = [d for d in installed if d["kind"] == "ValidatingAdmissionPolicyBinding"]
    env = control_plane.env()
    name = binding["metadata"]["name"]
    patch = json.dumps({"spec": {"validationActions": ["Warn", "Audit"]}})
    manifest = json.dumps(make_corpus("warned", with_image("evil.io/x:1"), namespace=ns))
    try:
        assert (
            kubectl(
                env, "patch", "validatingadmissionpolicybinding", name, "--type=merge", "-p", patch
            ).returncode
            == 0
        )

        def warned() -> str | None:
            out = kubectl(env, "create", "--dry-run=server", "-f", "-", stdin=manifest)
            return out.stderr if out.returncode == 0 and "spec.runtime.image" in out.stderr else None

        assert "Warning" in wait_for("Warn instead of Deny", warned, 120)
    finally:
        kubectl(env, "patch", "validatingadmissionpolicybinding", name, "--type=merge", "-p",
                json.dumps({"spec": {"validationActions": ["Deny"]}}))  # fmt: skip


def _admits(custom: client.CustomObjectsApi, ns: str) -> bool | None:
    try:
        dry_run_create(custom, ns, make_corpus("c"))
    except ApiException:
        return None
    return True


def test_the_shipped_defaults_allow_only_oozos_runtime_image(
    installed: list[dict[str, Any]], control_plane: Any, custom: client.CustomObjectsApi, ns: str
) -> None:
    """deploy/policy.yaml's parameters as shipped (not the test's): Oozo's runtime repository, any
    host. Written into the installed ConfigMap in place (the bug above), then the test's again."""
    env = control_plane.env()
    shipped = [d for d in yaml.safe_load_all((REPO / "deploy/policy.yaml").read_text()) if d]
    (shipped_params,) = [d for d in shipped if d["kind"] == "ConfigMap"]
    (params,) = [d for d in installed if d["kind"] == "ConfigMap"]
    as_shipped = {**copy.deepcopy(params), "data": dict(shipped_params["data"])}
    applied = kubectl(env, "apply", "--server-side", "-f", "-", stdin=yaml.safe_dump(as_shipped))
    assert applied.returncode == 0, applied.stderr
    try:
        # Both at once: only the shipped parameters, enforced with Deny, give this answer.
        wait_for(
            "the shipped parameters",
            lambda: (
                (
                    "evil.io" in _message_or_empty(custom, ns, with_image("evil.io/x:1"))
                    and _admits_corpus(custom, ns, *REFUSED["llm-at-another-host"][0])
                )
                or None
            ),
            120,
        )
        dry_run_create(custom, ns, make_corpus("c", with_image("ghcr.io/oozo-dev/oozo-runtime:0.2.0")))
        # the two images the operator renders by default, each in its field
        shipped_images = (
            with_image("ghcr.io/oozo-dev/oozo-server:0.2.0"),
            at("spec.index.image", "ghcr.io/oozo-dev/oozo-indexer:0.2.0"),
        )
        dry_run_create(custom, ns, make_corpus("c", *shipped_images))
        assert "spec.index.image" in _message_or_empty(custom, ns, at("spec.index.image", "evil.io/x:1"))
    finally:
        restored = kubectl(env, "apply", "--server-side", "-f", "-", stdin=yaml.safe_dump(params))
        assert restored.returncode == 0, restored.stderr
        wait_for(
            "the test's parameters again",
            lambda: "attacker" in _message_or_empty(custom, ns, *REFUSED["llm-at-another-host"][0]) or None,
            120,
        )


def _admits_corpus(custom: client.CustomObjectsApi, ns: str, *mods: Any) -> bool | None:
    try:
        dry_run_create(custom, ns, make_corpus("c", *mods))
    except ApiException:
        return None
    return True


def _message_or_empty(custom: client.CustomObjectsApi, ns: str, *mods: Any) -> str:
    try:
        dry_run_create(custom, ns, make_corpus("c", *mods))
    except ApiException as err:
        return err.body or ""
    return ""


def test_without_its_parameters_the_policy_refuses_every_corpus(
    installed: list[dict[str, Any]], control_plane: Any, custom: client.CustomObjectsApi, ns: str
) -> None:
    """Last in the module: it deletes the parameter ConfigMap and applies it again."""
    (params,) = [d for d in installed if d["kind"] == "ConfigMap"]
    env = control_plane.env()
    assert kubectl(env, "-n", SYSTEM, "delete", "configmap", params["metadata"]["name"]).returncode == 0
    try:

        def refused() -> str | None:
            try:
                dry_run_create(custom, ns, make_corpus("c"))
            except ApiException as err:
                return err.body if err.status in (400, 403, 422, 500) else None
            return None

        wait_for("a refusal without parameters", refused, 120)
    finally:
        restored = kubectl(env, "apply", "--server-side", "-f", "-", stdin=yaml.safe_dump(params))
        assert restored.returncode == 0, restored.stderr
        wait_for("admission with parameters again", lambda: _admits(custom, ns), 120)

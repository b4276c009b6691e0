"""The chart's life on a real API server: `helm install` (adopting a CRD that an earlier release
installed from crds/, as docs/install.md tells upgraders to), NOTES that tell the user what to do
next, `helm upgrade` changing the operator in place, and `helm uninstall` removing the release's
objects but keeping the CRD, so no RagCorpus is deleted with it.

The corpus policy is left out here (corpusPolicy.admission=false): a cluster-wide admission
policy would judge the corpora of every other test on this API server, and reinstalling one under
the same names hits kubernetes/kubernetes#133827 (test_corpus_policy_admission.py covers it).

`helm test` is not run here: its pod must run and reach the operator by the Service's cluster DNS
name. No kubelet runs this module's pods, and the local kubelet (devcluster/kubelet) runs a pod
as host processes with no cluster DNS and no Service routing (only devcluster's Python resolver
maps a Service to a pod's loopback address), so that name never resolves. test_chart.py checks the
rendered pod against the Service and runs its script against a live operator instead."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path
from typing import Any

from devcluster.ragcorpus import install_crd
from tests.controlplane.test_chart import CHART, helm  # noqa: F401  (helm: a fixture)
from tests.doc_commands import REPO, documented, shell

CRD = "crd/ragcorpora.rag.oozo.dev"


def run(env: dict[str, str], *argv: str) -> str:
    result = subprocess.run(list(argv), env=env, capture_output=True, text=True)
    assert result.returncode == 0, f"{' '.join(argv)}:\n{result.stdout}{result.stderr}"
    return result.stdout


def log_level(deployment: dict[str, Any]) -> str:
    env = deployment["spec"]["template"]["spec"]["containers"][0]["env"]
    return str(next(e["value"] for e in env if e["name"] == "OOZO_LOG_LEVEL"))


def as_test_release(command: str, release: str, namespace: str) -> str:
    """A documented line for the release `oozo` in `oozo-system`, made the test's own (the API
    server is shared with other tests)."""
    return (
        command.replace("release-name=oozo ", f"release-name={release} ")
        .replace(" oozo charts/oozo ", f" {release} charts/oozo ")
        .replace("oozo-system", namespace)
    )


def run_documented(env: dict[str, str], command: str, *extra: str) -> str:
    """A documented line run by bash from the checkout (charts/oozo is relative), `extra` flags
    appended."""
    done = shell(" ".join([command, *extra]), REPO, env, timeout=300)
    assert done.returncode == 0, f"{command}:\n{done.stdout}{done.stderr}"
    return done.stdout


def test_install_upgrade_uninstall_keeps_the_crd(helm: str, control_plane: Any) -> None:  # noqa: F811
    """docs/install.md's (and the chart README's) lines, read from the pages and run by bash:
    the CRD handed to the release, `helm upgrade --install`, `helm upgrade --reuse-values`.
    Changed for the test, visibly: the release's name and namespace, and the corpus policy left
    out on install (see above), logLevel set on upgrade to see the upgrade change something."""
    env = {**control_plane.env(), "PATH": f"{Path(helm).parent}{os.pathsep}{os.environ['PATH']}"}
    release, namespace = f"oozo-lc-{uuid.uuid4().hex[:4]}", f"oozo-lc-{uuid.uuid4().hex[:4]}"
    install = documented("docs/install.md", startswith="helm upgrade --install")
    assert documented("charts/oozo/README.md", startswith="helm upgrade --install") == install
    upgrade = documented("docs/install.md", startswith="helm upgrade oozo")
    hand_over = [
        documented("docs/install.md", startswith="kubectl label crd ragcorpora.rag.oozo.dev"),
        documented("docs/install.md", startswith="kubectl annotate crd ragcorpora.rag.oozo.dev"),
    ]
    install_crd(env)  # as a release from crds/, or `kubectl apply`, left it: unowned by Helm
    for command in hand_over:
        run_documented(env, as_test_release(command, release, namespace))
    common = ["--namespace", namespace]
    installed = run_documented(
        env, as_test_release(install, release, namespace), "--set", "corpusPolicy.admission=false"
    )
    notes = installed.split("NOTES:", 1)[1]
    assert f"rollout status deployment/{release}" in notes, notes
    assert "kubectl wait --for=condition=Ready ragcorpus/handbook" in notes, notes
    assert "kubectl get secret handbook-api-key -o jsonpath='{.data.api-key}' | base64 -d" in notes, notes
    assert "rag.oozo.dev/usable-by-corpora=true" in notes, notes
    deployment = json.loads(run(env, "kubectl", "get", "deployment", release, "-n", namespace, "-o", "json"))
    assert log_level(deployment) == "info"
    crd = json.loads(run(env, "kubectl", "get", CRD, "-o", "json"))
    assert crd["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    assert crd["metadata"]["labels"]["app.kubernetes.io/instance"] == release

    run_documented(env, as_test_release(upgrade, release, namespace), "--set", "logLevel=debug")
    deployment = json.loads(run(env, "kubectl", "get", "deployment", release, "-n", namespace, "-o", "json"))
    assert log_level(deployment) == "debug"
    history = json.loads(run(env, helm, "history", release, *common, "-o", "json"))
    assert [h["status"] for h in history] == ["superseded", "deployed"], history

    run(env, helm, "uninstall", release, *common, "--wait", "--timeout", "60s")
    gone = subprocess.run(
        ["kubectl", "get", "deployment", release, "-n", namespace], env=env, capture_output=True, text=True
    )
    assert gone.returncode != 0 and "NotFound" in gone.stderr, gone.stdout + gone.stderr
    roles = run(env, "kubectl", "get", "clusterroles", "-o", "name")
    assert release not in roles, roles
    kept = json.loads(run(env, "kubectl", "get", CRD, "-o", "json"))
    assert kept["metadata"]["uid"] == crd["metadata"]["uid"], "the CRD was deleted and recreated"
    run(env, "kubectl", "delete", "namespace", namespace, "--wait=false")

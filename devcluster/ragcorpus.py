"""The RagCorpus API on the dev cluster: its coordinates, its CRD installed from this checkout, its
conditions, and what a corpus needs around it when no provisioner runs (a pre-bound volume, a
documents ConfigMap)."""

from __future__ import annotations

import subprocess
from typing import Any

from kubernetes import client

from devcluster import REPO

CRD = REPO / "crds" / "ragcorpus.yaml"
GROUP, VERSION, PLURAL = "rag.oozo.dev", "v1alpha1", "ragcorpora"


def install_crd(env: dict[str, str]) -> None:
    """Apply crds/ragcorpus.yaml with the kubeconfig in `env` and wait until it is Established."""
    subprocess.run(
        ["kubectl", "apply", "--server-side", "--force-conflicts", "-f", str(CRD)],
        env=env,
        check=True,
        capture_output=True,
    )
    subprocess.run(
        ["kubectl", "wait", "--for=condition=Established", "--timeout=60s", "crd/ragcorpora.rag.oozo.dev"],
        env=env,
        check=True,
        capture_output=True,
    )


def volume_for(core: client.CoreV1Api, namespace: str, corpus: str, size: str = "2Gi") -> None:
    """A hostPath PV pre-bound to the corpus's NAME-index claim, as an administrator would for
    static provisioning, so the scheduler can place the corpus's pods where no provisioner runs.
    Labelled oozo-test=NAMESPACE, so a namespace's volumes go with it."""
    core.create_persistent_volume(
        client.V1PersistentVolume.model_validate(
            {
                "metadata": {"name": f"{namespace}-{corpus}", "labels": {"oozo-test": namespace}},
                "spec": {
                    "capacity": {"storage": size},
                    "accessModes": ["ReadWriteOnce"],
                    "persistentVolumeReclaimPolicy": "Delete",
                    "hostPath": {"path": f"/tmp/oozo-test-pv/{namespace}/{corpus}"},
                    "claimRef": {"namespace": namespace, "name": f"{corpus}-index"},
                },
            }
        )
    )


def docs_configmap(core: client.CoreV1Api, namespace: str, name: str) -> None:
    """A one-document source ConfigMap, for corpora whose index nobody really builds."""
    core.create_namespaced_config_map(
        namespace,
        client.V1ConfigMap.model_validate({"metadata": {"name": name}, "data": {"a.md": "# Hello\n"}}),
    )


def condition(obj: dict[str, Any], kind: str) -> dict[str, Any]:
    """The corpus's condition of type `kind`, {} when it has none."""
    for c in (obj.get("status") or {}).get("conditions") or []:
        if c["type"] == kind:
            return c
    return {}

"""The embedding model from where an air-gapped cluster keeps it, through a RagCorpus on the real
control plane with the real operator and the local kubelet, each example followed as its header
tells a reader:

- examples/s3-model: the model's files (the bundled all-MiniLM-L6-v2) under an s3:// prefix of a
  real MinIO, read with a credentials Secret. Ready, the right answer, the version's manifest
  records the revision of the copy, and the server pods never get the S3 credentials (the
  Deployment and pods on the real API server).
- examples/model-volume: the same files on a PersistentVolumeClaim the test provisions, mounted
  read-only at the model's path. Ready, the right answer, the manifest records the digest of the
  folder, and deleting the corpus leaves the model's volume and files alone (Oozo did not write
  them)."""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devcluster.s3server import S3Server
from devcluster.stack import kubectl
from oozo_contract.defaults import DEFAULT_MODEL
from oozo_runtime.embedding import resolve_model_path
from oozo_runtime.model_files import RESULT_FILE, folder_revision, s3_model_dir
from tests.e2e.conftest import Cluster, DeployedCorpus
from tests.e2e.example_reader import ExampleReader, volume_folder
from tests.s3.test_model_from_s3 import upload_bundled_model

MODEL_BUCKET, MODEL_PREFIX = "models", "sentence-transformers/all-MiniLM-L6-v2"
S3_MODEL = f"s3://{MODEL_BUCKET}/{MODEL_PREFIX}"
BUNDLED_MODEL = Path(resolve_model_path(DEFAULT_MODEL))


@pytest.fixture
def namespace(stack: Cluster) -> Iterator[str]:
    name = f"e2e-model-{uuid.uuid4().hex[:6]}"
    kubectl(stack.kubeconfig, "create", "namespace", name)
    yield name
    kubectl(stack.kubeconfig, "delete", "namespace", name, "--wait=false", check=False)


def sources(reply: dict[str, Any]) -> list[str]:
    return [s["document"] for s in reply["sources"]]


def manifest_of(corpus: DeployedCorpus) -> tuple[Path, dict[str, Any]]:
    """The index volume's folder and the served version's manifest.json, as the pods wrote them."""
    version = corpus.get()["status"]["index"]["version"]
    index_dir = volume_folder(corpus.kubeconfig, corpus.namespace, f"{corpus.name}-index")
    return index_dir, json.loads((index_dir / "versions" / version / "manifest.json").read_text())


def pod_specs(corpus: DeployedCorpus, kind: str) -> list[dict[str, Any]]:
    """The pod templates of the corpus's Deployments or Jobs, and the specs of their pods."""
    owned = json.loads(corpus.kubectl("get", kind, "-o", "json").stdout)["items"]
    templates = [o["spec"]["template"]["spec"] for o in owned]
    pods = json.loads(corpus.kubectl("get", "pods", "-o", "json").stdout)["items"]
    owner = "ReplicaSet" if kind == "deployments" else "Job"
    running = [p["spec"] for p in pods if any(r["kind"] == owner for r in p["metadata"]["ownerReferences"])]
    assert templates and running, f"no {kind} or none of their pods:\n{corpus.diagnose()}"
    return templates + running


def secret_envs(spec: dict[str, Any], secret: str) -> set[str]:
    containers = spec["containers"] + spec.get("initContainers", [])
    return {
        e["name"]
        for c in containers
        for e in c.get("env") or []
        if ((e.get("valueFrom") or {}).get("secretKeyRef") or {}).get("name") == secret
    }


def test_a_model_from_an_s3_prefix_serves_and_the_server_never_gets_the_credentials(
    stack: Cluster, s3: S3Server, namespace: str
) -> None:
    s3.make_bucket(MODEL_BUCKET)
    files = upload_bundled_model(s3, MODEL_BUCKET, MODEL_PREFIX)

    def fill_in(obj: dict[str, Any]) -> dict[str, Any]:
        if obj["kind"] == "Secret":
            assert set(obj["stringData"]) == {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
            obj["stringData"] = {"AWS_ACCESS_KEY_ID": s3.access_key, "AWS_SECRET_ACCESS_KEY": s3.secret_key}
        if obj["kind"] == "RagCorpus":
            model_s3 = obj["spec"]["embedding"]["s3"]
            assert obj["spec"]["embedding"]["model"] == S3_MODEL and model_s3["endpoint"] == ""
            model_s3.update(endpoint=s3.endpoint, region=s3.region)
        return obj

    reader = ExampleReader(stack, namespace, "s3-model", fill_in)
    reader.follow()
    corpus = reader.corpus()
    status = corpus.get()["status"]
    assert (status["index"]["documents"], status["index"]["embeddingModel"]) == (3, S3_MODEL), status
    reply = corpus.query("How many days of paid leave does an employee have?", top_k=2)
    assert sources(reply)[0].endswith("leave.md") and "27 days" in json.dumps(reply), reply

    # The version records the revision of the model files it was built with: the digest of the
    # listing the index Job copied into the model cache on the corpus volume.
    index_dir, manifest = manifest_of(corpus)
    copied = json.loads((s3_model_dir(S3_MODEL, index_dir / "models") / RESULT_FILE).read_text())
    assert copied["fetched"] == files, copied
    assert manifest["embedding"]["modelRevision"] == copied["revision"], manifest["embedding"]
    assert copied["revision"].startswith("sha256:"), copied
    assert status["index"]["modelRevision"] == copied["revision"], status["index"]

    # The credentials reach the index Job's container by reference, and nothing of the server.
    assert all(
        secret_envs(spec, "model-bucket")
        == {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"}
        for spec in pod_specs(corpus, "jobs")
    )
    for spec in pod_specs(corpus, "deployments"):
        assert "model-bucket" not in json.dumps(spec), spec
        names = {e["name"] for c in spec["containers"] for e in c.get("env") or []}
        assert not {n for n in names if n.startswith("AWS_")}, names
    told = json.dumps(corpus.get()) + corpus.kubectl("get", "events", "-o", "json").stdout
    assert s3.secret_key not in told


def test_a_model_from_a_volume_serves_and_outlives_the_corpus(stack: Cluster, namespace: str) -> None:
    reader = ExampleReader(stack, namespace, "model-volume", lambda obj: obj)
    claim_step, *rest = reader.steps()
    reader.run(claim_step)
    [claim] = [d for d in reader.applied if d["kind"] == "PersistentVolumeClaim"]
    store = volume_folder(stack.kubeconfig, namespace, claim["metadata"]["name"])
    model_folder = store / "sentence-transformers/all-MiniLM-L6-v2"
    shutil.copytree(BUNDLED_MODEL, model_folder)  # what the example asks its reader to do
    reader.follow(rest)
    corpus = reader.corpus()
    status = corpus.get()["status"]
    assert status["index"]["documents"] == 3, status
    reply = corpus.query("Which trips go by train?", top_k=2)
    assert sources(reply)[0].endswith("travel.md") and "600 km" in json.dumps(reply), reply

    _, manifest = manifest_of(corpus)
    assert manifest["embedding"]["modelRevision"] == folder_revision(BUNDLED_MODEL), manifest["embedding"]
    assert status["index"]["modelRevision"] == folder_revision(BUNDLED_MODEL), status["index"]

    corpus.kubectl("delete", "ragcorpus", corpus.name, "--timeout=120s")
    corpus.kubectl("get", "pvc", claim["metadata"]["name"])  # still there, and so are its files
    assert folder_revision(model_folder) == folder_revision(BUNDLED_MODEL)

"""examples/backup and examples/restore, followed step by step as their headers tell a reader,
against a real MinIO: the backed-up corpus goes Ready, an on-demand backup Job from its CronJob
writes a backup that status.lastBackup reports, and the restored corpus goes Ready from that
backup (status.index.restoredFrom) without building, and answers.

Where a reader fills something in, the test does what the example says: it writes MinIO's keys
into the credentials Secret, points `endpoint` and `region` at MinIO, names the namespace in
`fromCorpus`, and places the pods on the local node (like examples/quickstart/demo)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from devcluster.controlplane.plane import LOCAL_SCHEDULING
from devcluster.s3server import S3Server
from devcluster.stack import Stack, kubectl
from tests.e2e.conftest import DeployedCorpus, apply
from tests.example_steps import steps_of
from tests.operator_support import REPO

BUCKET = "oozo-backups"
QUESTION = "Who wrote the Declaration of Independence?"


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    server = S3Server(tmp_path_factory.mktemp("minio"))
    server.start()
    server.make_bucket(BUCKET)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def namespace(stack: Stack) -> Iterator[str]:
    name = f"e2e-examples-{uuid.uuid4().hex[:6]}"
    kubectl(stack.kubeconfig, "create", "namespace", name)
    yield name
    kubectl(stack.kubeconfig, "delete", "namespace", name, "--wait=false", check=False)


class Reader:
    """Runs an example's steps in one namespace, filling in what the example asks its reader to."""

    def __init__(self, stack: Stack, namespace: str, s3: S3Server) -> None:
        self.stack, self.namespace, self.s3 = stack, namespace, s3
        self.outputs: list[str] = []

    def follow(self, example: str) -> list[str]:
        for step in steps_of(REPO / "examples" / example / "kustomization.yaml"):
            self.outputs.append(self.run(step))
        return self.outputs

    def run(self, step: list[str]) -> str:
        if step[:2] == ["apply", "-f"]:
            self.apply_secret(REPO / step[2])
            return ""
        if step[:2] == ["apply", "-k"]:
            built = kubectl(self.stack.kubeconfig, "kustomize", str(REPO / step[2])).stdout
            apply(self.stack.kubeconfig, *(self.filled_in(d) for d in yaml.safe_load_all(built) if d))
            return ""
        if step[0] == "wait":
            return self.kubectl(*step, "--timeout=480s", timeout=510)
        if step[0] == "get" and "jsonpath" in " ".join(step):
            return self.poll(step)
        return self.kubectl(*step)

    def kubectl(self, *args: str, timeout: float = 120) -> str:
        run = kubectl(self.stack.kubeconfig, *args, "-n", self.namespace, check=False, timeout=timeout)
        assert run.returncode == 0, f"kubectl {' '.join(args)}: {run.stderr}\n{self.diagnose()}"
        return run.stdout

    def poll(self, step: list[str], timeout: float = 300) -> str:
        """A `get -o jsonpath` step shows a result that a Job writes later: read until it is there."""
        deadline = time.monotonic() + timeout
        while not (out := self.kubectl(*step).strip()):
            assert time.monotonic() < deadline, f"kubectl {' '.join(step)} stayed empty\n{self.diagnose()}"
            time.sleep(2)
        return out

    def apply_secret(self, path: Path) -> None:
        secret = yaml.safe_load(path.read_text())
        assert set(secret["stringData"]) == {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
        secret["metadata"]["namespace"] = self.namespace
        secret["stringData"] = {
            "AWS_ACCESS_KEY_ID": self.s3.access_key,
            "AWS_SECRET_ACCESS_KEY": self.s3.secret_key,
        }
        apply(self.stack.kubeconfig, secret)

    def filled_in(self, obj: dict[str, Any]) -> dict[str, Any]:
        obj["metadata"]["namespace"] = self.namespace
        if obj["kind"] != "RagCorpus":
            return obj
        spec = obj["spec"]
        spec["scheduling"] = LOCAL_SCHEDULING
        for part in ("backup", "restore"):
            if part in spec:
                assert spec[part]["s3"]["endpoint"] == "", "the example leaves the endpoint to its reader"
                spec[part]["s3"].update(endpoint=self.s3.endpoint, region=self.s3.region)
        if "restore" in spec:
            assert spec["restore"]["fromCorpus"] == "default/handbook-nightly"
            spec["restore"]["fromCorpus"] = f"{self.namespace}/handbook-nightly"
        return obj

    def diagnose(self) -> str:
        return "\n".join(
            DeployedCorpus(name, self.namespace, self.stack).diagnose()
            for name in ("handbook-nightly", "handbook-restored")
        )


def test_the_backup_example_then_the_restore_example_serve_the_same_index(
    stack: Stack, namespace: str, s3: S3Server
) -> None:
    reader = Reader(stack, namespace, s3)
    *_, last_backup = reader.follow("backup")
    backup = json.loads(last_backup)
    backed_up = DeployedCorpus("handbook-nightly", namespace, stack)
    serving = backed_up.get()["status"]["index"]["version"]
    assert backup["version"] == serving, backup
    assert backup["uri"].startswith(f"s3://{BUCKET}/handbook/"), backup
    assert backup["job"] == "handbook-nightly-backup-now", backup
    keys = [o["Key"] for o in s3.client().list_objects_v2(Bucket=BUCKET, Prefix="handbook/")["Contents"]]
    assert any(serving in key for key in keys), keys

    *_, restored_from = reader.follow("restore")
    assert restored_from == backup["uri"], (restored_from, backup)
    restored = DeployedCorpus("handbook-restored", namespace, stack)
    status = restored.get()["status"]
    assert status["index"]["version"] == serving, status
    jobs = json.loads(restored.kubectl("get", "jobs", "-o", "json").stdout)["items"]
    assert not [
        j["metadata"]["name"] for j in jobs if j["metadata"]["name"].startswith("handbook-restored-index")
    ]
    reply = restored.query(QUESTION)
    assert any("declaration" in s["document"] for s in reply["sources"]), reply

"""Restore drills end to end (docs/backup.md, "Restore drills"): the example RagCorpus of that
section, applied as a reader would (MinIO's endpoint and keys filled in, pods on the local node),
goes Ready; a backup is taken; `kubectl oozo verify` runs a drill from the NAME-verify CronJob,
whose Job restores the backup into scratch space, loads it and answers its sampled chunks, and
the operator reports it as BackupVerified=True and status.lastVerifiedBackup. A byte flipped in
the backup's artifact makes the next drill fail with ChecksumMismatch naming the object, while
the corpus stays Ready and keeps answering."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from devcluster.controlplane.plane import LOCAL_SCHEDULING
from devcluster.s3server import S3Server
from devcluster.stack import Stack, kubectl
from tests.doc_commands import documented
from tests.e2e import documents
from tests.e2e.conftest import DeployedCorpus, apply, s3_credentials
from tests.e2e.test_kubectl_plugin import page_args, plugin
from tests.operator_support import REPO

NAME = "handbook-drilled"


def example_corpus() -> dict[str, Any]:
    """The first YAML block of docs/backup.md's "Restore drills" section."""
    page = (REPO / "docs" / "backup.md").read_text()
    section = page.split("## Restore drills", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```yaml\n(.*?)```", section, flags=re.DOTALL)
    assert block, "the Restore drills section shows its RagCorpus"
    return dict(yaml.safe_load(block.group(1)))


@pytest.fixture(scope="module")
def drilled(stack: Stack, s3: S3Server) -> Iterator[DeployedCorpus]:
    corpus = example_corpus()
    spec = corpus["spec"]
    s3.make_bucket(spec["backup"]["s3"]["bucket"])
    namespace = f"e2e-drill-{uuid.uuid4().hex[:6]}"
    kubectl(stack.kubeconfig, "create", "namespace", namespace)
    corpus["metadata"]["namespace"] = namespace
    assert spec["backup"]["s3"]["endpoint"] == "", "the example leaves the endpoint to its reader"
    spec["backup"]["s3"].update(endpoint=s3.endpoint, region=s3.region)
    spec["scheduling"] = LOCAL_SCHEDULING
    creds = s3_credentials(s3, spec["backup"]["s3"]["credentialsSecret"], namespace)
    docs = documents.configmap(spec["source"]["configMap"]["name"], namespace, documents.handbook_docs())
    apply(stack.kubeconfig, creds, docs, corpus)
    deployed = DeployedCorpus(corpus["metadata"]["name"], namespace, stack)
    deployed.wait_ready()
    yield deployed
    kubectl(stack.kubeconfig, "delete", "namespace", namespace, "--wait=false", check=False)


def wait_for_status(corpus: DeployedCorpus, field: str, job: str, timeout: float = 420) -> dict[str, Any]:
    """status.<field> once it reports `job`."""
    deadline = time.monotonic() + timeout
    while True:
        found = (corpus.get().get("status") or {}).get(field) or {}
        if found.get("job") == job:
            return dict(found)
        assert time.monotonic() < deadline, f"status.{field} never reported {job}\n{corpus.diagnose()}"
        time.sleep(2)


def condition(corpus: DeployedCorpus, kind: str) -> dict[str, Any]:
    return next(c for c in corpus.get()["status"]["conditions"] if c["type"] == kind)


def test_a_drill_of_a_good_backup_is_verified_and_a_tampered_one_fails_naming_it(
    drilled: DeployedCorpus, s3: S3Server
) -> None:
    cronjob = drilled.kubectl("get", "cronjob", f"{NAME}-verify", "-o", "json").stdout
    assert '"schedule": "30 4 * * 0"' in cronjob
    drilled.kubectl("create", "job", f"{NAME}-backup-now", f"--from=cronjob/{NAME}-backup")
    backup = wait_for_status(drilled, "lastBackup", f"{NAME}-backup-now")

    # docs/kubectl-plugin.md's verify line, as the page shows it
    verify = documented("docs/kubectl-plugin.md", startswith="kubectl oozo verify")
    assert page_args(verify) == ["verify", NAME, "--job-name", f"{NAME}-verify-now"]
    plugin(drilled, *page_args(verify))
    verified = wait_for_status(drilled, "lastVerifiedBackup", f"{NAME}-verify-now")
    assert verified["result"] == "Verified", verified
    assert verified["version"] == backup["version"] == drilled.get()["status"]["index"]["version"]
    assert verified["mode"] == "samples" and verified["questions"] == verified["hits"] > 0, verified
    assert verified["checksums"] > 1 and verified["lastVerifiedTime"] == verified["time"]
    assert condition(drilled, "BackupVerified")["status"] == "True"
    assert condition(drilled, "BackupVerified")["reason"] == "Verified"
    assert condition(drilled, "Ready")["status"] == "True"
    screen = plugin(drilled, "status", NAME).stdout
    assert "Restore drill" in screen and "Verified (Verified)" in screen, screen

    bucket = drilled.get()["spec"]["backup"]["s3"]["bucket"]
    key = backup["uri"].removeprefix(f"s3://{bucket}/")
    client = s3.client()
    body = bytearray(client.get_object(Bucket=bucket, Key=key)["Body"].read())
    body[len(body) // 2] ^= 0xFF
    client.put_object(Bucket=bucket, Key=key, Body=bytes(body))

    plugin(drilled, "verify", NAME, "--job-name", f"{NAME}-verify-tampered")
    failed = wait_for_status(drilled, "lastVerifiedBackup", f"{NAME}-verify-tampered")
    assert failed["result"] == "Failed" and failed["reason"] == "ChecksumMismatch", failed
    assert backup["uri"] in failed["message"], failed
    assert failed["lastVerifiedTime"] == verified["lastVerifiedTime"]  # the last pass is remembered
    drill_condition = condition(drilled, "BackupVerified")
    assert (drill_condition["status"], drill_condition["reason"]) == ("False", "ChecksumMismatch")
    assert condition(drilled, "Ready")["status"] == "True"  # a failed drill never stops serving
    assert condition(drilled, "IndexReady")["status"] == "True"
    assert drilled.query("What is the code word for the Aurora launch?")["sources"]

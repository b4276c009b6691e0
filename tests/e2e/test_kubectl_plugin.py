"""`kubectl oozo` against the whole loop: a RagCorpus with auth and a MinIO backup target,
Ready with a real served index, operated by the plugin run as a real subprocess (the
`kubectl-oozo` console script) with the test cluster's kubeconfig, the way a user runs it.
Every `kubectl oozo` command shown in docs/kubectl-plugin.md is run here, read from the page
(tests.doc_commands.documented); rollback's are in test_rollback.py."""

from __future__ import annotations

import base64
import hashlib
import json
import shlex
import subprocess
import tarfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from devcluster.operator_process import VENV_BIN
from devcluster.s3server import S3Server
from devcluster.stack import Stack, kubectl
from tests.doc_commands import documented
from tests.e2e import documents
from tests.e2e.conftest import DeployedCorpus, apply, ragcorpus, s3_credentials

PLUGIN = str(Path(VENV_BIN) / "kubectl-oozo")
CODE_WORD_QUESTION = "What is the code word for the Aurora launch?"
BUCKET = "oozo-backups"


def plugin(
    corpus: DeployedCorpus, *args: str, check: bool = True, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    run = subprocess.run(
        [PLUGIN, "--kubeconfig", str(corpus.kubeconfig), "-n", corpus.namespace, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "COLUMNS": "160", "HOME": "/nonexistent"},
    )
    if check and run.returncode != 0:
        raise AssertionError(f"kubectl oozo {' '.join(args)} failed ({run.returncode}):\n{run.stderr}")
    return run


def page_args(command: str) -> list[str]:
    """A documented `kubectl oozo ...` line as the plugin's arguments: `kubectl oozo` is the
    `kubectl-oozo` script kubectl execs, and the page's `-n docs` becomes the test's namespace,
    which `plugin` passes."""
    args = shlex.split(command)
    assert args[:2] == ["kubectl", "oozo"] and args[args.index("-n") + 1] == "docs", command
    at = args.index("-n")
    return args[2:at] + args[at + 2 :]


@pytest.fixture(scope="module")
def guarded(stack: Stack, s3: S3Server) -> Iterator[DeployedCorpus]:
    """A corpus with API-key auth (the generated NAME-api-key Secret) and backups to MinIO."""
    s3.make_bucket(BUCKET)
    namespace = f"e2e-plugin-{uuid.uuid4().hex[:6]}"
    kubectl(stack.kubeconfig, "create", "namespace", namespace)
    creds = s3_credentials(s3, "s3-credentials", namespace)
    backup = {
        "schedule": "0 0 1 1 *",  # run by hand below, never by the clock
        "s3": {
            "bucket": BUCKET,
            "prefix": "handbook/",
            "endpoint": s3.endpoint,
            "region": s3.region,
            "credentialsSecret": "s3-credentials",
        },
    }
    deployed = DeployedCorpus("handbook", namespace, stack)
    apply(
        stack.kubeconfig,
        creds,
        documents.configmap("handbook-docs", namespace, documents.handbook_docs()),
        ragcorpus("handbook", namespace, "handbook-docs", runtime={"auth": {"enabled": True}}, backup=backup),
    )
    deployed.ready_seconds = deployed.wait_ready()
    yield deployed
    kubectl(stack.kubeconfig, "delete", "namespace", namespace, "--wait=false", check=False)


def secret_values(corpus: DeployedCorpus) -> list[str]:
    out = []
    for name in ("handbook-api-key", "s3-credentials"):
        secret = json.loads(corpus.kubectl("get", "secret", name, "-o", "json").stdout)
        out += [base64.b64decode(v).decode() for v in secret["data"].values()]
    return out


def test_status_shows_conditions_index_and_endpoint_on_one_screen(guarded: DeployedCorpus) -> None:
    version = guarded.get()["status"]["index"]["version"]
    shown = documented("docs/kubectl-plugin.md", startswith="kubectl oozo status handbook -n docs")
    screen = plugin(guarded, *page_args(shown)).stdout
    for expected in ("Ready", "IndexPublished", version, "Conditions", "handbook-index-", "http:80/TCP"):
        assert expected in screen, screen
    assert "no backup configured" not in screen, screen


def test_status_json_is_the_same_data_structured(guarded: DeployedCorpus) -> None:
    status = guarded.get()["status"]
    shown = documented("docs/kubectl-plugin.md", startswith="kubectl oozo status", contains="-o json")
    data = json.loads(plugin(guarded, *page_args(shown)).stdout)
    assert {"type": "Ready", "status": "True"}.items() <= next(
        c for c in data["conditions"] if c["type"] == "Ready"
    ).items()
    assert data["index"]["version"] == status["index"]["version"]
    assert data["lastBuild"]["state"] == "Succeeded"
    assert data["lastBuild"]["documents"] == 3
    assert data["endpoint"]["service"] == "handbook"
    assert data["backupSchedule"] == "0 0 1 1 *"


def test_versions_names_the_serving_version(guarded: DeployedCorpus) -> None:
    version = guarded.get()["status"]["index"]["version"]
    data = json.loads(plugin(guarded, "versions", "handbook", "-o", "json").stdout)
    assert data["versions"][0] == {**data["versions"][0], "role": "serving", "version": version}
    shown = documented("docs/kubectl-plugin.md", startswith="kubectl oozo versions")
    assert version in plugin(guarded, *page_args(shown)).stdout


def test_query_reads_the_api_key_from_the_secret_and_answers(guarded: DeployedCorpus) -> None:
    endpoint = guarded.endpoint()
    shown = documented("docs/kubectl-plugin.md", startswith="kubectl oozo query")
    # The page's endpoint is its port-forward's; the test reaches the Service's endpoint directly.
    run = plugin(guarded, *page_args(shown.replace("http://127.0.0.1:8080", endpoint)))
    assert "PERIWINKLE" in run.stdout, run.stdout
    assert "aurora-launch.docx" in run.stdout, run.stdout
    reply = json.loads(
        plugin(guarded, "query", "handbook", CODE_WORD_QUESTION, "--endpoint", endpoint, "-o", "json").stdout
    )
    assert reply["sources"][0]["document"].endswith("aurora-launch.docx"), reply


def test_query_with_auth_and_no_endpoint_says_how_to_reach_the_service(guarded: DeployedCorpus) -> None:
    run = plugin(guarded, "query", "handbook", CODE_WORD_QUESTION, check=False)
    assert run.returncode == 1
    assert "drops the Authorization header" in run.stderr and "port-forward" in run.stderr, run.stderr
    assert "Traceback" not in run.stderr


def test_a_missing_corpus_is_one_clear_line(guarded: DeployedCorpus) -> None:
    run = plugin(guarded, "status", "nope", check=False)
    assert run.returncode == 1
    assert f'ragcorpus "nope" not found in namespace "{guarded.namespace}"' in run.stderr, run.stderr


def test_backup_creates_a_job_from_the_cronjob_that_backs_up_to_minio(guarded: DeployedCorpus) -> None:
    shown = documented("docs/kubectl-plugin.md", startswith="kubectl oozo backup")
    run = plugin(guarded, *page_args(shown))
    assert "--job-name handbook-backup-now" in shown
    assert "job.batch/handbook-backup-now created" in run.stdout
    job = json.loads(guarded.kubectl("get", "job", "handbook-backup-now", "-o", "json").stdout)
    cron = json.loads(guarded.kubectl("get", "cronjob", "handbook-backup", "-o", "json").stdout)
    assert job["metadata"]["ownerReferences"][0]["uid"] == cron["metadata"]["uid"]
    assert job["metadata"]["labels"]["app.kubernetes.io/component"] == "backup"
    assert job["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"] == "manual"
    guarded.kubectl("wait", "--for=condition=Complete", "job/handbook-backup-now", "--timeout=240s")
    deadline = time.monotonic() + 120
    while not (guarded.get()["status"].get("lastBackup") or {}).get("uri"):
        assert time.monotonic() < deadline, guarded.diagnose()
        time.sleep(2)
    data = json.loads(plugin(guarded, "status", "handbook", "-o", "json").stdout)
    assert data["lastBackup"]["uri"].startswith(f"s3://{BUCKET}/handbook"), data["lastBackup"]


def test_status_keeps_the_last_backups_newest_first_as_minio_holds_them(
    guarded: DeployedCorpus, s3: S3Server
) -> None:
    """status.backups: a second backup joins the first, newest first, each with its time,
    version, size and sha256, which are those of the artifact in MinIO."""
    plugin(guarded, "backup", "handbook", "--job-name", "handbook-backup-again")
    guarded.kubectl("wait", "--for=condition=Complete", "job/handbook-backup-again", "--timeout=240s")
    deadline = time.monotonic() + 120
    while len(guarded.get()["status"].get("backups") or []) < 2:
        assert time.monotonic() < deadline, guarded.diagnose()
        time.sleep(2)
    status = guarded.get()["status"]
    backups = status["backups"]
    assert [b["job"] for b in backups[:2]] == ["handbook-backup-again", "handbook-backup-now"], backups
    assert backups[0] == status["lastBackup"]
    assert backups[0]["time"] >= backups[1]["time"]
    for entry in backups[:2]:
        assert entry["version"] == status["index"]["version"]
        bucket, key = entry["uri"].removeprefix("s3://").split("/", 1)
        body = s3.client().get_object(Bucket=bucket, Key=key)["Body"].read()
        assert (len(body), hashlib.sha256(body).hexdigest()) == (entry["sizeBytes"], entry["sha256"])
    screen = plugin(guarded, "status", "handbook").stdout
    assert "earlier" in screen and backups[1]["time"] in screen, screen
    data = json.loads(plugin(guarded, "status", "handbook", "-o", "json").stdout)
    assert data["backups"] == backups


def test_report_bundles_the_children_and_no_secret_value(guarded: DeployedCorpus, tmp_path: Path) -> None:
    shown = documented("docs/kubectl-plugin.md", startswith="kubectl oozo report")
    plugin(guarded, *page_args(shown), cwd=tmp_path)
    bundle = tmp_path / "handbook-report.tar.gz"  # the page's -o
    with tarfile.open(bundle) as tar:
        files = {m.name.split("/", 1)[1]: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]
    for child in ("Deployment-handbook", "Service-handbook", "ConfigMap-handbook-config",
                  "PersistentVolumeClaim-handbook-index", "CronJob-handbook-backup"):  # fmt: skip
        assert f"children/{child}.yaml" in files, sorted(files)
    assert any(f.startswith("children/Job-handbook-index-") for f in files), sorted(files)
    assert not any(f.startswith("children/Secret-") for f in files)
    assert b"name: handbook-api-key" in files["secrets.yaml"]
    assert b"kind: RagCorpus" in files["ragcorpus.yaml"]
    everything = b"\n".join(files.values())
    for value in secret_values(guarded):
        assert value.encode() not in everything
        assert base64.b64encode(value.encode()) not in everything


def test_logs_of_the_build_go_through_the_api_server(guarded: DeployedCorpus) -> None:
    """The local kubelet serves no kubelet API, so the API server cannot stream pod logs here:
    the plugin must find the build's pod and report the refusal in one line, not a traceback."""
    shown = documented("docs/kubectl-plugin.md", startswith="kubectl oozo logs")
    run = plugin(guarded, *page_args(shown), check=False)
    pods = guarded.kubectl("get", "pods", "-l", "app.kubernetes.io/component=index", "-o", "name").stdout
    if run.returncode == 0:
        assert run.stdout.strip(), "logs printed nothing"
    else:
        assert "read the log of pod handbook-index-" in run.stderr, run.stderr
        assert "Traceback" not in run.stderr
    assert "pod/handbook-index-" in pods


def test_reindex_starts_a_new_build_job(guarded: DeployedCorpus) -> None:
    def index_jobs() -> set[str]:
        out = guarded.kubectl("get", "jobs", "-l", "app.kubernetes.io/component=index", "-o", "name").stdout
        return set(out.split())

    before = index_jobs()
    run = plugin(guarded, *page_args(documented("docs/kubectl-plugin.md", startswith="kubectl oozo reindex")))
    assert "reindex requested at" in run.stdout
    annotations = guarded.get()["metadata"]["annotations"]
    assert annotations["rag.oozo.dev/reindex-requested-at"].endswith("Z")
    deadline = time.monotonic() + 60
    while not index_jobs() - before:
        assert time.monotonic() < deadline, guarded.diagnose()
        time.sleep(1)

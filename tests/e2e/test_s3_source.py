"""An S3 source end to end: a RagCorpus over .docx files in a real MinIO bucket, credentials in a
Secret, the index Job's `fetch` init container really running `oozo fetch` (the local kubelet),
the `index` container indexing what it fetched. Ready with status.sourceRevision set and the right
answer; a refresh of the unchanged bucket downloads nothing (its listing is at the published
revision) and publishes no new version; a change
in the bucket is built after the reindex annotation and answered from."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from devcluster.s3server import S3Server
from devcluster.stack import Stack
from tests.e2e import documents
from tests.e2e.conftest import REFRESH_BY_HAND, DeployedCorpus, deployed_source, s3_credentials

BUCKET, PREFIX = "team-docs", "handbook/"
CODE_WORD_QUESTION = "What is the code word for the Aurora launch?"
REINDEX = "rag.oozo.dev/reindex-requested-at"


def upload(server: S3Server, files: dict[str, bytes]) -> None:
    client = server.client()
    for name, body in files.items():
        client.put_object(Bucket=BUCKET, Key=PREFIX + name, Body=body)


@pytest.fixture(scope="module")
def s3_handbook(stack: Stack, s3: S3Server) -> Iterator[DeployedCorpus]:
    s3.make_bucket(BUCKET)
    upload(s3, documents.handbook_docs())
    secret = s3_credentials(s3, "s3-credentials")
    source = {
        "s3": {
            "bucket": BUCKET,
            "prefix": PREFIX,
            "endpoint": s3.endpoint,
            "region": s3.region,
            "pathStyle": True,
            "credentialsSecret": "s3-credentials",
        }
    }
    with deployed_source(stack, "s3", source, secret, refresh=REFRESH_BY_HAND) as deployed:
        yield deployed


def fetch_result_of(corpus: DeployedCorpus, job: str) -> dict[str, Any]:
    """The FetchResult the Job's `fetch` init container wrote as its termination message."""
    pods = json.loads(
        corpus.kubectl("get", "pods", "-l", f"batch.kubernetes.io/job-name={job}", "-o", "json").stdout
    )
    for pod in pods["items"]:
        for status in pod["status"].get("initContainerStatuses") or []:
            done = (status.get("state") or {}).get("terminated") or {}
            if status["name"] == "fetch" and done.get("exitCode") == 0:
                return dict(json.loads(done["message"]))
    raise AssertionError(f"no successful fetch in Job {job}:\n{corpus.diagnose()}")


def wait_for_status(corpus: DeployedCorpus, what: str, check: Any, timeout: float = 300) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = corpus.get().get("status") or {}
        if check(status):
            return dict(status)
        time.sleep(2)
    raise AssertionError(f"{what} did not happen within {timeout}s:\n{corpus.diagnose()}")


def test_an_s3_corpus_is_ready_with_its_source_revision_and_answers(s3_handbook: DeployedCorpus) -> None:
    status = s3_handbook.get()["status"]
    assert status["index"]["documents"] == 3, status
    assert status["sourceRevision"].startswith("sha256:"), status
    assert status["sourceRevision"] == status["index"]["sourceRevision"]
    reply = s3_handbook.query(CODE_WORD_QUESTION)
    assert "PERIWINKLE" in json.dumps(reply), reply
    assert any(s["document"].endswith("aurora-launch.docx") for s in reply["sources"][:2]), reply
    fetched = fetch_result_of(s3_handbook, status["index"]["job"])
    assert (
        fetched["kind"] == "s3"
        and fetched["fetched"] == 3
        and fetched["revision"] == status["sourceRevision"]
    )


def test_a_refresh_of_an_unchanged_source_fetches_nothing_and_publishes_no_version(
    s3_handbook: DeployedCorpus,
) -> None:
    before = s3_handbook.get()["status"]
    job = "handbook-refresh-unchanged"
    s3_handbook.kubectl("create", "job", job, "--from=cronjob/handbook-refresh")
    after = wait_for_status(s3_handbook, "the refresh read into status", lambda s: s["index"]["job"] == job)
    assert after["index"]["version"] == before["index"]["version"], after
    assert after["sourceRevision"] == before["sourceRevision"], after
    fetched = fetch_result_of(s3_handbook, job)
    # The refresh asked with --unless-revision (the published revision): the listing alone
    # showed the bucket unchanged, so nothing was downloaded and DIR was not even compared.
    assert fetched["skippedBecauseUnchanged"] is True, fetched
    assert (fetched["fetched"], fetched["removed"], fetched["revision"]) == (0, 0, before["sourceRevision"])
    assert after["index"]["reusedEmbeddings"] == after["index"]["chunks"], after


def test_a_change_at_the_source_is_built_after_the_reindex_annotation(
    s3_handbook: DeployedCorpus, s3: S3Server
) -> None:
    before = s3_handbook.get()["status"]
    upload(s3, {"aurora-launch.docx": documents.aurora("MARIGOLD")})
    s3_handbook.kubectl("annotate", "ragcorpus", "handbook", "--overwrite", f"{REINDEX}=2026-05-01T10:00:00Z")
    after = wait_for_status(
        s3_handbook,
        "a new version built from the changed bucket",
        lambda s: (s.get("index") or {}).get("version") not in (None, before["index"]["version"]),
    )
    assert after["sourceRevision"] != before["sourceRevision"], after
    fetched = fetch_result_of(s3_handbook, after["index"]["job"])
    assert (fetched["fetched"], fetched["unchanged"]) == (1, 2), fetched
    s3_handbook.wait_ready()
    deadline = time.monotonic() + 120
    while "MARIGOLD" not in json.dumps(reply := s3_handbook.query(CODE_WORD_QUESTION)):
        assert time.monotonic() < deadline, f"the new version is not served: {reply}"
        time.sleep(2)

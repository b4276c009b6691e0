"""Going back to an earlier index version (issue 17, "Versions you can go back to"), end to end:
two versions built from two revisions of the documents, `kubectl oozo rollback` pins the older
one and every endpoint answers from it, `--latest` returns to the newest, and neither rollout
drops a query or starts a build. A pin to a version that is not on the volume stalls the corpus
with PinnedVersionNotFound while the serving version keeps answering."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator

import pytest

from devcluster.stack import Stack, kubectl
from tests.doc_commands import documented
from tests.e2e import documents
from tests.e2e.conftest import DeployedCorpus, apply, ragcorpus
from tests.e2e.test_kubectl_plugin import page_args, plugin
from tests.e2e.test_quickstart_loop import CODE_WORD_QUESTION, QueryLoop, index_jobs, roll_out_under_load


@pytest.fixture(scope="module")
def two_versions(stack: Stack) -> Iterator[tuple[DeployedCorpus, str, str]]:
    """A corpus served by two replicas whose volume holds the PERIWINKLE and MARIGOLD versions."""
    namespace = f"e2e-rollback-{uuid.uuid4().hex[:6]}"
    kubectl(stack.kubeconfig, "create", "namespace", namespace)
    corpus = DeployedCorpus("handbook", namespace, stack)
    apply(
        stack.kubeconfig,
        documents.configmap("handbook-docs", namespace, documents.handbook_docs()),
        ragcorpus("handbook", namespace, "handbook-docs", runtime={"replicas": 2}),
    )
    corpus.wait_ready()

    def change() -> None:
        docs = documents.handbook_docs("MARIGOLD")
        apply(stack.kubeconfig, documents.configmap("handbook-docs", namespace, docs))

    seen = roll_out_under_load(corpus, change, "MARIGOLD")
    yield corpus, seen["before"], seen["after"]
    kubectl(stack.kubeconfig, "delete", "namespace", namespace, "--wait=false", check=False)


def serving_version(corpus: DeployedCorpus) -> str:
    index = corpus.get()["status"]["index"]
    return str(index.get("servingVersion") or index["version"])


def roll_under_load(
    corpus: DeployedCorpus, change: Callable[[], object], want: str, code_word: str
) -> QueryLoop:
    """Make `change` while a QueryLoop runs; wait until `want` serves on every endpoint, Ready."""
    jobs_before = index_jobs(corpus)
    loop = QueryLoop(corpus)
    loop.start()
    try:
        time.sleep(2)
        change()
        deadline = time.monotonic() + 300
        while True:
            conditions = {c["type"]: c for c in corpus.get()["status"].get("conditions") or []}
            if serving_version(corpus) == want and conditions["Ready"]["status"] == "True":
                break
            assert time.monotonic() < deadline, f"{want} did not roll out\n{corpus.diagnose()}"
            time.sleep(1)
        while True:  # every endpoint: the old pods are gone once every answer is from `want`
            replies = [corpus.query(CODE_WORD_QUESTION) for _ in range(4)]
            if all(r["index_version"] == want and code_word in json.dumps(r) for r in replies):
                break
            assert time.monotonic() < deadline, f"still not {want}: {replies}\n{corpus.diagnose()}"
            time.sleep(0.5)
        time.sleep(3)
    finally:
        loop.stop.set()
        loop.join(timeout=30)
    total = loop.ok + len(loop.failures)
    assert loop.failures == [], f"{len(loop.failures)} of {total} queries failed: {loop.failures[:10]}"
    assert loop.ok > 20, loop.ok
    assert index_jobs(corpus) == jobs_before, "a pin or an unpin started a build"
    return loop


def test_rollback_serves_the_earlier_version_and_latest_returns_without_a_failed_query(
    two_versions: tuple[DeployedCorpus, str, str],
) -> None:
    corpus, older, newest = two_versions
    back = documented("docs/kubectl-plugin.md", startswith="kubectl oozo rollback handbook -n docs")
    latest = documented("docs/kubectl-plugin.md", startswith="kubectl oozo rollback", contains="--latest")
    listed = json.loads(plugin(corpus, "versions", "handbook", "-o", "json").stdout)
    assert [r["version"] for r in listed["versions"]][:2] == [newest, older], listed
    assert listed["versions"][0]["role"] == "serving"

    # The page's plain rollback: the version before the serving one.
    loop = roll_under_load(corpus, lambda: plugin(corpus, *page_args(back)), older, "PERIWINKLE")
    assert set(loop.versions) == {newest, older}, loop.versions
    stored = corpus.get()
    assert stored["spec"]["index"]["pinnedVersion"] == older
    assert stored["status"]["index"]["version"] == newest  # the newest build is still the newest
    ready = next(c for c in stored["status"]["conditions"] if c["type"] == "Ready")
    assert f"serving index version {older} (pinned; the newest is {newest})" in ready["message"]
    roles = {
        r["version"]: r["role"]
        for r in json.loads(plugin(corpus, "versions", "handbook", "-o", "json").stdout)["versions"]
    }
    assert (roles[older], roles[newest]) == ("serving, pinned", "newest"), roles

    loop = roll_under_load(corpus, lambda: plugin(corpus, *page_args(latest)), newest, "MARIGOLD")
    assert set(loop.versions) == {older, newest}, loop.versions
    stored = corpus.get()
    assert "pinnedVersion" not in stored["spec"]["index"]
    assert "servingVersion" not in stored["status"]["index"]


def test_a_pin_to_a_version_not_on_the_volume_stalls_and_keeps_serving(
    two_versions: tuple[DeployedCorpus, str, str],
) -> None:
    corpus, _, newest = two_versions
    refused = plugin(corpus, "rollback", "handbook", "20250101t000000z-deadbeef", check=False)
    assert refused.returncode == 1 and "is not on the index volume" in refused.stderr, refused.stderr
    patch = json.dumps({"spec": {"index": {"pinnedVersion": "20250101t000000z-deadbeef"}}})
    corpus.kubectl("patch", "ragcorpus", "handbook", "--type=merge", "-p", patch)
    try:
        deadline = time.monotonic() + 60
        while True:
            conditions = {c["type"]: c for c in corpus.get()["status"].get("conditions") or []}
            if conditions["Stalled"]["reason"] == "PinnedVersionNotFound":
                break
            assert time.monotonic() < deadline, corpus.diagnose()
            time.sleep(1)
        assert "20250101t000000z-deadbeef" in conditions["Stalled"]["message"]
        assert f"version {newest} keeps serving" in conditions["Stalled"]["message"]
        assert corpus.query(CODE_WORD_QUESTION)["index_version"] == newest
    finally:
        plugin(corpus, "rollback", "handbook", "--latest")
    corpus.wait_ready(timeout=120)

"""The user's journey, end to end: apply a RagCorpus over .docx files, wait for Ready, ask the
generated Service, change a document, and watch the new index roll out without a failed query."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.doc_commands import documented, namespaced_kubeconfig, shell
from tests.e2e import documents
from tests.e2e.conftest import DeployedCorpus, apply, ragcorpus

CODE_WORD_QUESTION = "What is the code word for the Aurora launch?"


def sources_of(reply: dict) -> list[str]:
    return [s["document"] for s in reply.get("sources") or []]


def test_ready_corpus_answers_from_the_right_document(handbook: DeployedCorpus) -> None:
    status = handbook.get()["status"]
    assert status["index"]["documents"] == 3, status
    assert status["index"]["chunks"] >= 3, status

    reply = handbook.query(CODE_WORD_QUESTION)
    assert any(d.endswith("aurora-launch.docx") for d in sources_of(reply)[:2]), reply
    assert "PERIWINKLE" in json.dumps(reply), reply
    assert reply["index_version"] == status["index"]["version"]

    # Auth is on by default: without the generated key the same question is refused.
    refused = handbook.post_query(CODE_WORD_QUESTION)
    assert refused.status_code == 401 and "Bearer" in refused.headers["www-authenticate"], refused.text
    assert handbook.post_query(CODE_WORD_QUESTION, key="not-the-key").status_code == 401

    table_reply = handbook.query("What is the hotel night cap for travel?")
    assert sources_of(table_reply)[0].endswith("travel-expenses.docx"), table_reply
    assert "180 euros" in json.dumps(table_reply), table_reply

    # The printer columns a user sees.
    out = handbook.kubectl("get", "ragcorpora").stdout
    header, row = out.splitlines()[0].split(), out.splitlines()[1].split()
    for column in ("NAME", "READY", "DOCUMENTS", "CHUNKS", "VERSION", "AGE"):
        assert column in header, out
    assert row[0] == "handbook" and row[header.index("READY")] == "True", out
    assert row[header.index("DOCUMENTS")] == "3", out
    assert row[header.index("VERSION")] == status["index"]["version"], out


def test_the_documented_queries_answer_as_written(handbook: DeployedCorpus, tmp_path: Path) -> None:
    """The query lines of README.md, docs/querying.md and docs/operator.md, read from the pages and
    run by bash. Substituted, visibly: the Service's in-cluster name by its endpoint, the pages'
    namespace by the test's (README's and querying.md's lines name none: they run in a kubeconfig
    whose current namespace is the test's)."""
    kubeconfig = {"KUBECONFIG": str(namespaced_kubeconfig(handbook.kubeconfig, handbook.namespace, tmp_path))}
    endpoint = handbook.endpoint()
    readme = "\n".join(
        [
            documented("README.md", startswith="kubectl wait --for=condition=Ready ragcorpus/handbook"),
            documented("README.md", startswith="KEY=$(kubectl get secret handbook-api-key"),
            documented("README.md", startswith="curl -s http://handbook.default.svc/api/query"),
        ]
    ).replace("http://handbook.default.svc", endpoint)
    querying = documented("docs/querying.md", startswith="curl").replace("http://handbook.docs.svc", endpoint)
    operator = "\n".join(
        [
            documented("docs/operator.md", startswith="KEY=$(kubectl get secret handbook-api-key -n docs"),
            documented("docs/operator.md", startswith="curl -s http://handbook.docs.svc/api/query"),
        ]
    )
    operator = operator.replace("-n docs", f"-n {handbook.namespace}").replace(
        "http://handbook.docs.svc", endpoint
    )
    version = handbook.get()["status"]["index"]["version"]
    for script in (readme, querying, operator):
        done = shell(script, tmp_path, kubeconfig, timeout=120)
        assert done.returncode == 0, (script, done.stderr)
        reply = json.loads(done.stdout.splitlines()[-1])
        assert reply.get("answer") and reply["index_version"] == version, (script, reply)
    assert sources_of(json.loads(shell(querying, tmp_path, kubeconfig).stdout)), querying  # return_sources


class QueryLoop(threading.Thread):
    """Asks the Service continuously, resolving its endpoints before every query (as a client
    behind kube-proxy would be routed), and records every failure."""

    def __init__(self, corpus: DeployedCorpus) -> None:
        super().__init__(daemon=True)
        self.corpus = corpus
        self.stop = threading.Event()
        self.ok = 0
        self.failures: list[str] = []
        self.versions: dict[str, int] = {}

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                reply = self.corpus.query(CODE_WORD_QUESTION, top_k=2, timeout=20)
                self.ok += 1
                self.versions[reply["index_version"]] = self.versions.get(reply["index_version"], 0) + 1
            except (httpx.HTTPError, LookupError, KeyError) as err:
                self.failures.append(f"{time.strftime('%H:%M:%S')} {type(err).__name__}: {err}")
            time.sleep(0.05)


def index_jobs(corpus: DeployedCorpus) -> set[str]:
    out = corpus.kubectl("get", "jobs", "-l", f"app.kubernetes.io/instance={corpus.name}", "-o", "name")
    return set(out.stdout.split())


def roll_out_under_load(corpus: DeployedCorpus, change: Callable[[], None], code_word: str) -> dict:
    """Make `change` while a QueryLoop runs; wait until a new index version is built, rolled out
    and served by every endpoint; return what the loop saw."""
    before = corpus.get()["status"]["index"]["version"]
    jobs_before = index_jobs(corpus)
    loop = QueryLoop(corpus)
    loop.start()
    try:
        time.sleep(2)
        change()
        changed = time.monotonic()
        deadline = changed + 480
        while True:
            if time.monotonic() - changed > 120 and not index_jobs(corpus) - jobs_before:
                raise AssertionError(
                    f"no new index Job within 120s of the change (Jobs: {sorted(jobs_before)})\n"
                    f"{corpus.diagnose()}"
                )
            status = corpus.get().get("status") or {}
            version = (status.get("index") or {}).get("version")
            ready = {c["type"]: c["status"] for c in status.get("conditions") or []}.get("Ready")
            if version and version != before and ready == "True":
                break
            assert time.monotonic() < deadline, f"no new index version rolled out\n{corpus.diagnose()}"
            time.sleep(1)
        corpus.wait_ready()
        # Every endpoint of the Service serves the new version once the rollout is over.
        deadline = time.monotonic() + 120
        while True:
            reply = corpus.query(CODE_WORD_QUESTION)
            if reply["index_version"] == version and code_word in json.dumps(reply):
                break
            assert time.monotonic() < deadline, f"old version still served: {reply}\n{corpus.diagnose()}"
            time.sleep(0.5)
        time.sleep(3)
    finally:
        loop.stop.set()
        loop.join(timeout=30)

    assert index_jobs(corpus) - jobs_before, f"no new index Job: {jobs_before}\n{corpus.diagnose()}"
    total = loop.ok + len(loop.failures)
    assert loop.failures == [], f"{len(loop.failures)} of {total} queries failed: {loop.failures[:10]}"
    assert loop.ok > 20, loop.ok
    assert set(loop.versions) == {before, version}, loop.versions
    return {"before": before, "after": version, "queries": loop.ok}


def test_changed_chunking_rolls_out_a_new_index_without_failed_queries(handbook: DeployedCorpus) -> None:
    def change() -> None:
        apply(
            handbook.kubeconfig,
            ragcorpus(
                handbook.name, handbook.namespace, "handbook-docs",
                runtime={"replicas": 2}, chunking={"size": 800, "overlap": 100},
            ),
        )  # fmt: skip

    seen = roll_out_under_load(handbook, change, "PERIWINKLE")
    print(f"rolled {seen['before']} → {seen['after']} under {seen['queries']} queries, none failed")


def test_changed_document_rolls_out_a_new_index_without_failed_queries(handbook: DeployedCorpus) -> None:
    def change() -> None:
        docs = documents.handbook_docs("MARIGOLD")
        apply(handbook.kubeconfig, documents.configmap("handbook-docs", handbook.namespace, docs))

    seen = roll_out_under_load(handbook, change, "MARIGOLD")
    print(f"rolled {seen['before']} → {seen['after']} under {seen['queries']} queries, none failed")
    assert "PERIWINKLE" not in json.dumps(handbook.query(CODE_WORD_QUESTION))


def test_the_documented_reindex_annotation_starts_a_build(handbook: DeployedCorpus, tmp_path: Path) -> None:
    """docs/operator.md's reindex line, read from the page and run by bash in a kubeconfig whose
    current namespace is the test's (the line names none)."""
    kubeconfig = {"KUBECONFIG": str(namespaced_kubeconfig(handbook.kubeconfig, handbook.namespace, tmp_path))}
    before = index_jobs(handbook)
    command = documented("docs/operator.md", startswith="kubectl annotate ragcorpus handbook")
    done = shell(command, tmp_path, kubeconfig, timeout=60)
    assert done.returncode == 0, done.stderr
    assert handbook.get()["metadata"]["annotations"]["rag.oozo.dev/reindex-requested-at"].endswith("Z")
    deadline = time.monotonic() + 60
    while not index_jobs(handbook) - before:
        assert time.monotonic() < deadline, handbook.diagnose()
        time.sleep(1)

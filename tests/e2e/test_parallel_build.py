"""A parallel build end to end (docs/operator.md, "Parallel builds"): a RagCorpus with
spec.index.build.parallelism 3 is built by an Indexed Job whose three pods the local kubelet
runs (each reads its shard from JOB_COMPLETION_INDEX, which the Job controller passes through a
fieldRef to the pod's completion-index annotation); the last shard merges and publishes, and the
corpus goes Ready and answers from the merged version. A shard killed mid-build (SIGKILL to its
process, as an OOM kill or a lost node does) is retried by the Job controller under the same
index (backoffLimitPerIndex); the build still publishes one version that gives the same answer,
and the corpus's status says the shard is retried, never that the build failed."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import uuid

from kubernetes import client, config, watch

from devcluster.stack import Stack, kubectl
from oozo_operator.shards import COMPLETION_INDEX
from tests.e2e import documents
from tests.e2e.conftest import DeployedCorpus, apply, ragcorpus
from tests.e2e.test_quickstart_loop import CODE_WORD_QUESTION


def test_a_corpus_built_by_three_shards_goes_ready_and_answers(stack: Stack) -> None:
    namespace = f"e2e-shards-{uuid.uuid4().hex[:6]}"
    kubectl(stack.kubeconfig, "create", "namespace", namespace)
    corpus = DeployedCorpus("handbook", namespace, stack)
    try:
        apply(
            stack.kubeconfig,
            documents.configmap("handbook-docs", namespace, documents.handbook_docs()),
            ragcorpus(
                "handbook",
                namespace,
                "handbook-docs",
                index={"storage": {"size": "1Gi"}, "build": {"parallelism": 3}},
            ),
        )
        corpus.wait_ready()
        index = corpus.get()["status"]["index"]
        assert index["documents"] == 3, index

        jobs = json.loads(corpus.kubectl("get", "jobs", "-o", "json").stdout)["items"]
        (build,) = [j for j in jobs if j["spec"].get("completionMode") == "Indexed"]
        assert (build["spec"]["completions"], build["status"].get("succeeded")) == (3, 3), build["status"]
        assert build["status"].get("completedIndexes") == "0-2"
        (container,) = [c for c in build["spec"]["template"]["spec"]["containers"] if c["name"] == "index"]
        threads = {e["name"]: e.get("value") for e in container["env"] if e["name"].endswith("_NUM_THREADS")}
        assert threads == {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}  # the default 500m CPU request

        reply = corpus.query(CODE_WORD_QUESTION)
        assert "PERIWINKLE" in reply["answer"], reply
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{corpus.diagnose()}") from None
    finally:
        kubectl(stack.kubeconfig, "delete", "namespace", namespace, "--wait=false", check=False)


# The shard the test kills: the one that reads aurora-launch.docx (shard_of("aurora-launch.docx",
# 3) is 1), so the code word in the answer can only come from the retried shard's work.
KILLED_SHARD = 1


class ConditionLog:
    """Every state of the corpus's conditions while the test runs, from a watch of the RagCorpus
    (resumed from the last resourceVersion it saw, so no update is missed between two polls)."""

    def __init__(self, corpus: DeployedCorpus) -> None:
        self.corpus = corpus
        self.api = config.new_client_from_config(str(corpus.kubeconfig))
        self.states: list[str] = []
        self.done = threading.Event()
        self.reader = threading.Thread(target=self._watch, daemon=True)
        self.reader.start()

    def _watch(self) -> None:
        objects = client.CustomObjectsApi(self.api)
        version: str | None = None
        while not self.done.is_set():
            try:
                for event in watch.Watch().stream(
                    objects.list_namespaced_custom_object,
                    "rag.oozo.dev",
                    "v1alpha1",
                    self.corpus.namespace,
                    "ragcorpora",
                    field_selector=f"metadata.name={self.corpus.name}",
                    resource_version=version,
                    timeout_seconds=5,
                ):
                    corpus = event["object"]
                    version = corpus["metadata"]["resourceVersion"]
                    conditions = (corpus.get("status") or {}).get("conditions") or []
                    self.states.append(
                        "|".join(
                            f"{c['type']}={c['status']}:{c.get('reason')}:{c.get('message')}"
                            for c in conditions
                        )
                    )
                    if self.done.is_set():
                        return
            except Exception:  # a broken or expired stream: list again from the start
                version = None
                self.done.wait(0.2)

    def stop(self) -> list[str]:
        self.done.set()
        self.reader.join(timeout=15)
        self.api.close()
        return self.states


def kill_shard_mid_build(stack: Stack, namespace: str, shard: int, timeout: float = 300) -> int:
    """SIGKILL the running `oozo index` of shard `shard` (the local kubelet's process group of the
    pod's container) once it is loading the model to embed its documents: it has staged
    nothing yet. Returns the killed process's id."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for worker in list(stack.kubelet.workers.values()):
            meta = worker.pod["metadata"]
            index = (meta.get("annotations") or {}).get(COMPLETION_INDEX)
            if meta["namespace"] != namespace or index != str(shard):
                continue
            for container in worker.main:
                proc = container.proc
                if container.spec["name"] != "index" or proc is None or proc.popen.poll() is not None:
                    continue
                log = proc.log_path.read_text(errors="replace") if proc.log_path.exists() else ""
                if "loading embedding model" in log:
                    os.killpg(proc.popen.pid, signal.SIGKILL)
                    return proc.popen.pid
        time.sleep(0.2)
    raise AssertionError(f"shard {shard} never started embedding in {timeout} s")


def test_a_shard_killed_mid_build_is_retried_and_the_build_publishes_one_version(stack: Stack) -> None:
    namespace = f"e2e-killed-{uuid.uuid4().hex[:6]}"
    kubectl(stack.kubeconfig, "create", "namespace", namespace)
    corpus = DeployedCorpus("handbook", namespace, stack)
    conditions: ConditionLog | None = None
    try:
        apply(stack.kubeconfig, documents.configmap("handbook-docs", namespace, documents.handbook_docs()))
        apply(
            stack.kubeconfig,
            ragcorpus(
                "handbook",
                namespace,
                "handbook-docs",
                index={"storage": {"size": "1Gi"}, "build": {"parallelism": 3}},
            ),
        )
        conditions = ConditionLog(corpus)
        kill_shard_mid_build(stack, namespace, KILLED_SHARD)
        corpus.wait_ready()
        seen = conditions.stop()

        index = corpus.get()["status"]["index"]
        assert index["documents"] == 3, index
        assert [v["version"] for v in index["available"]] == [index["version"]], index

        jobs = json.loads(corpus.kubectl("get", "jobs", "-o", "json").stdout)["items"]
        (build,) = [j for j in jobs if j["spec"].get("completionMode") == "Indexed"]
        assert build["status"].get("completedIndexes") == "0-2", build["status"]
        assert build["status"].get("failed") == 1, build["status"]
        assert not build["status"].get("failedIndexes"), build["status"]
        pods = json.loads(corpus.kubectl("get", "pods", "-o", "json").stdout)["items"]
        killed = [
            p
            for p in pods
            if (p["metadata"].get("annotations") or {}).get(COMPLETION_INDEX) == str(KILLED_SHARD)
        ]
        phases = sorted(p["status"]["phase"] for p in killed)
        assert phases == ["Failed", "Succeeded"], phases  # the killed try, and its retry
        (failed,) = [p for p in killed if p["status"]["phase"] == "Failed"]
        (state,) = failed["status"]["containerStatuses"]
        assert state["state"]["terminated"]["exitCode"] == 137, state

        reply = corpus.query(CODE_WORD_QUESTION)
        assert "PERIWINKLE" in reply["answer"], reply

        assert not [c for c in seen if "IndexBuildFailed" in c or "Stalled=True" in c], seen
        assert [c for c in seen if f"IndexBuildRetrying:Job {build['metadata']['name']} shard 1 " in c], seen
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{corpus.diagnose()}") from None
    finally:
        if conditions is not None and not conditions.done.is_set():
            conditions.stop()
        kubectl(stack.kubeconfig, "delete", "namespace", namespace, "--wait=false", check=False)

"""A parallel build end to end (docs/operator.md, "Parallel builds"): a RagCorpus with
spec.index.build.parallelism 3 is built by an Indexed Job whose three pods the local kubelet
runs (each reads its shard from JOB_COMPLETION_INDEX, which the Job controller passes through a
fieldRef to the pod's completion-index annotation); the last shard merges and publishes, and the
corpus goes Ready and answers from the merged version."""

from __future__ import annotations

import json
import uuid

from devcluster.stack import Stack, kubectl
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

        reply = corpus.query(CODE_WORD_QUESTION)
        assert "PERIWINKLE" in reply["answer"], reply
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{corpus.diagnose()}") from None
    finally:
        kubectl(stack.kubeconfig, "delete", "namespace", namespace, "--wait=false", check=False)

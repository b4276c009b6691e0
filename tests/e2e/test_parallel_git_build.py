"""A fetched source built in parallel (docs/operator.md, "Parallel builds", Storage): a RagCorpus
over a repository on the loopback Git server with spec.index.build.parallelism 2. Each shard pod's
`fetch` init container fetches the commit into the one source cache on the index volume (under
the fetch lock: the second finds it there), both shards stage from it, one merges; the corpus goes
Ready at the commit and answers."""

from __future__ import annotations

import json
import secrets
import uuid
from pathlib import Path

from devcluster.gitserver import GitServer
from devcluster.stack import Stack, kubectl
from tests.e2e.conftest import DeployedCorpus, apply, ragcorpus
from tests.e2e.test_git_http_sources import LEAVE, QUESTION, TRAVEL, aurora
from tests.git.conftest import SourceRepo

GIT_USER, GIT_TOKEN = "oozo-reader", "e2e-t0ken-" + secrets.token_hex(8)


def test_a_git_corpus_built_by_two_shards_goes_ready_at_its_commit_and_answers(
    stack: Stack, tmp_path: Path
) -> None:
    server = GitServer(tmp_path / "git", username=GIT_USER, password=GIT_TOKEN).start()
    namespace = f"e2e-git-shards-{uuid.uuid4().hex[:6]}"
    kubectl(stack.kubeconfig, "create", "namespace", namespace)
    corpus = DeployedCorpus("handbook", namespace, stack)
    try:
        repo = SourceRepo(server, "handbook", tmp_path / "work" / "handbook")
        repo.write("docs/aurora-launch.md", aurora("PERIWINKLE"))
        repo.write("docs/leave.md", LEAVE)
        repo.write("docs/travel.md", TRAVEL)
        head = repo.commit("first")
        secret = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "git-token", "namespace": namespace},
            "stringData": {"username": GIT_USER, "password": GIT_TOKEN},
        }
        spec = ragcorpus(
            "handbook", namespace, "unused", index={"storage": {"size": "1Gi"}, "build": {"parallelism": 2}}
        )
        spec["spec"]["source"] = {
            "git": {
                "url": server.url(repo.name),
                "ref": "main",
                "path": "docs",
                "credentialsSecret": "git-token",
            }
        }
        apply(stack.kubeconfig, secret, spec)
        corpus.wait_ready()

        status = corpus.get()["status"]
        assert status["index"]["documents"] == 3, status
        assert status["sourceRevision"] == head == status["index"]["sourceRevision"], status
        jobs = json.loads(corpus.kubectl("get", "jobs", "-o", "json").stdout)["items"]
        (build,) = [j for j in jobs if j["spec"].get("completionMode") == "Indexed"]
        assert build["status"].get("completedIndexes") == "0,1", build["status"]  # the API's form for two
        reply = corpus.query(QUESTION)
        assert "PERIWINKLE" in json.dumps(reply), reply
        assert GIT_TOKEN not in json.dumps(corpus.get())
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{corpus.diagnose()}") from None
    finally:
        kubectl(stack.kubeconfig, "delete", "namespace", namespace, "--wait=false", check=False)
        server.stop()

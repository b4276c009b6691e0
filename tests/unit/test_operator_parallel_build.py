"""spec.index.build.parallelism: the index Job as an Indexed Job whose pods stage one shard each
and the last merges; parallelism 1 renders the plain Job as before (the goldens pin it); status
names a running build's shard progress and a failed shard by its index."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from oozo_contract import defaults as d
from oozo_operator.api.spec import IndexBuild
from oozo_operator.config import OperatorSettings
from oozo_operator.observe import build_of
from oozo_operator.render import cronjob, job
from oozo_operator.render.corpus import Corpus
from oozo_operator.shards import COMPLETION_INDEX, count_indexes
from tests.operator_builders import Modifier, at, make_corpus, with_refresh

pytestmark = pytest.mark.unit


def corpus_of(*mods: Modifier) -> Corpus:
    obj = make_corpus("docs", *mods, namespace="ns")
    obj["metadata"]["uid"] = "uid-1"
    return Corpus.from_body(obj, OperatorSettings())


def env_of(spec: dict[str, Any]) -> dict[str, str]:
    (container,) = [c for c in spec["template"]["spec"]["containers"] if c["name"] == job.CONTAINER]
    return {e["name"]: e.get("value", "") for e in container["env"]}


def test_parallelism_3_renders_an_indexed_job_whose_shards_merge() -> None:
    corpus = corpus_of(at("spec.index.build", {"parallelism": 3}))
    spec = job.render(corpus)["spec"]
    assert (spec["completionMode"], spec["completions"], spec["parallelism"]) == ("Indexed", 3, 3)
    retries = corpus.settings.job_backoff_limit
    assert (spec["backoffLimitPerIndex"], spec["backoffLimit"]) == (retries, 3 * retries)
    env = env_of(spec)
    assert (env["OOZO_SHARDS"], env["OOZO_MERGE"]) == ("3", "true")
    assert "OOZO_SHARD" not in env  # each pod's shard is the JOB_COMPLETION_INDEX the Job controller sets


@pytest.mark.parametrize(
    ("mods", "threads"),
    [
        ((), "1"),  # the default request, 500m CPU
        ((at("spec.index.resources", {"requests": {"cpu": "1500m", "memory": "1Gi"}}),), "2"),
        ((at("spec.index.resources", {"requests": {"cpu": "1"}, "limits": {"cpu": "4"}}),), "4"),
        ((at("spec.embedding.resources", {"limits": {"cpu": 3, "nvidia.com/gpu": 1}}),), "3"),
        ((at("spec.index.resources", {"limits": {"memory": "4Gi"}}),), "1"),  # no CPU named
    ],
)
def test_each_shard_pod_embeds_with_the_threads_of_its_cpu_limit_or_request(
    mods: tuple[Modifier, ...], threads: str
) -> None:
    env = env_of(job.render(corpus_of(at("spec.index.build", {"parallelism": 3}), *mods))["spec"])
    assert (env["OMP_NUM_THREADS"], env["MKL_NUM_THREADS"]) == (threads, threads)


def test_parallelism_1_and_absent_render_the_same_plain_job() -> None:
    plain = job.render(corpus_of())
    assert job.render(corpus_of(at("spec.index.build", {"parallelism": 1}))) == plain
    assert "completionMode" not in plain["spec"] and "OOZO_SHARDS" not in env_of(plain["spec"])
    assert "OMP_NUM_THREADS" not in env_of(plain["spec"])  # one pod on its node: torch takes every core


def test_parallelism_is_no_index_input_and_the_refresh_builds_in_one_pod() -> None:
    corpus = corpus_of(at("spec.index.build", {"parallelism": 4}), with_refresh("0 * * * *"))
    assert corpus.index_hash == corpus_of(with_refresh("0 * * * *")).index_hash
    refresh = cronjob.render(corpus)["spec"]["jobTemplate"]["spec"]
    assert "completionMode" not in refresh and "OOZO_SHARDS" not in env_of(refresh)


def test_parallelism_is_bounded() -> None:
    for bad in (0, d.INDEX_PARALLELISM_MAX + 1):
        with pytest.raises(ValidationError, match="parallelism"):
            IndexBuild.model_validate({"parallelism": bad})


def _indexed_job(**status: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "docs-index-abc"},
        "spec": {"completionMode": "Indexed", "completions": 3},
        "status": status,
    }


def _pod(index: int, exit_code: int, message: dict[str, Any], finished: str) -> dict[str, Any]:
    terminated = {"exitCode": exit_code, "message": json.dumps(message), "finishedAt": finished}
    return {
        "metadata": {"annotations": {COMPLETION_INDEX: str(index)}},
        "status": {"containerStatuses": [{"name": "index", "state": {"terminated": terminated}}]},
    }


SHARD = {"shard": 0, "shards": 3, "build": "ab", "documents": 4, "chunks": 9, "embedded": 9}
BUILT = {
    "version": "20261129t230000z-1a2b3c4d",
    "documents": 12,
    "chunks": 30,
    "skippedDocuments": 0,
    "embeddingModel": d.DEFAULT_MODEL,
    "dimensions": 384,
    "sizeBytes": 1000,
    "builtAt": "2026-11-29T23:00:00Z",
    "buildSeconds": 9.5,
    "reusedEmbeddings": 0,
    "shards": 3,
}


def test_a_running_parallel_build_reports_its_shard_progress() -> None:
    build = build_of(_indexed_job(active=1, succeeded=2, completedIndexes="0,2"), [])
    assert build.state == "running" and "2 of 3 shards done" in build.message


def test_a_completed_parallel_build_reports_the_merging_shards_result() -> None:
    pods = [
        _pod(1, 0, {**SHARD, "shard": 1}, "t1"),
        _pod(2, 0, BUILT, "t2"),  # merged: the last to stage
        _pod(0, 0, SHARD, "t3"),  # finished after the merge began
    ]
    complete = _indexed_job(
        succeeded=3, completedIndexes="0-2", conditions=[{"type": "Complete", "status": "True"}]
    )
    build = build_of(complete, pods)
    assert build.state == "succeeded" and build.result is not None
    assert (build.result["version"], build.result["documents"]) == (BUILT["version"], 12)


def test_a_failed_shard_is_named_by_its_index() -> None:
    error = {"error": "parser crashed", "reason": "BuildFailed"}
    failing = build_of(_indexed_job(active=2, failed=1), [_pod(1, 1, error, "t1")])
    assert failing.state == "failing" and "shard 1 attempt 1 failed: parser crashed" in failing.message
    conditions = [{"type": "Failed", "status": "True", "reason": "FailedIndexes"}]
    failed = build_of(
        _indexed_job(failed=3, failedIndexes="1", conditions=conditions), [_pod(1, 1, error, "t3")]
    )
    assert failed.state == "failed" and "shard 1 failed: parser crashed" in failed.message
    assert failed.reason == "FailedIndexes"


def test_completed_indexes_are_counted() -> None:
    assert [count_indexes(t) for t in ("", None, "0", "0-2", "0-2,4,6-7")] == [0, 0, 1, 3, 6]


def test_shards_that_all_finish_without_a_merge_say_so() -> None:
    complete = _indexed_job(succeeded=3, conditions=[{"type": "Complete", "status": "True"}])
    build = build_of(complete, [_pod(k, 0, {**SHARD, "shard": k}, f"t{k}") for k in range(3)])
    assert (build.state, build.reason) == ("failed", "NoResult")
    assert "every shard finished but none merged" in build.message


STAGING = {
    "bucket": "oozo-stage",
    "prefix": "builds/",
    "endpoint": "http://minio.storage:9000",
    "region": "eu-1",
    "credentialsSecret": "stage-creds",
}


def test_s3_staging_reaches_every_shard_under_the_corpus_own_prefix_with_keys_by_reference() -> None:
    """Shards on any node stage in the bucket, under PREFIX/NAMESPACE/NAME (corpora sharing a
    prefix never clean up each other's builds); the keys come by secretKeyRef into the staging's
    own variables, never AWS_* (an s3:// model's credentials may hold those in the container)."""
    corpus = corpus_of(at("spec.index.build", {"parallelism": 3, "staging": {"s3": STAGING}}))
    spec = job.render(corpus)["spec"]
    env = env_of(spec)
    assert env["OOZO_STAGING_DIR"] == "s3://oozo-stage/builds/ns/docs"
    assert (env["OOZO_STAGING_S3_ENDPOINT"], env["OOZO_STAGING_S3_REGION"]) == (STAGING["endpoint"], "eu-1")
    (container,) = [c for c in spec["template"]["spec"]["containers"] if c["name"] == job.CONTAINER]
    refs = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container["env"] if "valueFrom" in e}
    assert refs["OOZO_STAGING_S3_ACCESS_KEY_ID"] == {"name": "stage-creds", "key": "AWS_ACCESS_KEY_ID"}
    assert refs["OOZO_STAGING_S3_SECRET_ACCESS_KEY"] == {
        "name": "stage-creds",
        "key": "AWS_SECRET_ACCESS_KEY",
    }
    assert refs["OOZO_STAGING_S3_SESSION_TOKEN"] == {
        "name": "stage-creds",
        "key": "AWS_SESSION_TOKEN",
        "optional": True,
    }
    assert not any(name.startswith("AWS_") for name in env), env


def test_s3_staging_without_a_prefix_or_keys_uses_the_pods_identity() -> None:
    corpus = corpus_of(
        at("spec.index.build", {"parallelism": 2, "staging": {"s3": {"bucket": "oozo-stage"}}})
    )
    env = env_of(job.render(corpus)["spec"])
    assert env["OOZO_STAGING_DIR"] == "s3://oozo-stage/ns/docs"
    assert not any(name.startswith("OOZO_STAGING_S3_") for name in env), env


def test_staging_is_not_an_index_input() -> None:
    """Moving the staging somewhere else builds nothing new: the Job's name (the index hash) stays."""
    plain = corpus_of(at("spec.index.build", {"parallelism": 2}))
    staged = corpus_of(at("spec.index.build", {"parallelism": 2, "staging": {"s3": STAGING}}))
    assert plain.index_hash == staged.index_hash

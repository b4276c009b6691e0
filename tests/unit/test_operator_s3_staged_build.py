"""A parallel build staged in S3 (docs/operator.md, "Parallel builds"): its shard pods mount no
corpus volume and stage only to the bucket; once every shard is staged the operator creates a
merge Job that mounts the volume and publishes. Rendering, reading and deciding are pure, so
each promise is a table row here; tests/e2e/test_parallel_build_s3_staging.py runs it for real."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from oozo_operator import merging
from oozo_operator.observe import Build, build_of
from oozo_operator.plan import Create, plan
from oozo_operator.render import deployment, job, merge_job
from oozo_operator.render import labels as L
from oozo_operator.render.corpus import INDEX_DIR, Corpus
from tests.operator_builders import Modifier, at, with_source
from tests.unit.plan_builders import (
    SOURCE_REVISION,
    failed,
    failing,
    observed,
    published,
    running,
    stored,
    succeeded,
    writes,
)
from tests.unit.plan_builders import corpus as plan_corpus

pytestmark = pytest.mark.unit

STAGING = {"bucket": "oozo-stage", "prefix": "builds/", "endpoint": "http://minio.storage:9000"}
STAGED = at("spec.index.build", {"parallelism": 3, "staging": {"s3": STAGING}})


def corpus(*mods: Modifier) -> Corpus:
    return dataclasses.replace(plan_corpus(*mods), source_revision=SOURCE_REVISION)


def pod_spec(obj: dict[str, Any]) -> dict[str, Any]:
    return obj["spec"]["template"]["spec"]


def index_container(obj: dict[str, Any]) -> dict[str, Any]:
    (container,) = [c for c in pod_spec(obj)["containers"] if c["name"] == job.CONTAINER]
    return container


def env_of(obj: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e.get("value", "") for e in index_container(obj)["env"]}


def claims(obj: dict[str, Any]) -> list[str]:
    return [
        v["persistentVolumeClaim"]["claimName"]
        for v in pod_spec(obj)["volumes"]
        if "persistentVolumeClaim" in v
    ]


@pytest.mark.parametrize("source", [(), (with_source(git={"url": "https://git.example.com/docs.git"}),)])
def test_s3_staged_shard_pods_mount_no_corpus_volume_and_do_not_merge(source: tuple[Modifier, ...]) -> None:
    """The folder the volume was mounted at (source, model and embedding caches; a fetched
    source's files) is the pod's own emptyDir; no shard publishes; nothing ties the shards to
    the volume's node (a ReadWriteOnce volume is the default), nor draws the corpus's other pods
    to theirs, and they keep the managed-by label the operator watches."""
    c = corpus(STAGED, *source)
    rendered = job.render(c)
    assert c.pvc_name not in claims(rendered), pod_spec(rendered)["volumes"]
    volumes = {v["name"]: v for v in pod_spec(rendered)["volumes"]}
    assert volumes["index"] == {"name": "index", "emptyDir": {}}
    assert {"name": "index", "mountPath": INDEX_DIR, "readOnly": False} in index_container(rendered)[
        "volumeMounts"
    ]
    env = env_of(rendered)
    assert env["OOZO_SHARDS"] == "3" and "OOZO_MERGE" not in env
    assert env["OOZO_STAGING_DIR"] == "s3://oozo-stage/builds/ns/docs"
    assert env["OOZO_STAGING_EMBEDDING_CACHE"] == "true"  # no volume: the cache is in the bucket
    assert "affinity" not in pod_spec(rendered)
    shard_labels = rendered["spec"]["template"]["metadata"]["labels"]
    assert shard_labels[L.MANAGED_BY] == L.MANAGER  # watched: a shard that cannot start is reported
    assert rendered["metadata"]["labels"][L.STAGING] == "s3"
    # The server's co-location term selects the corpus's pods but not a shard's.
    (term,) = deployment.render(c, "v1")["spec"]["template"]["spec"]["affinity"]["podAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"
    ]
    assert not selects(term["labelSelector"], shard_labels), (term, shard_labels)
    assert selects(term["labelSelector"], {k: v for k, v in shard_labels.items() if k != L.STAGING})


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """A label selector's meaning (matchLabels, and the In/NotIn/Exists/DoesNotExist expressions)."""
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for e in selector.get("matchExpressions", []):
        key, op, values = e["key"], e["operator"], e.get("values", [])
        held = {
            "In": key in labels and labels[key] in values,
            "NotIn": key not in labels or labels[key] not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }[op]
        if not held:
            return False
    return True


def test_a_parallel_build_staged_on_the_volume_still_mounts_it_and_merges_in_a_shard() -> None:
    c = corpus(at("spec.index.build", {"parallelism": 3}))
    rendered = job.render(c)
    assert c.pvc_name in claims(rendered)
    assert env_of(rendered)["OOZO_MERGE"] == "true"
    assert "OOZO_STAGING_EMBEDDING_CACHE" not in env_of(rendered)  # the volume's cache serves
    assert L.STAGING not in rendered["metadata"]["labels"]


def test_a_user_affinity_stays_on_volume_free_shards() -> None:
    zone: dict[str, Any] = {
        "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": []}}
    }
    rendered = job.render(corpus(STAGED, at("spec.scheduling", {"affinity": zone})))
    assert pod_spec(rendered)["affinity"] == zone


def test_the_merge_job_mounts_the_volume_is_named_from_the_build_hash_and_owned_by_the_corpus() -> None:
    c = corpus(STAGED)
    rendered = merge_job.render(c, "v-serving")
    meta = rendered["metadata"]
    assert meta["name"] == f"docs-merge-{c.index_hash}" and len(meta["name"]) == len(c.job_name)
    assert meta["labels"][L.COMPONENT] == L.MERGE and meta["labels"][L.INDEX_HASH] == c.index_hash
    (owner,) = meta["ownerReferences"]
    assert (owner["kind"], owner["name"], owner["controller"]) == ("RagCorpus", "docs", True)
    spec = rendered["spec"]
    assert "completionMode" not in spec  # one pod
    assert spec["ttlSecondsAfterFinished"] == job.render(c)["spec"]["ttlSecondsAfterFinished"]
    assert c.pvc_name in claims(rendered)
    env = env_of(rendered)
    assert (env["OOZO_MERGE"], env["OOZO_SHARDS"]) == ("true", "3") and "OOZO_SHARD" not in env
    assert env["OOZO_STAGING_DIR"] == "s3://oozo-stage/builds/ns/docs"
    assert env["OOZO_STAGING_EMBEDDING_CACHE"] == "true"  # its cleanup keeps the current packs
    assert json.loads(env["OOZO_PINNED_VERSIONS"]) == ["v-serving"]  # its publish keeps the served version
    assert index_container(rendered)["args"][:1] == ["index"]  # names the build from the same source


def _indexed(labels: dict[str, str], **status: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "docs-index-abc", "labels": labels},
        "spec": {"completionMode": "Indexed", "completions": 3},
        "status": status,
    }


def _shard_pod(index: int, exit_code: int, message: dict[str, Any]) -> dict[str, Any]:
    terminated = {"exitCode": exit_code, "message": json.dumps(message), "finishedAt": f"t{index}"}
    return {
        "metadata": {"annotations": {"batch.kubernetes.io/job-completion-index": str(index)}},
        "status": {"containerStatuses": [{"name": "index", "state": {"terminated": terminated}}]},
    }


SHARD = {"shards": 3, "build": "ab", "documents": 4, "chunks": 9, "embedded": 9}
COMPLETE = [{"type": "Complete", "status": "True"}]


def test_every_shard_staged_in_s3_reads_as_staged_not_as_a_build_without_a_result() -> None:
    pods = [_shard_pod(k, 0, {**SHARD, "shard": k}) for k in range(3)]
    staged = build_of(
        _indexed({L.STAGING: "s3"}, succeeded=3, completedIndexes="0-2", conditions=COMPLETE), pods
    )
    assert (staged.state, staged.reason, staged.result) == ("succeeded", "Staged", None)
    assert "3 of 3 shards done" in staged.message
    # The same Job staged on the volume: a shard should have merged.
    unmerged = build_of(_indexed({}, succeeded=3, conditions=COMPLETE), pods)
    assert (unmerged.state, unmerged.reason) == ("failed", "NoResult")


SHARDS_JOB, MERGE_JOB = "docs-index-abc", "docs-merge-abc"
STAGED_BUILD = Build("succeeded", SHARDS_JOB, None, "Staged", f"Job {SHARDS_JOB}: 3 of 3 shards done")
SHARD_FAILED = Build("failed", SHARDS_JOB, None, "FailedIndexes", f"Job {SHARDS_JOB} shard 1 failed: boom")
MERGED = succeeded(MERGE_JOB, "v2")


@pytest.mark.parametrize(
    ("shards", "merge", "state", "job_name", "reason", "merge_due"),
    [
        (running(SHARDS_JOB), None, "running", SHARDS_JOB, "Indexing", False),
        (failing(SHARDS_JOB), None, "failing", SHARDS_JOB, "Retrying", False),
        (SHARD_FAILED, None, "failed", SHARDS_JOB, "FailedIndexes", False),
        (STAGED_BUILD, None, "running", MERGE_JOB, "Merging", True),
        (STAGED_BUILD, running(MERGE_JOB), "running", MERGE_JOB, "Merging", False),
        (STAGED_BUILD, failed(MERGE_JOB), "failed", MERGE_JOB, "BackoffLimitExceeded", False),
        (STAGED_BUILD, MERGED, "succeeded", MERGE_JOB, "", False),
    ],
    ids=[
        "shards-running",
        "shard-retrying",
        "shard-failed",
        "all-staged",
        "merging",
        "merge-failed",
        "merged",
    ],
)
def test_the_merge_is_due_when_and_only_when_every_shard_is_staged_and_no_merge_job_exists(
    shards: Build, merge: Build | None, state: str, job_name: str, reason: str, merge_due: bool
) -> None:
    build = merging.after_shards(shards, merge, MERGE_JOB)
    assert (build.state, build.job, build.reason, build.merge_due) == (state, job_name, reason, merge_due)
    if shards is SHARD_FAILED:
        assert "shard 1 failed" in build.message
    if merge is MERGED:
        assert build.result == MERGED.result


C = corpus(STAGED)
OLD = published("v1", "0ld0ld0ld0")


@pytest.mark.parametrize(
    ("newest", "creates_merge"),
    [
        (merging.after_shards(STAGED_BUILD, None, merge_job.name(C)), True),
        (merging.after_shards(running(C.job_name), None, merge_job.name(C)), False),
        (merging.after_shards(SHARD_FAILED, None, merge_job.name(C)), False),
        (merging.after_shards(STAGED_BUILD, running(merge_job.name(C)), merge_job.name(C)), False),
    ],
    ids=["all-staged", "shards-running", "shard-failed", "merge-running"],
)
def test_the_plan_creates_the_merge_job_only_when_due_and_keeps_the_old_version_serving(
    newest: Build, creates_merge: bool
) -> None:
    p = plan(
        observed(generation=1, status=stored(index=OLD), builds=(newest,)), C, full=False, new_api_key="k"
    )
    created = [w.obj["metadata"]["name"] for w in p.writes if isinstance(w, Create)]
    assert created == ([merge_job.name(C)] if creates_merge else []), writes(p)
    assert p.published is not None and p.published["version"] == "v1"  # nothing adopted yet


def test_the_merge_result_is_what_status_index_reports() -> None:
    merged = merging.after_shards(STAGED_BUILD, succeeded(merge_job.name(C), "v2"), merge_job.name(C))
    p = plan(
        observed(generation=1, status=stored(index=OLD), builds=(merged,)), C, full=False, new_api_key="k"
    )
    assert p.published is not None
    assert (p.published["version"], p.published["job"], p.published["specHash"]) == (
        "v2",
        merge_job.name(C),
        C.index_hash,
    )
    assert not [w for w in p.writes if isinstance(w, Create)]

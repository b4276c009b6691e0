"""A parallel build that stages in S3 (docs/operator.md, "Parallel builds"): a RagCorpus with
spec.index.build {parallelism: 2, staging.s3} against a real MinIO. The two shard pods the local
kubelet runs mount no corpus volume (an emptyDir holds their caches) and upload their results
under PREFIX/NAMESPACE/NAME/ with the staging's own keys (a Secret by reference); once both are
staged the operator creates the merge Job, which mounts the volume, merges from the bucket and
publishes. The corpus goes Ready and answers from the merge Job's version; the merge removes its
build's objects and nothing else under the prefix but the shards' embedding packs; the keys appear
in no status or event."""

from __future__ import annotations

import json
import uuid

from devcluster.s3server import S3Server
from devcluster.stack import Stack, kubectl
from oozo_operator.shards import count_indexes
from tests.e2e import documents
from tests.e2e.conftest import DeployedCorpus, apply, ragcorpus, s3_credentials
from tests.e2e.test_quickstart_loop import CODE_WORD_QUESTION

BUCKET, PREFIX = "oozo-staging", "builds/"
FOREIGN = "builds/another-team/notes.txt"  # not Oozo's: must survive every cleanup


def keys_under(s3: S3Server, prefix: str) -> list[str]:
    listed = s3.client().list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return sorted(o["Key"] for o in listed.get("Contents", []))


def pods_of(corpus: DeployedCorpus, job: str) -> list[dict]:
    out = corpus.kubectl("get", "pods", "-l", f"batch.kubernetes.io/job-name={job}", "-o", "json").stdout
    return list(json.loads(out)["items"])


def test_volume_free_shards_staged_in_s3_are_merged_by_a_merge_job_and_leave_only_foreign_objects(
    stack: Stack, s3: S3Server
) -> None:
    namespace = f"e2e-s3stage-{uuid.uuid4().hex[:6]}"
    kubectl(stack.kubeconfig, "create", "namespace", namespace)
    s3.make_bucket(BUCKET)
    s3.client().put_object(Bucket=BUCKET, Key=FOREIGN, Body=b"ours, not Oozo's")
    secret = s3_credentials(s3, "staging-credentials", namespace)
    staging = {
        "s3": {
            "bucket": BUCKET,
            "prefix": PREFIX,
            "endpoint": s3.endpoint,
            "region": s3.region,
            "credentialsSecret": "staging-credentials",
        }
    }
    corpus = DeployedCorpus("handbook", namespace, stack)
    try:
        apply(
            stack.kubeconfig,
            secret,
            documents.configmap("handbook-docs", namespace, documents.handbook_docs()),
            ragcorpus(
                "handbook",
                namespace,
                "handbook-docs",
                index={"storage": {"size": "1Gi"}, "build": {"parallelism": 2, "staging": staging}},
            ),
        )
        corpus.wait_ready()
        index = corpus.get()["status"]["index"]
        assert index["documents"] == 3, index
        jobs = json.loads(corpus.kubectl("get", "jobs", "-o", "json").stdout)["items"]
        (build,) = [j for j in jobs if j["spec"].get("completionMode") == "Indexed"]
        assert count_indexes(build["status"].get("completedIndexes")) == 2, build["status"]
        env = {e["name"]: e.get("value") for e in build["spec"]["template"]["spec"]["containers"][0]["env"]}
        assert env["OOZO_STAGING_DIR"] == f"s3://{BUCKET}/{PREFIX}{namespace}/handbook", env
        assert "OOZO_MERGE" not in env, env

        # The shards ran without the corpus volume; the merge Job mounted it and published.
        shard_pods = pods_of(corpus, build["metadata"]["name"])
        assert len(shard_pods) >= 2, shard_pods
        for pod in shard_pods:
            claims = [
                v["persistentVolumeClaim"]["claimName"]
                for v in pod["spec"]["volumes"]
                if "persistentVolumeClaim" in v
            ]
            assert "handbook-index" not in claims, pod["spec"]["volumes"]
        merge_name = build["metadata"]["name"].replace("-index-", "-merge-")
        assert index["job"] == merge_name, index
        (merge_pod, *_) = pods_of(corpus, merge_name)
        assert any(
            v.get("persistentVolumeClaim", {}).get("claimName") == "handbook-index"
            for v in merge_pod["spec"]["volumes"]
        ), merge_pod["spec"]["volumes"]

        reply = corpus.query(CODE_WORD_QUESTION)
        assert "PERIWINKLE" in reply["answer"], reply

        # The merge removed its build's staging; what stays is the embedding pack of each shard
        # that had chunks (the next build's cache) and the other team's object. The three
        # handbook documents all hash to shard 0 of 2: shard 1 staged an empty shard, no pack.
        packs = keys_under(s3, f"{PREFIX}{namespace}/")
        assert [p.rsplit("/", 1)[1] for p in packs] == ["shard-0-of-2.npz"], packs
        assert all(p.startswith(f"{PREFIX}{namespace}/handbook/embeddings/") for p in packs), packs
        assert keys_under(s3, PREFIX) == sorted([FOREIGN, *packs])
        told = json.dumps(corpus.get()) + corpus.kubectl("get", "events", "-o", "json").stdout
        assert s3.secret_key not in told
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{corpus.diagnose()}") from None
    finally:
        kubectl(stack.kubeconfig, "delete", "namespace", namespace, "--wait=false", check=False)

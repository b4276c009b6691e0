"""`logs`: the latest build's pod logs (--build) or the server pods' logs (--serve), found by the
labels the operator puts on them, read through the API server like `kubectl logs`.

A build is the newest index Job: one pod, or one per shard of a parallel build (an Indexed Job),
and for a parallel build staged in S3 also the merge Job that carries the same index hash. A
retried pod leaves its failed predecessors; the newest pod of each shard is the one to read."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kubernetes.client.rest import ApiException

from oozo_kubectl import names as N
from oozo_kubectl.kube import Cluster, PluginError, describe_api_error
from oozo_kubectl.summary import newest

JOB_NAME_LABEL = "batch.kubernetes.io/job-name"
COMPLETION_INDEX = "batch.kubernetes.io/job-completion-index"


@dataclass(frozen=True)
class LogSource:
    pod: str
    container: str


def build_jobs(index_jobs: list[dict[str, Any]], merge_jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The newest index Job, then the newest merge Job of the same build (same index hash)."""
    job = newest(index_jobs)
    if job is None:
        return []
    build_hash = labels_of(job).get(N.INDEX_HASH)
    merge = newest([m for m in merge_jobs if build_hash and labels_of(m).get(N.INDEX_HASH) == build_hash])
    return [job] if merge is None else [job, merge]


def build_pods(jobs: list[dict[str, Any]], pods: list[dict[str, Any]]) -> list[LogSource]:
    """Each Job's newest pod per shard (completion index; a plain Job's pods are all shard 0), in
    the Jobs' order, then by shard. Pure: the lists as the API server gave them, in any order."""
    sources: list[LogSource] = []
    for job in jobs:
        shards: dict[int, list[dict[str, Any]]] = {}
        for pod in pods:
            if labels_of(pod).get(JOB_NAME_LABEL) == job["metadata"]["name"]:
                shard = (pod["metadata"].get("annotations") or {}).get(COMPLETION_INDEX, "0")
                shards.setdefault(int(shard) if shard.isdigit() else 0, []).append(pod)
        for shard in sorted(shards):
            chosen = newest(shards[shard])
            assert chosen is not None  # a shard is listed because a pod of it was found
            sources.append(LogSource(chosen["metadata"]["name"], N.INDEX_CONTAINER))
    return sources


def labels_of(obj: dict[str, Any]) -> dict[str, str]:
    return obj["metadata"].get("labels") or {}


def build_sources(cluster: Cluster, name: str) -> list[LogSource]:
    list_jobs = cluster.batch.list_namespaced_job
    index_jobs = cluster.items(list_jobs, "jobs", label_selector=N.selector(name, N.INDEX))
    merge_jobs = cluster.items(list_jobs, "jobs", label_selector=N.selector(name, N.MERGE))
    jobs = build_jobs(index_jobs, merge_jobs)
    if not jobs:
        raise PluginError(f"ragcorpus {cluster.namespace}/{name} has no index Job")
    job_names = ",".join(job["metadata"]["name"] for job in jobs)
    pods = cluster.items(
        cluster.core.list_namespaced_pod, "pods", label_selector=f"{JOB_NAME_LABEL} in ({job_names})"
    )
    sources = build_pods(jobs, pods)
    if not sources:
        raise PluginError(f"index Job {jobs[0]['metadata']['name']} has no pod (yet, or any more)")
    return sources


def serve_sources(cluster: Cluster, name: str) -> list[LogSource]:
    pods = cluster.items(cluster.core.list_namespaced_pod, "pods", label_selector=N.selector(name, N.SERVER))
    if not pods:
        raise PluginError(f"ragcorpus {cluster.namespace}/{name} has no server pods")
    return [
        LogSource(p["metadata"]["name"], N.SERVER_CONTAINER)
        for p in sorted(pods, key=lambda p: p["metadata"]["name"])
    ]


def read_log(cluster: Cluster, source: LogSource, tail: int | None) -> str:
    try:
        text: Any = cluster.core.read_namespaced_pod_log(
            source.pod, cluster.namespace, container=source.container, tail_lines=tail
        )
    except ApiException as err:
        raise PluginError(
            describe_api_error(err, f"read the log of pod {source.pod}") + f": {err.body}"
        ) from None
    return str(text)


def follow(cluster: Cluster, sources: list[LogSource], tail: int | None, emit: Callable[[str], None]) -> None:
    """Stream every source at once, each line prefixed with its pod when there are several."""
    lock = threading.Lock()

    def stream(source: LogSource) -> None:
        prefix = f"[{source.pod}] " if len(sources) > 1 else ""
        try:
            resp: Any = cluster.core.read_namespaced_pod_log(
                source.pod, cluster.namespace, container=source.container, tail_lines=tail,
                follow=True, _preload_content=False,
            )  # fmt: skip
            pending = ""  # a chunk can end in the middle of a line
            for raw in resp.stream():
                *lines, pending = (pending + raw.decode(errors="replace")).split("\n")
                with lock:
                    for line in lines:
                        emit(prefix + line)
            if pending:
                with lock:
                    emit(prefix + pending)
        except ApiException as err:
            with lock:
                emit(prefix + describe_api_error(err, f"follow the log of pod {source.pod}"))

    threads = [threading.Thread(target=stream, args=(s,), daemon=True) for s in sources]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

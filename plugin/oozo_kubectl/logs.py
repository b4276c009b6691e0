"""`logs`: the latest index Job's pod log (--build) or the server pods' logs (--serve), found by
the labels the operator puts on them, read through the API server like `kubectl logs`."""

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


@dataclass(frozen=True)
class LogSource:
    pod: str
    container: str


def build_sources(cluster: Cluster, name: str) -> list[LogSource]:
    """The newest pod of the newest index Job (a retried build has several pods)."""
    jobs = cluster.items(cluster.batch.list_namespaced_job, "jobs", label_selector=N.selector(name, N.INDEX))
    job = newest(jobs)
    if job is None:
        raise PluginError(f"ragcorpus {cluster.namespace}/{name} has no index Job")
    job_name = job["metadata"]["name"]
    pods = cluster.items(
        cluster.core.list_namespaced_pod, "pods", label_selector=f"{JOB_NAME_LABEL}={job_name}"
    )
    pod = newest(pods)
    if pod is None:
        raise PluginError(f"index Job {job_name} has no pod (yet, or any more)")
    return [LogSource(pod["metadata"]["name"], N.INDEX_CONTAINER)]


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

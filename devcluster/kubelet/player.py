"""A kubelet on paper for node oozo-local-0: it writes the pod status a kubelet would, and runs
nothing. Tests and benchmarks of the operator use it where what matters is what the operator
does with a result (an index pod's termination message, a server pod turning Ready), not a real
index build or server; LocalKubelet (local.py) is the one that runs pods as processes.

By hand, one pod at a time:

    player = KubeletPlayer(core)
    player.finish_index(ns, "docs", index_result_message("v1"))   # the next index pod terminates
    player.ready_servers(ns, "docs")                              # server pods become Ready

or on its own, for every corpus of a namespace, from a pod watch:

    player = KubeletPlayer(core).autoplay(ns); ...; player.stop()
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from typing import Any

from kubernetes import client, watch

from devcluster.waiting import wait_for

INSTANCE = "app.kubernetes.io/instance"
COMPONENT = "app.kubernetes.io/component"
MANAGED_BY_OOZO = "app.kubernetes.io/managed-by=oozo"


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def index_result_message(version: str, documents: int = 3, chunks: int = 12) -> str:
    """The JSON the runtime's `oozo index` writes to its termination message."""
    return json.dumps(
        {
            "version": version,
            "documents": documents,
            "chunks": chunks,
            "skippedDocuments": 1,
            "skipped": [{"document": "broken.docx", "reason": "not a zip file"}],
            "embeddingModel": "sentence-transformers/all-MiniLM-L6-v2",
            "dimensions": 384,
            "sizeBytes": 123456,
            "builtAt": _now(),
            "buildSeconds": 4.2,
            "reusedEmbeddings": 0,
        }
    )


def _untouched(pod: client.V1Pod) -> bool:
    """Scheduled, not yet given a container status by anyone, not being deleted."""
    return (
        bool(pod.spec.node_name) and not pod.status.container_statuses and not pod.metadata.deletion_timestamp
    )


def _name(pod: client.V1Pod) -> str:
    assert pod.metadata and pod.metadata.name  # every pod read from the API server has one
    return pod.metadata.name


class KubeletPlayer:
    """Plays the kubelet of oozo-local-0 by writing pod status, as the real one would."""

    def __init__(self, core: client.CoreV1Api) -> None:
        self.core = core
        self.actions = 0  # pods autoplay has finished or made Ready
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._done: set[str] = set()

    def pods(self, namespace: str, selector: str) -> list[client.V1Pod]:
        return self.core.list_namespaced_pod(namespace, label_selector=selector).items

    def terminate(self, namespace: str, pod: str, exit_code: int, message: str) -> None:
        """The pod's one container exits with `exit_code` and leaves `message` as its
        termination message; the pod is Succeeded or Failed."""
        p = self.core.read_namespaced_pod(pod, namespace)
        c = p.spec.containers[0]
        state = {
            "terminated": {
                "exitCode": exit_code,
                "reason": "Completed" if exit_code == 0 else "Error",
                "message": message,
                "startedAt": _now(),
                "finishedAt": _now(),
            }
        }
        self.core.patch_namespaced_pod_status(
            pod,
            namespace,
            {
                "status": {
                    "phase": "Succeeded" if exit_code == 0 else "Failed",
                    "startTime": _now(),
                    "conditions": [{"type": "Ready", "status": "False", "lastTransitionTime": _now()}],
                    "containerStatuses": [
                        {
                            "name": c.name,
                            "image": c.image,
                            "imageID": "",
                            "ready": False,
                            "restartCount": 0,
                            "state": state,
                        }
                    ],
                }
            },
        )

    def cannot_start(self, namespace: str, pod: str, reason: str, message: str) -> None:
        """The pod stays Pending, its one container waiting with `reason` (e.g.
        CreateContainerConfigError for a missing Secret or key) and `message`."""
        p = self.core.read_namespaced_pod(pod, namespace)
        c = p.spec.containers[0]
        status = {"name": c.name, "image": c.image, "imageID": "", "ready": False, "restartCount": 0}
        waiting = {"waiting": {"reason": reason, "message": message}}
        self.core.patch_namespaced_pod_status(
            pod,
            namespace,
            {"status": {"phase": "Pending", "containerStatuses": [{**status, "state": waiting}]}},
        )

    def run_ready(self, namespace: str, pod: str) -> None:
        """The pod runs and is Ready."""
        p = self.core.read_namespaced_pod(pod, namespace)
        c = p.spec.containers[0]
        conds = [
            {"type": t, "status": "True", "lastTransitionTime": _now()}
            for t in ("PodScheduled", "Initialized", "ContainersReady", "Ready")
        ]
        self.core.patch_namespaced_pod_status(
            pod,
            namespace,
            {
                "status": {
                    "phase": "Running",
                    "startTime": _now(),
                    "conditions": conds,
                    "podIP": "10.0.0.10",
                    "containerStatuses": [
                        {
                            "name": c.name,
                            "image": c.image,
                            "imageID": "",
                            "ready": True,
                            "started": True,
                            "restartCount": 0,
                            "state": {"running": {"startedAt": _now()}},
                        }
                    ],
                }
            },
        )

    # -- by hand ------------------------------------------------------------------------------

    def pending_index_pods(self, namespace: str, corpus: str) -> list[str]:
        sel = f"{INSTANCE}={corpus},{COMPONENT}=index"
        return [_name(p) for p in self.pods(namespace, sel) if _untouched(p)]

    def finish_index(
        self, namespace: str, corpus: str, message: str, exit_code: int = 0, timeout: float = 60
    ) -> str:
        """Wait for the corpus's next index pod to be scheduled, then terminate it."""
        pod = wait_for(
            f"an index pod of {corpus}", lambda: self.pending_index_pods(namespace, corpus), timeout
        )[0]
        self.terminate(namespace, pod, exit_code, message)
        return pod

    def ready_servers(self, namespace: str, corpus: str) -> int:
        """Mark every scheduled, not yet running server pod Running and Ready; returns how many."""
        sel = f"{INSTANCE}={corpus},{COMPONENT}=server"
        todo = [
            p
            for p in self.pods(namespace, sel)
            if p.spec.node_name and p.status.phase == "Pending" and not p.metadata.deletion_timestamp
        ]
        for p in todo:
            self.run_ready(namespace, _name(p))
        return len(todo)

    # -- on its own ---------------------------------------------------------------------------

    def autoplay(self, namespace: str) -> KubeletPlayer:
        """From now on, in a background thread: every index pod of an Oozo corpus in `namespace`
        terminates with a result (version v-CORPUS) and every server pod becomes Ready, as soon
        as the scheduler binds it."""
        self._thread = threading.Thread(
            target=self._watch, args=(namespace,), name=f"kubelet-player-{namespace}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(10)

    def _watch(self, namespace: str) -> None:
        while not self._stop.is_set():
            try:
                stream = watch.Watch().stream(
                    self.core.list_namespaced_pod,
                    namespace=namespace,
                    label_selector=MANAGED_BY_OOZO,
                    timeout_seconds=5,  # how long stop() may wait for a quiet stream
                )
                for event in stream:
                    self._play(namespace, event["object"])
                    if self._stop.is_set():
                        return
            except Exception:  # a broken stream is re-opened; its first list replays every pod
                self._stop.wait(0.2)

    def _play(self, namespace: str, pod: Any) -> None:  # a V1Pod
        meta = pod.metadata
        if not _untouched(pod) or meta.uid in self._done:
            return
        self._done.add(meta.uid)
        component = (meta.labels or {}).get(COMPONENT)
        try:
            if component == "index":
                self.terminate(namespace, meta.name, 0, index_result_message(f"v-{meta.labels[INSTANCE]}"))
            elif component == "server":
                self.run_ready(namespace, meta.name)
            self.actions += 1
        except client.ApiException:
            self._done.discard(meta.uid)  # gone or conflicting: the next event retries

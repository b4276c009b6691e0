"""The pod object as the local kubelet holds it in the API: a finalizer while its processes run,
so a deletion waits for a graceful stop, and the release that lets it go."""

from __future__ import annotations

from devcluster.kube_rest import Kube

FINALIZER = "oozo.dev/local-kubelet"


def pod_path(pod: dict, sub: str = "") -> str:
    m = pod["metadata"]
    return f"/api/v1/namespaces/{m['namespace']}/pods/{m['name']}{sub}"


def hold(kube: Kube, pod: dict) -> None:
    """Put our finalizer on the pod."""
    kube.patch(pod_path(pod), {"metadata": {"finalizers": [FINALIZER]}})


def release(kube: Kube, pod: dict, uid: str, delete: bool) -> None:
    """Drop our finalizer (only if the list is still what we read: a json-patch `test`), and with
    `delete` remove the pod for good (grace 0, only this uid). ApiError 409/422 means the
    finalizers changed under us."""
    current = kube.get(pod_path(pod))
    if current is None or current["metadata"]["uid"] != uid:
        return
    finalizers = current["metadata"].get("finalizers") or []
    if FINALIZER in finalizers:
        kube.patch(
            pod_path(pod),
            [
                {"op": "test", "path": "/metadata/finalizers", "value": finalizers},
                {
                    "op": "replace",
                    "path": "/metadata/finalizers",
                    "value": [f for f in finalizers if f != FINALIZER],
                },
            ],
            kind="json",
        )
    if delete:
        kube.delete(
            pod_path(pod),
            {
                "kind": "DeleteOptions",
                "apiVersion": "v1",
                "gracePeriodSeconds": 0,
                "preconditions": {"uid": uid},
            },
        )

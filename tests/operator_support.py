"""What the operator's control-plane tests share beyond the dev cluster itself: the operator with
the tests' shortcuts, and waiting for a corpus's condition.

The dev cluster (devcluster/) brings the rest: the CRD and pre-bound volumes
(devcluster.ragcorpus), the operator process (devcluster.operator_process), a kubelet on paper
for oozo-local-0 (devcluster.kubelet.player), wait_for (devcluster.waiting)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kubernetes import client

from devcluster.operator_process import OperatorProcess
from devcluster.ragcorpus import GROUP, PLURAL, VERSION, condition
from devcluster.waiting import wait_for

REPO = Path(__file__).resolve().parents[1]
# One retry before Stalled and a recheck every 2 s keep the tests short; JSON logs are parsed.
TEST_SETTINGS = {"OOZO_LOG_FORMAT": "json", "OOZO_JOB_BACKOFF_LIMIT": "1", "OOZO_RECHECK_SECONDS": "2"}


class Operator(OperatorProcess):
    """`oozo-operator` as a subprocess against the test control plane, with TEST_SETTINGS under
    the test's own."""

    def __init__(self, env: dict[str, str], log_dir: Path, **settings: str) -> None:
        super().__init__(env, log_dir, **{**TEST_SETTINGS, **settings})


def corpus(custom: client.CustomObjectsApi, namespace: str, name: str) -> dict[str, Any]:
    body = custom.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
    assert isinstance(body, dict)  # the client types a custom object as `object`; it is JSON
    return body


def server_deployment(api: client.ApiClient, namespace: str, name: str) -> dict[str, Any]:
    """The server Deployment, as JSON."""
    deployment = api.sanitize_for_serialization(
        client.AppsV1Api(api).read_namespaced_deployment(name, namespace)
    )
    assert isinstance(deployment, dict)
    return deployment


def everything_told(
    api: client.ApiClient, custom: client.CustomObjectsApi, namespace: str, name: str, *more: Any
) -> str:
    """What a user of the namespace can read about the corpus (its object and status, the
    namespace's events) and `more`, as one text: a Secret's value must appear nowhere in it."""
    core = client.CoreV1Api(api)
    events = api.sanitize_for_serialization(core.list_namespaced_event(namespace).items)
    return json.dumps([corpus(custom, namespace, name), events, *more])


def until_condition(
    custom: client.CustomObjectsApi,
    namespace: str,
    name: str,
    kind: str,
    timeout: float,
    *,
    status: str | None = None,
    reason: str | None = None,
) -> dict[str, Any]:
    """Wait until the corpus's `kind` condition has `status` (and `reason`, when given); returns
    the corpus as it was read when it did."""

    def probe() -> dict[str, Any] | None:
        obj = corpus(custom, namespace, name)
        found = condition(obj, kind)
        if status is not None and found.get("status") != status:
            return None
        if reason is not None and found.get("reason") != reason:
            return None
        return obj

    what = " ".join(part for part in (kind, status, reason, "on", name) if part)
    return wait_for(what, probe, timeout)

"""`oozo-operator`: settings, metrics, the missing-reference sweep, then kopf.

kopf runs standalone (no peering objects: one replica, Deployment strategy Recreate), against
the in-cluster config or the current kubeconfig, cluster-wide or in the given namespaces.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import kopf

from oozo_operator import handlers, metrics, observe
from oozo_operator.api.crd import GROUP, PLURAL, VERSION
from oozo_operator.kube import Kube, shared
from oozo_operator.reconcile import source_revision_changed

log = logging.getLogger("oozo.main")
# Stalled reasons that fix themselves when someone creates the missing object. Secrets cannot
# be watched (no list/watch RBAC on Secrets), and watching every ConfigMap of the cluster to see
# a source change would stream all their data through the operator: both are looked at again,
# metadata-only, on a timer of our own (a kopf timer would force a finalizer onto every corpus).
# PolicyViolation is among them: a referenced Secret may get its opt-in label later.
RECHECK = {
    "SecretNotFound",
    "ConfigMapNotFound",
    "PersistentVolumeClaimNotFound",
    "PodCannotStart",
    "PolicyViolation",
    "ResourceNotServed",  # an HTTPRoute before the Gateway API CRDs are installed
}


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    # Watches are re-established every minute or so: a silently dead connection (a load
    # balancer dropping idle streams) cannot stall the operator for long.
    settings.watching.server_timeout = 60
    settings.watching.client_timeout = 90
    settings.watching.connect_timeout = 10
    settings.networking.request_timeout = 30
    # Progress and the last-handled spec live in annotations under our own prefix; kopf's
    # default status.kopf would be pruned by the structural schema.
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix=GROUP)
    settings.persistence.finalizer = f"{GROUP}/finalizer"  # only ever used if a handler needs one
    settings.posting.level = logging.WARNING  # our own Events describe condition flips
    settings.execution.max_workers = handlers.SETTINGS.workers
    # The handlers' `labels=` filter is applied by kopf to events it already received; only
    # these selectors go into the list and watch requests (labelSelector=…), so the API server
    # streams Oozo's own Jobs, Deployments and Pods, not every one of the cluster.
    for resource in handlers.CHILD_RESOURCES:
        settings.watching.label_selectors[resource] = handlers.CHILD_SELECTOR


def _sweep(namespaces: list[str], every: float, stop: threading.Event) -> None:
    while not stop.wait(every):
        try:
            kube = shared()
            urls = [f"/apis/{GROUP}/{VERSION}/namespaces/{ns}/{PLURAL}" for ns in namespaces] or [
                f"/apis/{GROUP}/{VERSION}/{PLURAL}"
            ]
            corpora = [item for url in urls for item in kube.request("GET", url).get("items", [])]
        except Exception:  # the sweep must outlive any one bad pass
            log.exception("recheck sweep could not list the corpora")
            continue
        recheck_each(corpora, functools.partial(_recheck, kube))


def recheck_each(corpora: list[dict[str, Any]], recheck: Callable[[dict[str, Any]], None]) -> int:
    """Rechecks every corpus, each on its own: one that cannot be reconciled (its namespace being
    deleted refuses every create) is logged and the next one is still rechecked. A pass that
    stopped at the first failure left every corpus listed after it stalled for as long as that
    one failed. Returns how many failed."""
    failed = 0
    for item in corpora:
        try:
            recheck(item)
        except Exception:
            failed += 1
            meta = item.get("metadata") or {}
            log.exception("recheck of %s/%s failed", meta.get("namespace"), meta.get("name"))
    return failed


def _recheck(kube: Kube, item: dict[str, Any]) -> None:
    stalled = observe.true_condition(item, "Stalled")
    meta = item["metadata"]
    if stalled and stalled.get("reason") in RECHECK:
        handlers.reconcile_named(meta["namespace"], meta["name"], "recheck")
    elif source_revision_changed(kube, item):
        handlers.reconcile_named(meta["namespace"], meta["name"], "source-changed")


def _logging() -> None:
    fmt = kopf.LogFormat.JSON if handlers.SETTINGS.log_format == "json" else kopf.LogFormat.FULL
    kopf.configure(verbose=handlers.SETTINGS.log_level.upper() == "DEBUG", log_format=fmt)
    logging.getLogger().setLevel(handlers.SETTINGS.log_level.upper())
    # kopf logs every handler run at INFO ("Handler 'pod_event' succeeded"): one line per child
    # event is noise at scale. Condition flips are logged by the handlers themselves.
    for noisy in ("urllib3", "kubernetes", "kopf.objects"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def run(namespaces: list[str], liveness_port: int = 8080, metrics_port: int = 9090) -> None:
    _logging()
    if metrics_port:
        metrics.serve(metrics_port)
    stop = threading.Event()
    threading.Thread(
        target=_sweep,
        args=(list(namespaces), handlers.SETTINGS.recheck_seconds, stop),
        name="recheck",
        daemon=True,
    ).start()
    log.info(
        "starting: namespaces=%s server image=%s indexer image=%s",
        namespaces or "all",
        handlers.SETTINGS.server_image,
        handlers.SETTINGS.default_indexer_image,
    )
    started = time.monotonic()
    try:
        kopf.run(
            standalone=True,
            clusterwide=not namespaces,
            namespaces=list(namespaces),
            liveness_endpoint=f"http://0.0.0.0:{liveness_port}/healthz" if liveness_port else None,
        )
    finally:
        stop.set()
        log.info("stopped after %.0fs", time.monotonic() - started)

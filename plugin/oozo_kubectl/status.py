"""Reading what `status` shows: the corpus and the children the summary needs."""

from __future__ import annotations

from typing import Any

from kubernetes import client
from kubernetes.client.rest import ApiException

from oozo_kubectl import names as N
from oozo_kubectl.kube import Cluster, PluginError, describe_api_error
from oozo_kubectl.summary import Observed


def _optional(cluster: Cluster, read: Any, name: str, what: str) -> dict[str, Any] | None:
    """A child that may not exist (yet, or at all for this spec)."""
    try:
        return dict(cluster.plain(read(name, cluster.namespace)))
    except ApiException as err:
        if err.status == 404:
            return None
        raise PluginError(describe_api_error(err, f"get {what} {cluster.namespace}/{name}")) from None


def observe(cluster: Cluster, name: str) -> Observed:
    corpus = cluster.corpus(name)
    autoscaling = client.AutoscalingV2Api(cluster.api)
    return Observed(
        corpus=corpus,
        deployment=_optional(cluster, cluster.apps.read_namespaced_deployment, name, "deployment"),
        service=_optional(cluster, cluster.core.read_namespaced_service, name, "service"),
        hpa=_optional(cluster, autoscaling.read_namespaced_horizontal_pod_autoscaler, name, "hpa"),
        index_jobs=cluster.items(
            cluster.batch.list_namespaced_job, "jobs", label_selector=N.selector(name, N.INDEX)
        ),
        backup_cronjob=_optional(
            cluster, cluster.batch.read_namespaced_cron_job, N.backup_cronjob_name(name), "cronjob"
        ),
        events=cluster.events_of(corpus["metadata"]["uid"]),
    )

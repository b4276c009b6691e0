"""The connection to the cluster, chosen the way kubectl chooses it: --kubeconfig (else
$KUBECONFIG, else ~/.kube/config), --context (else the current context), -n/--namespace (else the
context's namespace, else "default"); inside a pod without a kubeconfig, the service account.

Every object comes back as a plain dict in the API's own JSON shape (camelCase), so what the
plugin prints, renders and bundles is exactly what `kubectl get -o json` would show."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubernetes import client, config
from kubernetes.client.rest import ApiException
from kubernetes.config.config_exception import ConfigException

from oozo_kubectl import names as N
from oozo_kubectl.summary import event_time

IN_CLUSTER_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


class PluginError(Exception):
    """An error the user can act on: printed without a traceback, exit code 1."""


@dataclass(frozen=True)
class Target:
    kubeconfig: str | None = None
    context: str | None = None
    namespace: str | None = None


def describe_api_error(err: ApiException, what: str) -> str:
    if err.status == 403:
        return f"forbidden: you may not {what} (ask for RBAC permission, or use another --context)"
    if err.status == 404:
        return f"not found: {what}"
    return f"the API server refused to {what}: {err.status} {err.reason}"


class Cluster:
    """An API client for one target, and the few reads every command shares."""

    def __init__(self, target: Target) -> None:
        self.api, default_namespace = _connect(target)
        self.namespace = target.namespace or default_namespace
        self.core = client.CoreV1Api(self.api)
        self.apps = client.AppsV1Api(self.api)
        self.batch = client.BatchV1Api(self.api)
        self.custom = client.CustomObjectsApi(self.api)

    def plain(self, obj: Any) -> Any:
        """A typed client object as the API's JSON (camelCase keys, no None fields)."""
        return self.api.sanitize_for_serialization(obj)

    def corpus(self, name: str) -> dict[str, Any]:
        try:
            body: Any = self.custom.get_namespaced_custom_object(
                N.GROUP, N.VERSION, self.namespace, N.PLURAL, name
            )
        except ApiException as err:
            if err.status == 404:
                raise PluginError(f'ragcorpus "{name}" not found in namespace "{self.namespace}"') from None
            raise PluginError(describe_api_error(err, f"get ragcorpus {self.namespace}/{name}")) from None
        return dict(body)

    def items(self, list_call: Any, what: str, **kwargs: Any) -> list[dict[str, Any]]:
        """`list_call(namespace, **kwargs).items` as dicts; a PluginError names what was refused."""
        try:
            return [self.plain(o) for o in list_call(self.namespace, **kwargs).items]
        except ApiException as err:
            raise PluginError(describe_api_error(err, f"list {what} in {self.namespace}")) from None

    def events_of(self, uid: str) -> list[dict[str, Any]]:
        """Events about the corpus itself, oldest first."""
        events = self.items(
            self.core.list_namespaced_event, "events", field_selector=f"involvedObject.uid={uid}"
        )
        return sorted(events, key=event_time)


def _connect(target: Target) -> tuple[client.ApiClient, str]:
    """(api client, the namespace to default to)."""
    try:
        configuration = client.Configuration()
        config.load_kube_config(
            config_file=target.kubeconfig, context=target.context, client_configuration=configuration
        )
    except (ConfigException, FileNotFoundError) as kube_err:
        if target.kubeconfig or target.context or not IN_CLUSTER_NAMESPACE.exists():
            raise PluginError(f"cannot load the kubeconfig: {kube_err}") from None
        configuration = client.Configuration()
        config.load_incluster_config(client_configuration=configuration)
        return client.ApiClient(configuration), IN_CLUSTER_NAMESPACE.read_text().strip()
    _, active = config.list_kube_config_contexts(config_file=target.kubeconfig)
    if target.context:
        contexts, _ = config.list_kube_config_contexts(config_file=target.kubeconfig)
        active = next((c for c in contexts if c["name"] == target.context), active)
    namespace = ((active or {}).get("context") or {}).get("namespace") or "default"
    return client.ApiClient(configuration), namespace

"""The operator's only door to the API server: server-side apply, create-only, metadata-only
reads, deletes and status patches over one kubernetes-client ApiClient.

Server-side apply is a PATCH with `application/apply-patch+yaml` (JSON is YAML), field manager
`oozo`, force=true: the operator owns exactly the fields it renders, and nothing else. kopf has
no apply of its own, and the typed client methods would need one call per kind; the resource
table below covers every kind Oozo manages."""

from __future__ import annotations

import json
import threading
from typing import Any

from kubernetes import client, config
from kubernetes.client.rest import ApiException

from oozo_operator.api.crd import GROUP, PLURAL, VERSION

FIELD_MANAGER = "oozo"
# Metadata-only reads: the API server returns name/labels/uid and never `data`. Used for
# Secrets, whose values the operator must not see.
PARTIAL_METADATA = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"

PLURALS = {
    ("v1", "PersistentVolumeClaim"): "persistentvolumeclaims",
    ("v1", "ConfigMap"): "configmaps",
    ("v1", "Secret"): "secrets",
    ("v1", "Service"): "services",
    ("v1", "Pod"): "pods",
    ("v1", "Event"): "events",
    ("batch/v1", "Job"): "jobs",
    ("batch/v1", "CronJob"): "cronjobs",
    ("apps/v1", "Deployment"): "deployments",
    ("autoscaling/v2", "HorizontalPodAutoscaler"): "horizontalpodautoscalers",
    ("policy/v1", "PodDisruptionBudget"): "poddisruptionbudgets",
    ("networking.k8s.io/v1", "NetworkPolicy"): "networkpolicies",
    ("networking.k8s.io/v1", "Ingress"): "ingresses",
    ("gateway.networking.k8s.io/v1", "HTTPRoute"): "httproutes",
    (f"{GROUP}/{VERSION}", "RagCorpus"): PLURAL,
}


def path(api_version: str, kind: str, namespace: str, name: str | None = None, sub: str | None = None) -> str:
    base = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
    out = f"{base}/namespaces/{namespace}/{PLURALS[(api_version, kind)]}"
    if name:
        out += f"/{name}"
    if sub:
        out += f"/{sub}"
    return out


class Kube:
    def __init__(self, api_client: client.ApiClient) -> None:
        self.api = api_client

    @classmethod
    def connect(cls) -> Kube:
        """In-cluster config when running in a pod, else the current kubeconfig."""
        try:
            config.load_incluster_config()
        except config.ConfigException:
            config.load_kube_config()
        conf = client.Configuration.get_default_copy()
        conf.connection_pool_maxsize = 32  # handlers run in a thread pool
        return cls(client.ApiClient(conf))

    def request(
        self,
        method: str,
        url_path: str,
        body: Any = None,
        query: list[tuple[str, str]] | None = None,
        content_type: str = "application/json",
        accept: str = "application/json",
    ) -> dict[str, Any]:
        headers = {"Accept": accept, "Content-Type": content_type}
        params = self.api.param_serialize(
            method,
            url_path,
            query_params=query or [],
            header_params=headers,
            body=body,
            auth_settings=["BearerToken"],
        )
        response = self.api.call_api(*params, _request_timeout=(10, 30))
        data = response.read()
        if not 200 <= response.status < 300:
            err = ApiException(status=response.status, reason=response.reason)
            err.body = data.decode(errors="replace") if data else ""
            raise err
        return json.loads(data) if data else {}

    # --- writes -------------------------------------------------------------------------
    def apply(self, obj: dict[str, Any]) -> dict[str, Any]:
        meta = obj["metadata"]
        url = path(obj["apiVersion"], obj["kind"], meta["namespace"], meta["name"])
        return self.request(
            "PATCH",
            url,
            obj,
            [("fieldManager", FIELD_MANAGER), ("force", "true")],
            content_type="application/apply-patch+yaml",
        )

    def create(self, obj: dict[str, Any]) -> bool:
        """Create once; False when it exists already (409), which callers treat as success."""
        meta = obj["metadata"]
        try:
            self.request(
                "POST",
                path(obj["apiVersion"], obj["kind"], meta["namespace"]),
                obj,
                [("fieldManager", FIELD_MANAGER)],
            )
        except ApiException as err:
            if err.status == 409:
                return False
            raise
        return True

    def delete(self, api_version: str, kind: str, namespace: str, name: str, uid: str) -> bool:
        """Delete exactly the object with `uid` (a precondition): a same-named replacement
        created since it was read is left alone (409), as is one already gone (404)."""
        options = {"propagationPolicy": "Background", "preconditions": {"uid": uid}}
        try:
            self.request("DELETE", path(api_version, kind, namespace, name), options)
        except ApiException as err:
            if err.status in (404, 409):
                return False
            raise
        return True

    def patch_status(self, namespace: str, name: str, status: dict[str, Any]) -> dict[str, Any]:
        return self.request(
            "PATCH",
            path(f"{GROUP}/{VERSION}", "RagCorpus", namespace, name, "status"),
            {"status": status},
            content_type="application/merge-patch+json",
        )

    # --- reads --------------------------------------------------------------------------
    def get(self, api_version: str, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            return self.request("GET", path(api_version, kind, namespace, name))
        except ApiException as err:
            if err.status == 404:
                return None
            raise

    def metadata(self, api_version: str, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        """An object's metadata from a metadata-only GET (never a Secret's data); None when
        it does not exist."""
        try:
            found = self.request("GET", path(api_version, kind, namespace, name), accept=PARTIAL_METADATA)
        except ApiException as err:
            if err.status == 404:
                return None
            raise
        return dict(found.get("metadata") or {})

    def revision(self, api_version: str, kind: str, namespace: str, name: str) -> str | None:
        """resourceVersion from a metadata-only GET: "" when the object does not exist, None
        when RBAC forbids the read."""
        try:
            meta = self.request("GET", path(api_version, kind, namespace, name), accept=PARTIAL_METADATA)
        except ApiException as err:
            if err.status == 404:
                return ""
            if err.status == 403:
                return None
            raise
        return str((meta.get("metadata") or {}).get("resourceVersion") or "?")

    def list(
        self, api_version: str, kind: str, namespace: str, selector: dict[str, str]
    ) -> list[dict[str, Any]]:
        label_selector = ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
        return self.request(
            "GET", path(api_version, kind, namespace), query=[("labelSelector", label_selector)]
        ).get("items", [])


_lock = threading.Lock()
_shared: Kube | None = None


def shared() -> Kube:
    global _shared
    with _lock:
        if _shared is None:
            _shared = Kube.connect()
        return _shared

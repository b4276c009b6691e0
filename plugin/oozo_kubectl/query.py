"""`query`: ask a corpus a question as a client would, with the corpus's own API key.

Two ways in. Without auth, through the API server's service proxy
(/api/v1/namespaces/NS/services/NAME:http/proxy/api/query), which needs nothing but the user's
kubeconfig. With auth on, the proxy cannot carry the key: the API server authenticates the caller
and then drops the Authorization header before proxying, so the server would answer 401. Then
the user names a URL that reaches the Service (`--endpoint`: an Ingress, or a
`kubectl port-forward svc/NAME 8080:80`), and the plugin sends the key there itself."""

from __future__ import annotations

import base64
import json
from typing import Any

import urllib3
from kubernetes.client.rest import ApiException

from oozo_kubectl import names as N
from oozo_kubectl.kube import Cluster, PluginError, describe_api_error

TIMEOUT_SECONDS = 60.0


def api_key_ref(corpus: dict[str, Any]) -> tuple[str, str] | None:
    """(Secret name, key) holding the corpus's API key, or None when auth is off."""
    auth = ((corpus.get("spec") or {}).get("runtime") or {}).get("auth") or {}
    if not auth.get("enabled", True):  # auth is on unless the spec turns it off
        return None
    ref = auth.get("apiKeySecretRef") or {}
    if ref.get("name"):
        return ref["name"], ref.get("key") or N.GENERATED_KEY
    return N.generated_secret_name(corpus["metadata"]["name"]), N.GENERATED_KEY


def read_api_key(cluster: Cluster, secret: str, key: str) -> str:
    """The first key in the Secret (the server accepts one key per line)."""
    try:
        body = cluster.core.read_namespaced_secret(secret, cluster.namespace)
    except ApiException as err:
        raise PluginError(
            describe_api_error(err, f"read Secret {cluster.namespace}/{secret} (the corpus's API key)")
            + "; pass the key yourself with --api-key-file"
        ) from None
    encoded = (body.data or {}).get(key)
    if not encoded:
        raise PluginError(f"Secret {cluster.namespace}/{secret} has no key {key!r}")
    lines = [ln.strip() for ln in base64.b64decode(encoded).decode().splitlines() if ln.strip()]
    if not lines:
        raise PluginError(f"Secret {cluster.namespace}/{secret} key {key!r} is empty")
    return lines[0]


def request_body(question: str, top_k: int) -> bytes:
    return json.dumps({"question": question, "return_sources": True, "top_k": top_k}).encode()


def _decode(status: int, data: bytes, where: str) -> dict[str, Any]:
    try:
        body = json.loads(data or b"{}")
    except json.JSONDecodeError:
        body = {"detail": data.decode(errors="replace")[:500]}
    if status == 401:
        raise PluginError(f"{where} refused the API key (401): {body.get('detail')}")
    if status >= 400:
        raise PluginError(f"{where} answered {status}: {body.get('detail') or body}")
    if not isinstance(body, dict):
        raise PluginError(f"{where} answered with something that is not a query result")
    return body


def via_endpoint(url: str, body: bytes, api_key: str | None) -> dict[str, Any]:
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    target = url.rstrip("/") + "/api/query"
    try:
        resp = urllib3.request("POST", target, body=body, headers=headers, timeout=TIMEOUT_SECONDS)
    except urllib3.exceptions.HTTPError as err:
        raise PluginError(f"cannot reach {target}: {err}") from None
    return _decode(resp.status, resp.data, target)


def via_service_proxy(cluster: Cluster, name: str, body: bytes) -> dict[str, Any]:
    path = f"/api/v1/namespaces/{cluster.namespace}/services/{name}:{N.SERVICE_PORT_NAME}/proxy/api/query"
    where = f"service {cluster.namespace}/{name} (through the API server's proxy)"
    request = cluster.api.param_serialize(
        "POST",
        path,
        header_params={"Content-Type": "application/json", "Accept": "application/json"},
        body=json.loads(body),
        auth_settings=["BearerToken"],
    )
    try:
        resp = cluster.api.call_api(*request, _request_timeout=TIMEOUT_SECONDS)
        data = resp.read() or b""
    except urllib3.exceptions.HTTPError as err:
        raise PluginError(f"cannot reach the API server: {err}") from None
    if resp.status == 403 and b'"kind":"Status"' in data.replace(b" ", b""):
        raise PluginError(f"forbidden: you may not proxy to services/{name} in {cluster.namespace}")
    return _decode(resp.status, data, where)


def ask(
    cluster: Cluster,
    name: str,
    question: str,
    top_k: int,
    endpoint: str | None = None,
    api_key: str | None = None,
) -> dict[str, Any]:
    corpus = cluster.corpus(name)
    ref = api_key_ref(corpus)
    if ref and api_key is None:
        api_key = read_api_key(cluster, *ref)
    body = request_body(question, top_k)
    if endpoint:
        return via_endpoint(endpoint, body, api_key)
    if ref:
        raise PluginError(
            f"auth is on for {name}: the API server's proxy drops the Authorization header, so the "
            f"key cannot travel through it. Reach the Service directly, for example:\n"
            f"  kubectl port-forward -n {cluster.namespace} svc/{name} 8080:80 &\n"
            f"  kubectl oozo query -n {cluster.namespace} {name} {json.dumps(question)} "
            f"--endpoint http://127.0.0.1:8080"
        )
    return via_service_proxy(cluster, name, body)

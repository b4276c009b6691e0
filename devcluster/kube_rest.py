"""A small Kubernetes REST client over httpx, for the harness's kubelet and provisioner.

Objects stay plain dicts in their API (camelCase) shape, the same shape as the manifests the
tests write, so the pure functions in kubelet/launch.py read like the Kubernetes docs. It also
sidesteps a trap of the generated client (v37 sends dict PATCH bodies as json-patch): every
patch here names its content type.
"""

from __future__ import annotations

import base64
import json
import ssl
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import yaml

PATCH_TYPES = {
    "strategic": "application/strategic-merge-patch+json",
    "merge": "application/merge-patch+json",
    "json": "application/json-patch+json",
}


class ApiError(RuntimeError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


def _ssl_context(kubeconfig: Path) -> tuple[str, ssl.SSLContext]:
    conf = yaml.safe_load(Path(kubeconfig).read_text())
    current = conf.get("current-context")
    ctx_entry = next((c for c in conf["contexts"] if c["name"] == current), conf["contexts"][0])["context"]
    cluster = next(c for c in conf["clusters"] if c["name"] == ctx_entry["cluster"])["cluster"]
    user = next(u for u in conf["users"] if u["name"] == ctx_entry["user"])["user"]
    tls = ssl.create_default_context(cadata=base64.b64decode(cluster["certificate-authority-data"]).decode())
    with tempfile.TemporaryDirectory(prefix="oozo-kube-") as tmp:
        cert, key = Path(tmp, "tls.crt"), Path(tmp, "tls.key")
        cert.write_bytes(base64.b64decode(user["client-certificate-data"]))
        key.write_bytes(base64.b64decode(user["client-key-data"]))
        tls.load_cert_chain(str(cert), str(key))  # read once; the files can go
    return cluster["server"], tls


class Kube:
    """One authenticated connection pool; safe to share between threads for plain calls."""

    def __init__(self, kubeconfig: Path | str, timeout: float = 15.0) -> None:
        self.kubeconfig = Path(kubeconfig)
        self.server, self._tls = _ssl_context(self.kubeconfig)
        self._http = httpx.Client(base_url=self.server, verify=self._tls, timeout=timeout, trust_env=False)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Kube:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def request(
        self, method: str, path: str, body: Any = None, params: dict | None = None, content_type: str = ""
    ) -> dict:
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            headers["Content-Type"] = content_type or "application/json"
            data = json.dumps(body).encode()
        resp = self._http.request(method, path, content=data, params=params, headers=headers)
        if resp.status_code >= 400:
            try:
                message = resp.json().get("message", resp.text)
            except ValueError:
                message = resp.text
            raise ApiError(resp.status_code, message)
        return resp.json() if resp.content else {}

    def get(self, path: str, **params: Any) -> dict | None:
        """The object, or None when it does not exist."""
        try:
            return self.request("GET", path, params=params or None)
        except ApiError as err:
            if err.status == 404:
                return None
            raise

    def list(self, path: str, **params: Any) -> dict:
        return self.request("GET", path, params=params or None)

    def create(self, path: str, body: dict) -> dict:
        return self.request("POST", path, body)

    def patch(self, path: str, body: Any, kind: str = "strategic") -> dict:
        return self.request("PATCH", path, body, content_type=PATCH_TYPES[kind])

    def delete(self, path: str, body: dict | None = None) -> dict | None:
        try:
            return self.request("DELETE", path, body)
        except ApiError as err:
            if err.status == 404:
                return None
            raise

    def watch(
        self, path: str, resource_version: str, timeout_seconds: int = 30, **params: Any
    ) -> Iterator[dict]:
        """Events ({type, object}) from resource_version until the server ends the watch.
        An ERROR event (410 Gone: resource version too old) is yielded for the caller to relist."""
        query = {
            **params,
            "watch": "1",
            "resourceVersion": resource_version,
            "timeoutSeconds": str(timeout_seconds),
            "allowWatchBookmarks": "true",
        }
        with (
            httpx.Client(
                base_url=self.server,
                verify=self._tls,
                timeout=httpx.Timeout(10.0, read=timeout_seconds + 10.0),
                trust_env=False,
            ) as http,
            http.stream("GET", path, params=query) as resp,
        ):
            if resp.status_code >= 400:
                resp.read()
                raise ApiError(resp.status_code, resp.text)
            for line in resp.iter_lines():
                if line.strip():
                    yield json.loads(line)

"""Services on the local node: the two faces of a pod's address, and what kube-proxy would do —
pick a ready endpoint behind a Service from the EndpointSlices the control plane publishes.

    url = resolve_service(kubeconfig, "default", "handbook", 80)   # "http://127.0.0.2:8000"
"""

from __future__ import annotations

import random
import time
from pathlib import Path

from devcluster.kube_rest import Kube

# The API refuses loopback addresses in EndpointSlices, so a pod has two faces of one address:
# its pod IP in the API is 10.233.C.D (a range no other node uses), and its process listens on
# 127.0.C.D. resolve_service() translates, as a CNI plus kube-proxy would.
POD_NET = "10.233."


def pod_addresses(n: int) -> tuple[str, str]:
    """The n-th pod's (pod IP, local loopback IP), n ≥ 0: (10.233.0.2, 127.0.0.2), … skipping
    .0/.1/.255 last octets."""
    high, low = divmod(n, 253)
    tail = f"{high % 256}.{low + 2}"
    return POD_NET + tail, "127.0." + tail


def local_address(pod_ip: str) -> str:
    """Where this machine reaches a pod IP of the local node; other addresses are unchanged."""
    return "127.0." + pod_ip.removeprefix(POD_NET) if pod_ip.startswith(POD_NET) else pod_ip


def service_endpoints(kubeconfig: Path | str, namespace: str, name: str, port: int = 80) -> list[str]:
    """URLs (http://IP:TARGETPORT) of the ready endpoints behind a Service port, read from the
    EndpointSlices the endpointslice controller publishes: what kube-proxy would route to."""
    with Kube(kubeconfig) as kube:
        svc = kube.get(f"/api/v1/namespaces/{namespace}/services/{name}")
        if svc is None:
            raise LookupError(f"service {namespace}/{name} not found")
        slices = kube.list(
            f"/apis/discovery.k8s.io/v1/namespaces/{namespace}/endpointslices",
            labelSelector=f"kubernetes.io/service-name={name}",
        )
    return endpoint_urls(svc, slices.get("items") or [], port)


def endpoint_urls(service: dict, slices: list[dict], port: int) -> list[str]:
    """The pure part of service_endpoints: match the Service port to the slices' port of the
    same name, keep endpoints not marked unready, map pod IPs to local addresses."""
    meta = service["metadata"]
    entry = next((p for p in service["spec"].get("ports") or [] if p["port"] == port), None)
    if entry is None:
        raise LookupError(f"service {meta['namespace']}/{meta['name']} has no port {port}")
    urls: list[str] = []
    for eps in slices:
        slice_port = next(
            (p["port"] for p in eps.get("ports") or [] if (p.get("name") or "") == (entry.get("name") or "")),
            None,
        )
        if slice_port is None:
            continue
        for ep in eps.get("endpoints") or []:
            if (ep.get("conditions") or {}).get("ready") is False:
                continue
            urls += [f"http://{local_address(addr)}:{slice_port}" for addr in ep.get("addresses") or []]
    return sorted(set(urls))


def resolve_service(kubeconfig: Path | str, namespace: str, name: str, port: int = 80) -> str:
    """One ready endpoint of the Service, picked at random like kube-proxy; LookupError if none."""
    urls = service_endpoints(kubeconfig, namespace, name, port)
    if not urls:
        raise LookupError(f"service {namespace}/{name} has no ready endpoints")
    return random.choice(urls)


def wait_for_endpoint(
    kubeconfig: Path | str, namespace: str, name: str, port: int = 80, timeout: float = 60
) -> str:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return resolve_service(kubeconfig, namespace, name, port)
        except LookupError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)

"""Operator convergence: N RagCorpora applied at once, until every one reads Ready, against a
baseline in the same run on the same control plane: the very same children (rendered by the
same functions) applied directly, with no operator, until every Deployment is available. The
ratio shows what the operator's loop (watch → reconcile → status) costs on top of the API work
and the Kubernetes controllers it cannot avoid.

    python -m bench.operator_bench [--count 50]    # prints the JSON that run() returns

Both phases use the same "kubelet": index pods terminate with a result message, server pods
become Ready, on the control plane's oozo-local-0 node.
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from kubernetes import client

from tests.operator_builders import make_corpus, on_local_node, with_small_pods
from tests.operator_support import (
    GROUP,
    PLURAL,
    VERSION,
    Kubelet,
    Operator,
    condition,
    docs_configmap,
    install_crd,
    result,
    volume_for,
    wait_for,
)

TIMEOUT = 600.0


def _kubelet_loop(core: client.CoreV1Api, ns: str, stop: threading.Event) -> None:
    kubelet = Kubelet(core)
    while not stop.is_set():
        for pod in core.list_namespaced_pod(ns).items:
            if not pod.spec.node_name or pod.status.container_statuses or pod.metadata.deletion_timestamp:
                continue
            labels = pod.metadata.labels or {}
            if labels.get("app.kubernetes.io/component") == "index":
                kubelet.terminate(ns, pod.metadata.name, 0, result("v1"))
            elif labels.get("app.kubernetes.io/component") == "server":
                kubelet.run_ready(ns, pod.metadata.name)
        stop.wait(0.2)


def _namespace(core: client.CoreV1Api, names: list[str], tag: str) -> str:
    ns = f"bench-{tag}-{uuid.uuid4().hex[:5]}"
    core.create_namespace({"metadata": {"name": ns}})
    for name in names:
        docs_configmap(core, ns, f"{name}-docs")
        volume_for(core, ns, name)
    return ns


def _baseline(api: client.ApiClient, names: list[str]) -> float:
    """Apply each corpus's final children directly (as if the operator had already decided)."""
    from oozo_operator.kube import Kube
    from oozo_operator.render import configmap, deployment, job, pvc, service
    from oozo_operator.render.corpus import Corpus

    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    ns = _namespace(core, names, "direct")
    kube = Kube(api)
    stop = threading.Event()
    threading.Thread(target=_kubelet_loop, args=(core, ns, stop), daemon=True).start()
    began = time.monotonic()
    try:
        for name in names:
            obj = make_corpus(name, on_local_node, with_small_pods, namespace=ns)
            obj["metadata"]["uid"] = str(uuid.uuid4())
            c = Corpus.from_body(obj)
            for child in (pvc.render(c), configmap.render(c), service.render(c), job.render(c),
                          deployment.render(c, "v1")):  # fmt: skip
                child["metadata"].pop("ownerReferences")  # no owner object exists in this phase
                kube.apply(child)

        def available() -> bool:
            items = apps.list_namespaced_deployment(ns).items
            return len(items) == len(names) and all((d.status.available_replicas or 0) >= 1 for d in items)

        wait_for("direct Deployments available", available, TIMEOUT, every=0.5)
        return time.monotonic() - began
    finally:
        stop.set()
        core.delete_namespace(ns)


def _with_operator(plane: Any, api: client.ApiClient, names: list[str], logs: Path) -> dict[str, Any]:
    core, custom = client.CoreV1Api(api), client.CustomObjectsApi(api)
    ns = _namespace(core, names, "operator")
    operator = Operator(plane.env(), logs, OOZO_LOG_LEVEL="WARNING").start()
    time.sleep(2)  # let kopf establish its watches: the clock measures reconciling, not start-up
    stop = threading.Event()
    threading.Thread(target=_kubelet_loop, args=(core, ns, stop), daemon=True).start()
    began = time.monotonic()
    try:
        for name in names:
            custom.create_namespaced_custom_object(
                GROUP, VERSION, ns, PLURAL, make_corpus(name, on_local_node, with_small_pods)
            )

        def all_ready() -> bool:
            items = custom.list_namespaced_custom_object(GROUP, VERSION, ns, PLURAL)["items"]
            return len(items) == len(names) and all(
                condition(o, "Ready").get("status") == "True" for o in items
            )

        wait_for("corpora Ready", all_ready, TIMEOUT, every=0.5)
        seconds = time.monotonic() - began
        text = operator.metrics()
        return {"seconds": seconds, **_metrics(text)}
    finally:
        stop.set()
        operator.stop()
        core.delete_namespace(ns)


def _metrics(text: str) -> dict[str, float]:
    def total(pattern: str) -> float:
        return sum(float(m) for m in re.findall(pattern + r"(?:\{[^}]*\})? ([0-9.e+-]+)", text))

    reconciles = total(r"\noozo_reconcile_duration_seconds_count")
    return {
        "reconciles": reconciles,
        "meanReconcileMs": round(
            1000 * total(r"\noozo_reconcile_duration_seconds_sum") / max(reconciles, 1), 1
        ),
        "statusWrites": total(r"\noozo_status_writes_total"),
    }


def run(count: int = 50) -> dict[str, Any]:
    from tests.harness.controlplane import ControlPlane

    names = [f"c{i:03d}" for i in range(count)]
    with tempfile.TemporaryDirectory(prefix="oozo-bench-") as tmp:
        plane = ControlPlane(Path(tmp) / "plane")
        plane.start()
        try:
            install_crd(plane.env())
            with plane.api_client() as api:
                direct = _baseline(api, names)
                operated = _with_operator(plane, api, names, Path(tmp))
        finally:
            plane.stop()
    return {
        "corpora": count,
        "operatorSeconds": round(operated["seconds"], 1),
        "directSeconds": round(direct, 1),
        "ratio": round(direct / operated["seconds"], 2),
        "reconciles": int(operated["reconciles"]),
        "reconcilesPerCorpus": round(operated["reconciles"] / count, 1),
        "meanReconcileMs": operated["meanReconcileMs"],
        "statusWrites": int(operated["statusWrites"]),
    }


def markdown_rows(r: dict[str, Any]) -> list[str]:
    return [
        "| operator benchmark | measured | baseline in the same run | ratio (baseline / measured) |",
        "|---|---|---|---|",
        f"| {r['corpora']} RagCorpora applied at once → all Ready | {r['operatorSeconds']} s "
        f"| same children applied directly → all Deployments available: {r['directSeconds']} s "
        f"| **{r['ratio']}** |",
        f"| reconcile passes | {r['reconciles']} ({r['reconcilesPerCorpus']} per corpus), "
        f"mean {r['meanReconcileMs']} ms | | |",
        f"| status writes (only on change) | {r['statusWrites']} | | |",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=50)
    args = parser.parse_args()
    print(json.dumps(run(args.count), indent=2))


if __name__ == "__main__":
    main()

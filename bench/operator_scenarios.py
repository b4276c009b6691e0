"""The operator benchmark's measurements on a running control plane (see operator_bench.py for
what each one is and its baseline)."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path
from typing import Any

from kubernetes import client

from bench.measure import Watcher, ms, pct
from bench.operator_audit import BENCH_AGENT, Audit, by_kind, summary
from devcluster.controlplane.plane import LOCAL_SCHEDULING
from devcluster.kubelet.player import KubeletPlayer
from devcluster.ragcorpus import GROUP, PLURAL, VERSION, condition, docs_configmap, volume_for
from devcluster.waiting import wait_for

CHILDREN = ("PersistentVolumeClaim", "ConfigMap", "Service", "Job")
# Tiny requests, so many corpora fit on the one local node (8 CPU, 16Gi).
SMALL_PODS = {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"memory": "256Mi"}}


def corpus_manifest(name: str) -> dict[str, Any]:
    """A RagCorpus over NAME-docs whose small pods land on oozo-local-0, where the benchmark
    plays the kubelet."""
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "RagCorpus",
        "metadata": {"name": name},
        "spec": {
            "source": {"configMap": {"name": f"{name}-docs"}},
            "scheduling": LOCAL_SCHEDULING,
            "index": {"resources": SMALL_PODS},
            "runtime": {"resources": SMALL_PODS},
        },
    }


class Bench:
    """The benchmark's side of the cluster: its namespaces, its corpora, its watches, the
    operator's writes in the audit log, and the four measurements run() strings together."""

    def __init__(self, plane: Any, tmp: Path) -> None:
        self.plane, self.tmp = plane, tmp
        self.stop = threading.Event()
        self.watcher = Watcher(self.api, self.stop)
        self.core = client.CoreV1Api(self.api())
        self.custom = client.CustomObjectsApi(self.api())
        self.audit = Audit(plane.audit_log)
        self.operator_start = self.audit.offset()
        self.players: list[KubeletPlayer] = []

    def close(self) -> None:
        self.stop.set()
        for player in self.players:
            player.stop()

    def api(self) -> client.ApiClient:
        api = self.plane.api_client()
        api.user_agent = BENCH_AGENT
        return api

    def namespace(self, tag: str, names: list[str]) -> str:
        ns = f"bench-{tag}-{uuid.uuid4().hex[:5]}"
        self.core.create_namespace(client.V1Namespace.model_validate({"metadata": {"name": ns}}))
        for name in names:
            docs_configmap(self.core, ns, f"{name}-docs")
            volume_for(self.core, ns, name)
        return ns

    def delete_namespaces(self, namespaces: list[str]) -> None:
        for ns in namespaces:
            self.core.delete_namespace(ns)
        for ns in namespaces:

            def gone(ns: str = ns) -> bool:
                return ns not in self._namespaces()

            wait_for(f"namespace {ns} gone", gone, 180, every=1)
            self.core.delete_collection_persistent_volume(label_selector=f"oozo-test={ns}")

    def _namespaces(self) -> set[str]:
        return {n.metadata.name for n in self.core.list_namespace().items if n.metadata and n.metadata.name}

    def create_corpus(self, ns: str, name: str) -> float:
        began = time.monotonic()
        self.custom.create_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, corpus_manifest(name))
        return began

    def watch_ready(self, ns: str) -> dict[str, float]:
        """name -> first time it was seen with Ready=True."""
        ready: dict[str, float] = {}

        def on_event(_type: str, obj: dict[str, Any]) -> None:
            if condition(obj, "Ready").get("status") == "True":
                ready.setdefault(obj["metadata"]["name"], time.monotonic())

        self.watcher.watch(
            f"ragcorpus/{ns}",
            self.custom.list_namespaced_custom_object,
            on_event,
            group=GROUP,
            version=VERSION,
            namespace=ns,
            plural=PLURAL,
        )
        return ready

    # 1. apply → children, one corpus after another
    def children_latency(self, count: int) -> tuple[dict[str, Any], str]:
        names = [f"s{i:02d}" for i in range(count)]
        ns = self.namespace("apply", names)

        def core() -> client.CoreV1Api:  # one client (connection pool) per watch
            return client.CoreV1Api(self.api())

        for kind, fn in [("PersistentVolumeClaim", core().list_namespaced_persistent_volume_claim),
                         ("ConfigMap", core().list_namespaced_config_map),
                         ("Service", core().list_namespaced_service),
                         ("Job", client.BatchV1Api(self.api()).list_namespaced_job)]:  # fmt: skip
            self.watcher.watch(f"{kind}/{ns}", fn, namespace=ns)
        time.sleep(1.5)  # the watches are open before the first create
        child_names = {
            "PersistentVolumeClaim": lambda c: f"{c}-index",
            "ConfigMap": lambda c: f"{c}-config",
            "Service": lambda c: c,
        }

        def seen(kind: str, corpus: str) -> float | None:
            if kind == "Job":
                return self.watcher.match(f"Job/{ns}", f"{corpus}-index-")
            return self.watcher.first(f"{kind}/{ns}", child_names[kind](corpus))

        raw_rtt, raw_seen, total = [], [], []
        per_child: dict[str, list[float]] = {k: [] for k in CHILDREN}
        for i, name in enumerate(names):
            t0 = time.monotonic()
            self.core.create_namespaced_config_map(
                ns, client.V1ConfigMap.model_validate({"metadata": {"name": f"plain-{i:02d}"}})
            )
            raw_rtt.append(time.monotonic() - t0)
            plain = f"plain-{i:02d}"

            def first_seen(p: str = plain) -> float | None:
                return self.watcher.first(f"ConfigMap/{ns}", p)

            at = wait_for(plain, first_seen, 10, every=0.005)
            raw_seen.append(at - t0)
            began = self.create_corpus(ns, name)

            def all_seen(name: str = name) -> list[float] | None:
                t = [seen(k, name) for k in CHILDREN]
                return [x for x in t if x] if all(t) else None

            times = wait_for(f"children of {name}", all_seen, 30, every=0.005)
            for kind, t in zip(CHILDREN, times, strict=True):
                per_child[kind].append(t - began)
            total.append(max(times) - began)
        deployments = client.AppsV1Api(self.api()).list_namespaced_deployment(ns).items
        out: dict[str, Any] = {
            "corpora": count,
            "allChildren": ms(total),
            "perChild": {k: ms(v) for k, v in per_child.items()},
            "plainConfigMapRoundTrip": ms(raw_rtt),
            "plainConfigMapCreateToWatch": ms(raw_seen),
            "deploymentsBeforeIndexResult": len(deployments),  # expected 0: no index pod finished
        }
        out["ratioP50"] = round(out["allChildren"]["p50_ms"] / out["plainConfigMapRoundTrip"]["p50_ms"], 1)
        return out, ns

    # 2. one corpus alone, then N at once, apply → Ready
    def solo(self) -> tuple[float, str]:
        ns = self.namespace("solo", ["solo"])
        self.players.append(KubeletPlayer(client.CoreV1Api(self.api())).autoplay(ns))
        ready = self.watch_ready(ns)
        time.sleep(1.5)
        began = self.create_corpus(ns, "solo")
        wait_for("solo corpus Ready", lambda: ready.get("solo"), 120, every=0.05)
        return ready["solo"] - began, ns

    def converge(self, count: int, timeout: float) -> dict[str, Any]:
        names = [f"c{i:03d}" for i in range(count)]
        ns = self.namespace("scale", names)
        player = KubeletPlayer(client.CoreV1Api(self.api())).autoplay(ns)
        self.players.append(player)
        ready = self.watch_ready(ns)
        time.sleep(1.5)
        offset = self.audit.offset()
        created = {name: self.create_corpus(ns, name) for name in names}
        began = min(created.values())
        wait_for(f"{count} corpora Ready", lambda: len(ready) == count, timeout, every=0.2)
        done = max(ready.values())
        writes = self.audit.operator_writes(offset)
        jobs = client.BatchV1Api(self.api()).list_namespaced_job(ns).items
        to_ready = [ready[n] - created[n] for n in names]
        return {
            "namespace": ns,
            "corpora": count,
            "seconds": round(done - began, 1),
            "createSeconds": round(max(created.values()) - began, 1),
            "perCorpusToReady": {"p50_s": round(pct(to_ready, 0.5), 1), "p95_s": round(pct(to_ready, 0.95), 1)},  # noqa: E501
            "operatorWrites": len(writes),
            "operatorWritesPerCorpus": round(len(writes) / count, 1),
            "operatorWritesByKind": by_kind(writes),
            "indexJobs": len(jobs),
            "kubeletActions": player.actions,
        }  # fmt: skip

    # 4. idle writes
    def idle(self, window: float, quiet: float = 10.0, settle_cap: float = 90.0) -> dict[str, Any]:
        start = pos = self.audit.offset()
        last = self.audit.last_operator_write(self.operator_start) or 0.0
        began = time.monotonic()
        while time.monotonic() - began < settle_cap and time.time() - last < quiet:
            time.sleep(1)
            end = self.audit.offset()
            last = self.audit.last_operator_write(pos, end) or last
            pos = end
        settle = time.monotonic() - began
        settle_writes = self.audit.operator_writes(start)
        window_start = self.audit.offset()
        time.sleep(window)
        writes = self.audit.operator_writes(window_start)
        return {
            "settleSeconds": round(settle, 1),
            "settleWrites": len(settle_writes),
            "windowSeconds": window,
            "writes": len(writes),
            "writesPerMinute": round(len(writes) * 60 / window, 1),
            "writesDetail": summary(writes),
            "settleWritesDetail": summary(settle_writes),
        }

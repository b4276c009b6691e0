"""Operator benchmarks on the local control plane (real etcd + kube-apiserver + controllers +
scheduler + kwok), the operator as a real `oozo operator` subprocess, each number next to a
baseline measured in the same run:

1. apply → children: a RagCorpus created through the API until its PVC, ConfigMap, Service and
   index Job all exist (the Deployment only follows the index result, so it is not part of
   this), p50/p95 over corpora applied one after another. Baseline: the API round trip of
   creating a plain ConfigMap, interleaved with the corpora.
2. convergence: N corpora (default 100) created back to back until every one reads Ready=True,
   the benchmark playing the kubelet of oozo-local-0 from a background thread (index pods
   terminate with a result message, server pods become Ready). Baseline: one corpus alone,
   apply → Ready, in the same run.
3. memory: the operator's VmHWM (peak) and VmRSS (steady, after the idle window) from
   /proc/PID/status. Baseline: VmRSS of the same operator watching no corpus.
4. idle writes: API writes (create/update/patch/delete) made by the operator in a 60 s window
   once every corpus is Ready and the operator has gone quiet, counted from the apiserver's
   audit log (user oozo-admin; the operator's two clients are told apart from the benchmark's
   own by user agent: kopf's `kopf/VERSION` and the kubernetes client's `OpenAPI-Generator/…`,
   the benchmark sets its own). Target 0.

    .venv/bin/python -m bench.operator_bench [--corpora 100] [--sequential 20] [--idle 60]

prints the JSON that run() returns; markdown_rows() renders the table bench/run.py writes.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import threading
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kubernetes import client, watch

from devcluster.procs import cpu_seconds
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

BENCH_AGENT = "oozo-bench/1"
ADMIN = "oozo-admin"  # the admin kubeconfig's user: the operator and the benchmark share it
OPERATOR_AGENTS = ("kopf/", "OpenAPI-Generator/")  # kopf's aiohttp client, the kubernetes client
INSTANCE = "app.kubernetes.io/instance"
COMPONENT = "app.kubernetes.io/component"
# Request level (a superset of Metadata) so a write can be traced to the fields it sends.
AUDIT_POLICY = f"""\
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: Request
    users: [{ADMIN}]
    verbs: [create, update, patch, delete, deletecollection]
  - level: None
"""
CHILDREN = ("PersistentVolumeClaim", "ConfigMap", "Service", "Job")


# -- helpers -------------------------------------------------------------------------------


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _ms(samples: list[float]) -> dict[str, float]:
    return {"p50_ms": round(_pct(samples, 0.5) * 1000, 1), "p95_ms": round(_pct(samples, 0.95) * 1000, 1)}


def _up(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
            return bool(r.status == 200)
    except OSError:
        return False


def _proc_status(pid: int) -> dict[str, int]:
    """VmHWM and VmRSS in MiB."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            out[key] = round(int(value.split()[0]) / 1024)
    return out


def _metric_sum(port: int, name: str) -> float:
    """Sum of a Prometheus sample over all its labels, from the operator's /metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text = r.read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(name) and line[len(name):len(name) + 1] in ("{", " "))  # fmt: skip


def _tree() -> str:
    """The operator code measured: HEAD, plus any uncommitted change under operator/."""
    import subprocess

    git = ["git", "-C", str(Path(__file__).resolve().parents[1])]
    head = subprocess.run(
        [*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run([*git, "status", "--porcelain", "--", "operator"], capture_output=True, text=True)
    changed = [line[3:] for line in dirty.stdout.splitlines()]
    return head + (f" + uncommitted {', '.join(changed)}" if changed else "")


class Audit:
    """Reads the apiserver's audit log from a byte offset on."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def offset(self) -> int:
        return self.path.stat().st_size if self.path.exists() else 0

    def operator_writes(self, start: int, end: int | None = None) -> list[dict[str, Any]]:
        with self.path.open("rb") as f:
            f.seek(start)
            data = f.read() if end is None else f.read(end - start)
        entries = []
        for line in data.splitlines():
            try:
                entries.append(json.loads(line))
            except ValueError:  # a line cut by an offset taken while the apiserver wrote it
                continue
        return [
            e
            for e in entries
            if e["user"]["username"] == ADMIN and e.get("userAgent", "").startswith(OPERATOR_AGENTS)
        ]

    def last_operator_write(self, start: int, end: int | None = None) -> float | None:
        """time.time() of the operator's last write between the offsets, None when none."""
        import datetime as dt

        entries = self.operator_writes(start, end)
        if not entries:
            return None
        return dt.datetime.fromisoformat(entries[-1]["stageTimestamp"].replace("Z", "+00:00")).timestamp()


def _paths(obj: Any, prefix: str = "", depth: int = 4) -> list[str]:
    if not isinstance(obj, dict) or depth == 0 or not obj:
        return [prefix]
    return [p for k, v in obj.items() for p in _paths(v, f"{prefix}.{k}" if prefix else k, depth - 1)]


def _summary(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Writes grouped by (agent, verb, resource[/subresource], fields sent)."""
    counts: Counter[tuple[str, str, str, str]] = Counter()
    for e in entries:
        ref = e.get("objectRef", {})
        resource = ref.get("resource", "?") + (f"/{ref['subresource']}" if ref.get("subresource") else "")
        fields = ",".join(sorted(set(_paths(e.get("requestObject") or {}))))
        code = e.get("responseStatus", {}).get("code", "?")
        counts[(e["userAgent"].split("/")[0], f"{e['verb']} → {code}", resource, fields[:400])] += 1
    return [
        {"agent": a, "verb": v, "resource": r, "fields": f, "count": n}
        for (a, v, r, f), n in counts.most_common()
    ]


def _by_kind(entries: list[dict[str, Any]]) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for e in entries:
        ref = e.get("objectRef", {})
        sub = f"/{ref['subresource']}" if ref.get("subresource") else ""
        code = e.get("responseStatus", {}).get("code", "?")
        agent = e["userAgent"].split("/")[0]
        counts[f"{agent}: {e['verb']} {ref.get('resource', '?')}{sub} → {code}"] += 1
    return dict(counts.most_common())


class Watcher:
    """First time each object is seen (time.monotonic()), from a watch in its own thread."""

    def __init__(self, new_api: Callable[[], client.ApiClient], stop: threading.Event) -> None:
        self.new_api, self.stop = new_api, stop
        self.seen: dict[tuple[str, str], float] = {}
        self.lock = threading.Lock()

    def watch(self, kind: str, list_fn: Callable[..., Any], on_event: Any = None, **kw: Any) -> None:
        threading.Thread(target=self._run, args=(kind, list_fn, on_event, kw), daemon=True).start()

    def _run(self, kind: str, list_fn: Callable[..., Any], on_event: Any, kw: dict[str, Any]) -> None:
        while not self.stop.is_set():
            try:
                for ev in watch.Watch().stream(list_fn, timeout_seconds=20, **kw):
                    now = time.monotonic()
                    obj = ev["object"]
                    meta = obj["metadata"] if isinstance(obj, dict) else obj.metadata
                    name = meta["name"] if isinstance(meta, dict) else meta.name
                    with self.lock:
                        self.seen.setdefault((kind, name), now)
                    if on_event:
                        on_event(ev["type"], obj)
                    if self.stop.is_set():
                        return
            except Exception:  # a broken stream is re-opened; the objects are re-listed
                self.stop.wait(0.2)

    def first(self, kind: str, name: str) -> float | None:
        with self.lock:
            return self.seen.get((kind, name))

    def match(self, kind: str, prefix: str) -> float | None:
        with self.lock:
            hits = [t for (k, n), t in self.seen.items() if k == kind and n.startswith(prefix)]
        return min(hits) if hits else None


class KubeletPlayer:
    """Plays oozo-local-0's kubelet for one namespace, driven by a pod watch: a scheduled index
    pod terminates with a result message, a scheduled server pod becomes Running and Ready."""

    def __init__(self, new_api: Callable[[], client.ApiClient], ns: str, watcher: Watcher) -> None:
        self.kubelet = Kubelet(client.CoreV1Api(new_api()))
        self.ns, self.done, self.actions = ns, set[str](), 0
        core = client.CoreV1Api(new_api())
        watcher.watch(f"pod/{ns}", core.list_namespaced_pod, self.on_pod, namespace=ns)

    def on_pod(self, _type: str, pod: Any) -> None:  # a V1Pod
        meta = pod.metadata
        if not pod.spec.node_name or pod.status.container_statuses or meta.deletion_timestamp:
            return
        if meta.uid in self.done:
            return
        self.done.add(meta.uid)
        component = (meta.labels or {}).get(COMPONENT)
        try:
            if component == "index":
                self.kubelet.terminate(self.ns, meta.name, 0, result(f"v-{meta.labels[INSTANCE]}"))
            elif component == "server":
                self.kubelet.run_ready(self.ns, meta.name)
            self.actions += 1
        except client.ApiException:
            self.done.discard(meta.uid)  # gone or conflicting: the next event retries


# -- the run ---------------------------------------------------------------------------------


class Bench:
    def __init__(self, plane: Any, tmp: Path) -> None:
        self.plane, self.tmp = plane, tmp
        self.stop = threading.Event()
        self.watcher = Watcher(self.api, self.stop)
        self.core = client.CoreV1Api(self.api())
        self.custom = client.CustomObjectsApi(self.api())
        self.audit = Audit(plane.audit_log)
        self.operator_start = self.audit.offset()

    def api(self) -> client.ApiClient:
        api = self.plane.api_client()
        api.user_agent = BENCH_AGENT
        return api

    def namespace(self, tag: str, names: list[str]) -> str:
        ns = f"bench-{tag}-{uuid.uuid4().hex[:5]}"
        self.core.create_namespace({"metadata": {"name": ns}})
        for name in names:
            docs_configmap(self.core, ns, f"{name}-docs")
            volume_for(self.core, ns, name)
        return ns

    def delete_namespaces(self, namespaces: list[str]) -> None:
        for ns in namespaces:
            self.core.delete_namespace(ns)
        for ns in namespaces:
            wait_for(f"namespace {ns} gone", lambda ns=ns: ns not in self._namespaces(), 180, every=1)
            self.core.delete_collection_persistent_volume(label_selector=f"oozo-test={ns}")

    def _namespaces(self) -> set[str]:
        return {n.metadata.name for n in self.core.list_namespace().items}

    def create_corpus(self, ns: str, name: str) -> float:
        began = time.monotonic()
        self.custom.create_namespaced_custom_object(
            GROUP, VERSION, ns, PLURAL, make_corpus(name, on_local_node, with_small_pods)
        )
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
            self.core.create_namespaced_config_map(ns, {"metadata": {"name": f"plain-{i:02d}"}})
            raw_rtt.append(time.monotonic() - t0)
            plain = f"plain-{i:02d}"
            at = wait_for(plain, lambda p=plain: self.watcher.first(f"ConfigMap/{ns}", p), 10, every=0.005)
            raw_seen.append(at - t0)
            began = self.create_corpus(ns, name)
            times = wait_for(
                f"children of {name}",
                lambda name=name: (t := [seen(k, name) for k in CHILDREN]) and all(t) and t,
                30,
                every=0.005,
            )
            for kind, t in zip(CHILDREN, times, strict=True):
                per_child[kind].append(t - began)
            total.append(max(times) - began)
        deployments = client.AppsV1Api(self.api()).list_namespaced_deployment(ns).items
        out = {
            "corpora": count,
            "allChildren": _ms(total),
            "perChild": {k: _ms(v) for k, v in per_child.items()},
            "plainConfigMapRoundTrip": _ms(raw_rtt),
            "plainConfigMapCreateToWatch": _ms(raw_seen),
            "deploymentsBeforeIndexResult": len(deployments),  # expected 0: no index pod finished
        }
        out["ratioP50"] = round(out["allChildren"]["p50_ms"] / out["plainConfigMapRoundTrip"]["p50_ms"], 1)
        return out, ns

    # 2. one corpus alone, then N at once, apply → Ready
    def solo(self) -> tuple[float, str]:
        ns = self.namespace("solo", ["solo"])
        KubeletPlayer(self.api, ns, self.watcher)
        ready = self.watch_ready(ns)
        time.sleep(1.5)
        began = self.create_corpus(ns, "solo")
        wait_for("solo corpus Ready", lambda: ready.get("solo"), 120, every=0.05)
        return ready["solo"] - began, ns

    def converge(self, count: int, timeout: float) -> dict[str, Any]:
        names = [f"c{i:03d}" for i in range(count)]
        ns = self.namespace("scale", names)
        player = KubeletPlayer(self.api, ns, self.watcher)
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
            "perCorpusToReady": {"p50_s": round(_pct(to_ready, 0.5), 1), "p95_s": round(_pct(to_ready, 0.95), 1)},  # noqa: E501
            "operatorWrites": len(writes),
            "operatorWritesPerCorpus": round(len(writes) / count, 1),
            "operatorWritesByKind": _by_kind(writes),
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
            "writesDetail": _summary(writes),
            "settleWritesDetail": _summary(settle_writes),
        }


@contextmanager
def _plane(tmp: Path) -> Iterator[Any]:
    from devcluster.controlplane.plane import ControlPlane

    policy = tmp / "audit-policy.yaml"
    policy.write_text(AUDIT_POLICY)
    plane = ControlPlane(tmp / "plane", audit_policy=policy)
    plane.start()
    try:
        yield plane
    finally:
        plane.stop()


def run(
    corpora: int = 100, sequential: int = 20, idle: float = 60.0, timeout: float = 420.0
) -> dict[str, Any]:
    tree = _tree()
    with tempfile.TemporaryDirectory(prefix="oozo-opbench-") as tmpdir, _plane(Path(tmpdir)) as plane:
        tmp = Path(tmpdir)
        install_crd(plane.env())
        bench = Bench(plane, tmp)
        operator = Operator(
            plane.env(),
            tmp,
            # the operator's production defaults, not the tests' shortcuts
            OOZO_JOB_BACKOFF_LIMIT="2",
            OOZO_SECRET_RECHECK_SECONDS="15",
        ).start()
        assert operator.proc is not None
        pid = operator.proc.pid
        try:
            wait_for("operator metrics", lambda: _up(operator.metrics_port), 60)
            time.sleep(5)  # kopf lists and opens its watches
            empty = _proc_status(pid)
            children, ns_apply = bench.children_latency(sequential)
            solo_seconds, ns_solo = bench.solo()
            bench.delete_namespaces([ns_apply, ns_solo])
            cpu0, passes0 = cpu_seconds(pid), _metric_sum(operator.metrics_port, "oozo_reconciles_total")
            scale = bench.converge(corpora, timeout)
            scale["operatorCpuSeconds"] = round(cpu_seconds(pid) - cpu0, 1)
            scale["reconcilePasses"] = int(
                _metric_sum(operator.metrics_port, "oozo_reconciles_total") - passes0
            )
            peak_after_converge = _proc_status(pid)
            quiet = bench.idle(idle)
            steady = _proc_status(pid)
            load = os.getloadavg()
        finally:
            bench.stop.set()
            operator.stop()
    return {
        "applyToChildren": children,
        "convergence": {
            **scale,
            "soloSeconds": round(solo_seconds, 1),
            "ratioToSolo": round(scale["seconds"] / solo_seconds, 1),
        },
        "memoryMiB": {
            "emptyRss": empty["VmRSS"],
            "peakHwm": steady["VmHWM"],
            "rssAfterConvergence": peak_after_converge["VmRSS"],
            "steadyRss": steady["VmRSS"],
            "perCorpusKiB": round((steady["VmRSS"] - empty["VmRSS"]) * 1024 / corpora, 1),
        },
        "idle": quiet,
        "loadAverage": [round(x, 2) for x in load],
        "operatorCode": tree,
        "cpus": os.cpu_count(),
    }


def markdown_rows(r: dict[str, Any]) -> list[str]:
    a, c, m, i = r["applyToChildren"], r["convergence"], r["memoryMiB"], r["idle"]
    child = a["allChildren"]
    raw = a["plainConfigMapRoundTrip"]
    return [
        "| operator benchmark | measured | baseline / target |",
        "|---|---|---|",
        f"| create RagCorpus → PVC, ConfigMap, Service and index Job all exist (before any index "
        f"result; no Deployment yet), {a['corpora']} corpora one after another "
        f"| p50 {child['p50_ms']} ms, p95 {child['p95_ms']} ms "
        f"| plain ConfigMap create round trip p50 {raw['p50_ms']} ms, p95 {raw['p95_ms']} ms: "
        f"**{a['ratioP50']}x** at p50 |",
        f"| {c['corpora']} RagCorpora created back to back → all Ready=True (test plays the kubelet) "
        f"| {c['seconds']} s (per corpus p50 {c['perCorpusToReady']['p50_s']} s, "
        f"p95 {c['perCorpusToReady']['p95_s']} s) "
        f"| one corpus alone {c['soloSeconds']} s: **{c['ratioToSolo']}x** |",
        f"| operator API writes to converge {c['corpora']} corpora (audit log) "
        f"| {c['operatorWrites']} ({c['operatorWritesPerCorpus']} per corpus), "
        f"{c['reconcilePasses']} reconcile passes, {c['operatorCpuSeconds']} s operator CPU | |",
        f"| operator memory with {c['corpora']} Ready corpora | steady VmRSS {m['steadyRss']} MiB, "
        f"peak VmHWM {m['peakHwm']} MiB | {m['emptyRss']} MiB watching none "
        f"(**{m['perCorpusKiB']} KiB** per corpus) |",
        f"| operator API writes while idle ({c['corpora']} Ready corpora, {i['windowSeconds']:.0f} s "
        f"window after {i['settleSeconds']} s of settling) | **{i['writesPerMinute']} / min** "
        f"| target 0 |",
        f"| operator code measured | {r['operatorCode']} | load average {r['loadAverage'][0]} "
        f"on {r['cpus']} CPUs |",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", type=int, default=100)
    parser.add_argument("--sequential", type=int, default=20)
    parser.add_argument("--idle", type=float, default=60.0)
    args = parser.parse_args()
    result_ = run(args.corpora, args.sequential, args.idle)
    print(json.dumps(result_, indent=2))
    print("\n".join(markdown_rows(result_)))


if __name__ == "__main__":
    main()

"""Measuring instruments of the operator benchmark: when a watch first saw each object,
percentiles, a process's memory from /proc, and sums of the operator's Prometheus samples."""

from __future__ import annotations

import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kubernetes import client, watch


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def ms(samples: list[float]) -> dict[str, float]:
    return {"p50_ms": round(pct(samples, 0.5) * 1000, 1), "p95_ms": round(pct(samples, 0.95) * 1000, 1)}


def metrics_up(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
            return bool(r.status == 200)
    except OSError:
        return False


def memory_mib(pid: int) -> dict[str, int]:
    """VmHWM and VmRSS in MiB."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            out[key] = round(int(value.split()[0]) / 1024)
    return out


def metric_sum(port: int, name: str) -> float:
    """Sum of a Prometheus sample over all its labels, from the operator's /metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text = r.read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(name) and line[len(name):len(name) + 1] in ("{", " "))  # fmt: skip


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

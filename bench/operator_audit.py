"""What the operator wrote, from the apiserver's audit log: the policy that records writes, and
readers that pick the operator's entries out of it.

The admin kubeconfig's user is shared by the operator and the benchmark, so the operator's two
clients are told apart by user agent: kopf's `kopf/VERSION` and the kubernetes client's
`OpenAPI-Generator/…`; the benchmark sets its own (BENCH_AGENT)."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from pathlib import Path
from typing import Any

BENCH_AGENT = "oozo-bench/1"
ADMIN = "oozo-admin"  # the admin kubeconfig's user: the operator and the benchmark share it
OPERATOR_AGENTS = ("kopf/", "OpenAPI-Generator/")  # kopf's aiohttp client, the kubernetes client
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
        entries = self.operator_writes(start, end)
        if not entries:
            return None
        return dt.datetime.fromisoformat(entries[-1]["stageTimestamp"].replace("Z", "+00:00")).timestamp()


def _paths(obj: Any, prefix: str = "", depth: int = 4) -> list[str]:
    if not isinstance(obj, dict) or depth == 0 or not obj:
        return [prefix]
    return [p for k, v in obj.items() for p in _paths(v, f"{prefix}.{k}" if prefix else k, depth - 1)]


def summary(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
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


def by_kind(entries: list[dict[str, Any]]) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for e in entries:
        ref = e.get("objectRef", {})
        sub = f"/{ref['subresource']}" if ref.get("subresource") else ""
        code = e.get("responseStatus", {}).get("code", "?")
        agent = e["userAgent"].split("/")[0]
        counts[f"{agent}: {e['verb']} {ref.get('resource', '?')}{sub} → {code}"] += 1
    return dict(counts.most_common())

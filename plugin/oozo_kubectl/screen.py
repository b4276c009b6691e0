"""The status, versions and query screens: rich renderables built purely from the summary dicts
(summary.py), so a unit test renders them into a recording console and reads the text."""

from __future__ import annotations

from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

# Colours by condition: Ready/IndexReady/BackupSucceeded are good when True, Stalled and
# Reconciling are good when False.
GOOD_WHEN_FALSE = {"Stalled", "Reconciling"}


def condition_style(ctype: str, status: str | None) -> str:
    if status == "Unknown" or status is None:
        return "yellow"
    good = (status == "False") if ctype in GOOD_WHEN_FALSE else (status == "True")
    return "green" if good else ("yellow" if ctype == "Reconciling" else "red")


def state_style(state: str) -> str:
    return {"Succeeded": "green", "Failed": "red", "Running": "cyan"}.get(state, "yellow")


def _kv(title: str, rows: list[tuple[str, Any]]) -> Table:
    table = Table(title=title, title_justify="left", title_style="bold", show_header=False, box=None)
    table.add_column(style="dim", no_wrap=True)
    table.add_column()
    for key, value in rows:
        table.add_row(
            key, value if isinstance(value, Text) else Text("-" if value in (None, "") else str(value))
        )
    return table


def conditions_table(conds: list[dict[str, Any]]) -> Table:
    table = Table(title="Conditions", title_justify="left", title_style="bold")
    for col in ("Type", "Status", "Reason", "Message", "Since"):
        table.add_column(col, overflow="fold")
    for c in conds:
        style = condition_style(c["type"], c.get("status"))
        table.add_row(
            c["type"],
            Text(str(c.get("status")), style=style),
            c.get("reason") or "",
            c.get("message") or "",
            c.get("lastTransitionTime") or "",
        )
    if not conds:
        table.add_row("-", Text("none yet", style="yellow"), "", "the operator has not written status", "")
    return table


def index_section(s: dict[str, Any]) -> Table:
    index = s.get("index") or {}
    building = s.get("building") or {}
    rows: list[tuple[str, Any]] = [
        ("Serving version", index.get("servingVersion") or index.get("version")),
        ("Newest version", index.get("version") if index.get("servingVersion") else None),
        ("Pinned version", s.get("pinnedVersion")),
        ("Available", ", ".join(a.get("version", "") for a in index.get("available") or []) or None),
        ("Built at", index.get("builtAt")),
        (
            "Documents / chunks",
            f"{index.get('documents', '-')} / {index.get('chunks', '-')}" if index else None,
        ),
        ("Embedding model", index.get("embeddingModel")),
        ("Vector index", vector_index_line(index.get("vectorIndex"))),
        ("Source revision", s.get("sourceRevision")),
    ]
    # the pin rows only while there is a pin: most corpora serve their newest version; the vector
    # index row only for a version whose build measured it
    optional = ("Newest version", "Pinned version", "Vector index")
    rows = [(k, v) for k, v in rows if v is not None or k not in optional]
    if building:
        rows.append(("Building", building.get("version") or building.get("job")))
    if index.get("restoredFrom"):
        rows.append(("Restored from", index["restoredFrom"]))
    return _kv("Index", rows)


def vector_index_line(facts: dict[str, Any] | None) -> str | None:
    """status.index.vectorIndex in one line: "hnsw, recall@10 0.9969, 110 MiB, 134 MiB per replica"."""
    if not facts:
        return None
    parts = [str(facts.get("type", "-"))]
    if facts.get("recallAt10") is not None:
        parts.append(f"recall@10 {facts['recallAt10']}")
    if facts.get("sizeBytes") is not None:
        parts.append(f"{facts['sizeBytes'] / 2**20:.0f} MiB")
    if facts.get("memoryBytes") is not None:
        parts.append(f"{facts['memoryBytes'] / 2**20:.0f} MiB per replica")
    return ", ".join(parts)


def build_section(build: dict[str, Any] | None) -> Table:
    if not build:
        return _kv("Last build", [("Job", "none yet")])
    rows: list[tuple[str, Any]] = [
        ("Job", build.get("job")),
        ("State", Text(build["state"], style=state_style(build["state"]))),
        ("Started", build.get("started")),
        ("Documents / chunks", f"{build.get('documents', '-')} / {build.get('chunks', '-')}"),
        ("Skipped", build.get("skippedDocuments")),
    ]
    for skipped in build.get("skipped") or []:
        rows.append(
            ("  skipped", Text(f"{skipped.get('document')}: {skipped.get('reason')}", style="yellow"))
        )
    return _kv("Last build", rows)


def backup_section(s: dict[str, Any]) -> Table:
    backup = s.get("lastBackup") or {}
    restore = s.get("restore")
    if not s.get("backupSchedule") and not backup and not restore:
        return _kv("Backup", [("Schedule", "no backup configured (spec.backup)")])
    rows: list[tuple[str, Any]] = [
        ("Schedule", s.get("backupSchedule")),
        ("Last backup", backup.get("time") or "none yet"),
        ("Version", backup.get("version")),
        ("Location", backup.get("uri")),
        ("sha256", backup.get("sha256")),
    ]
    for earlier in (s.get("backups") or [])[1:]:  # the first is the last backup, shown above
        size = "-" if earlier.get("sizeBytes") is None else f"{earlier['sizeBytes']} bytes"
        digest = str(earlier.get("sha256") or "-")[:16]
        rows.append(
            ("  earlier", f"{earlier.get('time')}  {earlier.get('version')}  {size}  sha256 {digest}")
        )
    rows.extend(drill_rows(s))
    if restore:
        rows.append(("Restored from", restore.get("restoredFrom") or "restore not finished"))
    return _kv("Backup and restore", rows)


def drill_rows(s: dict[str, Any]) -> list[tuple[str, Any]]:
    """The last restore drill (spec.backup.verify): its verdict, what it checked and asked."""
    drill = s.get("lastVerifiedBackup") or {}
    if not s.get("verifySchedule") and not drill:
        return []
    rows: list[tuple[str, Any]] = [("Restore drill", s.get("verifySchedule") or "not scheduled")]
    if not drill:
        return [*rows, ("Last verified", "no drill has run yet")]
    passed = drill.get("result") == "Verified"
    verdict = Text(f"{drill.get('result')} ({drill.get('reason')})", style="green" if passed else "red")
    rows += [("Last drill", drill.get("time")), ("  result", verdict)]
    if drill.get("version"):
        rows.append(("  backup", f"{drill.get('version')}  {drill.get('uri') or ''}".rstrip()))
    if drill.get("checksums") is not None:
        rows.append(("  checksums", f"{drill['checksums']} matched"))
    if drill.get("questions") is not None:
        rows.append(
            ("  answered", f"{drill.get('hits')} of {drill['questions']} {drill.get('mode') or ''}".rstrip())
        )
    if not passed:
        rows.append(("  why", Text(str(drill.get("message") or ""), style="red")))
    rows.append(("Last verified", drill.get("lastVerifiedTime") or "never passed"))
    return rows


def serving_section(s: dict[str, Any]) -> Table:
    ep, rep = s["endpoint"], s["replicas"]
    ready, desired = rep.get("ready") or 0, rep.get("desired")
    ready_style = "green" if desired and ready >= desired else "yellow"
    rows: list[tuple[str, Any]] = [
        ("Endpoint", ep.get("url")),
        (
            "Service",
            f"{ep.get('service') or '-'} {ep.get('clusterIP') or ''} {' '.join(ep.get('ports') or [])}",
        ),
        ("Replicas", Text(f"{ready}/{desired if desired is not None else '-'} ready", style=ready_style)),
    ]
    hpa = rep.get("autoscaling")
    if hpa:
        rows.append(
            (
                "Autoscaling",
                f"{hpa.get('minReplicas')}..{hpa.get('maxReplicas')} replicas, "
                f"current {hpa.get('currentReplicas')}, desired {hpa.get('desiredReplicas')}, "
                f"target CPU {hpa.get('targetCPUUtilizationPercentage')}%",
            )
        )
    return _kv("Serving", rows)


def events_table(events: list[dict[str, Any]]) -> Table:
    table = Table(title="Recent events", title_justify="left", title_style="bold")
    for col in ("Time", "Type", "Reason", "Message"):
        table.add_column(col, overflow="fold")
    for e in events:
        style = "yellow" if e.get("type") == "Warning" else ""
        table.add_row(e.get("time") or "", Text(e.get("type") or "", style=style), e.get("reason") or "",
                      e.get("message") or "")  # fmt: skip
    if not events:
        table.add_row("", "", "", "no events")
    return table


def status_screen(s: dict[str, Any]) -> RenderableType:
    ready = next((c for c in s["conditions"] if c["type"] == "Ready"), None)
    headline = Text.assemble(
        ("RagCorpus ", "bold"),
        (f"{s['namespace']}/{s['name']}", "bold cyan"),
        "  ",
        (
            "Ready" if ready and ready["status"] == "True" else "Not ready",
            condition_style("Ready", ready["status"] if ready else None),
        ),
        f"  generation {s.get('generation')} (observed {s.get('observedGeneration')})",
    )
    return Group(
        headline,
        conditions_table(s["conditions"]),
        index_section(s),
        build_section(s.get("lastBuild")),
        backup_section(s),
        serving_section(s),
        events_table(s["events"]),
    )


def versions_screen(v: dict[str, Any]) -> RenderableType:
    table = Table(title=f"Index versions of {v['name']}", title_justify="left", title_style="bold")
    for col in ("Role", "Version", "Built at", "Documents", "Chunks", "Job"):
        table.add_column(col, overflow="fold")
    for row in v["versions"]:
        role = row["role"]
        style = "red" if "not on the volume" in role else "green" if "serving" in role else "cyan"
        table.add_row(
            Text(role or "-", style=style if role else "dim"),
            str(row.get("version") or "-"),
            str(row.get("builtAt") or "-"),
            str(row.get("documents", "-")),
            str(row.get("chunks", "-")),
            str(row.get("job") or "-"),
        )
    if not v["versions"]:
        table.add_row("-", "no index published yet", "", "", "", "")
    return Group(table, Text(f"Note: {v['note']}.", style="dim"))


def answer_screen(result: dict[str, Any]) -> RenderableType:
    parts: list[RenderableType] = [Text(str(result.get("answer") or ""), style="bold")]
    if result.get("error"):
        parts.append(Text(f"error: {result['error']}", style="red"))
    sources = result.get("sources") or []
    if sources:
        table = Table(title="Sources", title_justify="left", title_style="bold")
        for col in ("#", "Document", "Chunk", "Score", "Text"):
            table.add_column(col, overflow="fold")
        for i, src in enumerate(sources, 1):
            score = src.get("score")
            table.add_row(
                str(i),
                str(src.get("document") or src.get("source") or ""),
                str(src.get("chunk", "")),
                f"{score:.3f}" if isinstance(score, int | float) else "",
                str(src.get("text") or "")[:300],
            )
        parts.append(table)
    return Group(*parts)

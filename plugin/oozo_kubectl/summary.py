"""What `status` and `versions` show, computed purely from the objects read from the API (plain
dicts in the API's JSON shape), so the same data prints as a screen or as JSON/YAML and the
unit tests need no cluster."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

RECENT_EVENTS = 10
VERSIONS_NOTE = (
    "status lists the serving version and the build in progress only; earlier versions kept on "
    "the index volume (spec.index.keepVersions) are not listed in status"
)
AVAILABLE_NOTE = (
    "`kubectl oozo rollback NAME [VERSION]` serves an earlier version (spec.index.pinnedVersion); "
    "`kubectl oozo rollback NAME --latest` returns to the newest"
)


@dataclass
class Observed:
    """The corpus and what the API says about its children."""

    corpus: dict[str, Any]
    deployment: dict[str, Any] | None = None
    service: dict[str, Any] | None = None
    hpa: dict[str, Any] | None = None
    index_jobs: list[dict[str, Any]] = field(default_factory=list)
    backup_cronjob: dict[str, Any] | None = None
    events: list[dict[str, Any]] = field(default_factory=list)


def job_state(job: dict[str, Any]) -> str:
    """Running, Succeeded or Failed, from the Job's conditions (Complete/Failed) and counts."""
    status = job.get("status") or {}
    for cond in status.get("conditions") or []:
        if cond.get("status") == "True" and cond.get("type") in ("Complete", "SuccessCriteriaMet"):
            return "Succeeded"
        if cond.get("status") == "True" and cond.get("type") in ("Failed", "FailureTarget"):
            return "Failed"
    return "Running" if status.get("active") else "Pending"


def event_time(event: dict[str, Any]) -> str:
    return str(
        event.get("lastTimestamp")
        or event.get("eventTime")
        or event.get("firstTimestamp")
        or event["metadata"].get("creationTimestamp")
        or ""
    )


def newest(objects: list[dict[str, Any]]) -> dict[str, Any] | None:
    return max(objects, key=lambda o: o["metadata"].get("creationTimestamp") or "", default=None)


def conditions(status: dict[str, Any]) -> list[dict[str, Any]]:
    keys = ("type", "status", "reason", "message", "lastTransitionTime")
    return [{k: c.get(k) for k in keys} for c in status.get("conditions") or []]


def last_build(obs: Observed) -> dict[str, Any] | None:
    """The newest index Job with its state, and the counts of the index it published (status.index
    when that Job built it, else status.building while it runs)."""
    status = obs.corpus.get("status") or {}
    job = newest(obs.index_jobs)
    if job is None and not status.get("index"):
        return None
    name = job["metadata"]["name"] if job else (status.get("index") or {}).get("job")
    counts: dict[str, Any] = {}
    for candidate in (status.get("index"), status.get("building")):
        if candidate and candidate.get("job") == name:
            counts = candidate
            break
    return {
        "job": name,
        "state": job_state(job) if job else "Gone",
        "started": job["metadata"].get("creationTimestamp") if job else None,
        "documents": counts.get("documents"),
        "chunks": counts.get("chunks"),
        "skippedDocuments": counts.get("skippedDocuments"),
        "skipped": counts.get("skipped") or [],
    }


def replicas(obs: Observed) -> dict[str, Any]:
    spec = (obs.corpus.get("spec") or {}).get("runtime") or {}
    dep = obs.deployment or {}
    out: dict[str, Any] = {
        "desired": (dep.get("spec") or {}).get("replicas", spec.get("replicas")),
        "ready": (dep.get("status") or {}).get("readyReplicas", 0),
        "autoscaling": None,
    }
    if obs.hpa:
        hpa_spec, hpa_status = obs.hpa.get("spec") or {}, obs.hpa.get("status") or {}
        target = next(
            (
                m["resource"]["target"].get("averageUtilization")
                for m in hpa_spec.get("metrics") or []
                if m.get("type") == "Resource" and m["resource"].get("name") == "cpu"
            ),
            None,
        )
        out["autoscaling"] = {
            "minReplicas": hpa_spec.get("minReplicas"),
            "maxReplicas": hpa_spec.get("maxReplicas"),
            "currentReplicas": hpa_status.get("currentReplicas"),
            "desiredReplicas": hpa_status.get("desiredReplicas"),
            "targetCPUUtilizationPercentage": target,
        }
    return out


def endpoint(obs: Observed) -> dict[str, Any]:
    status = obs.corpus.get("status") or {}
    svc = obs.service or {}
    return {
        "url": status.get("endpoint"),
        "service": (svc.get("metadata") or {}).get("name"),
        "clusterIP": (svc.get("spec") or {}).get("clusterIP"),
        "ports": [
            f"{p.get('name')}:{p.get('port')}/{p.get('protocol', 'TCP')}"
            for p in (svc.get("spec") or {}).get("ports") or []
        ],
    }


def restore(corpus: dict[str, Any]) -> dict[str, Any] | None:
    index = (corpus.get("status") or {}).get("index") or {}
    restore_spec = (corpus.get("spec") or {}).get("restore")
    if not restore_spec and not index.get("restoredFrom"):
        return None
    return {"restoredFrom": index.get("restoredFrom"), "job": index.get("job") if index else None}


def events(obs: Observed) -> list[dict[str, Any]]:
    return [
        {
            "time": event_time(e),
            "type": e.get("type"),
            "reason": e.get("reason"),
            "message": e.get("message"),
            "count": e.get("count"),
        }
        for e in obs.events[-RECENT_EVENTS:]
    ]


def status_summary(obs: Observed) -> dict[str, Any]:
    meta, status = obs.corpus["metadata"], obs.corpus.get("status") or {}
    return {
        "name": meta["name"],
        "namespace": meta.get("namespace"),
        "generation": meta.get("generation"),
        "observedGeneration": status.get("observedGeneration"),
        "conditions": conditions(status),
        "sourceRevision": status.get("sourceRevision"),
        "index": status.get("index"),
        "pinnedVersion": ((obs.corpus.get("spec") or {}).get("index") or {}).get("pinnedVersion"),
        "building": status.get("building"),
        "lastBuild": last_build(obs),
        "backupSchedule": (obs.backup_cronjob or {}).get("spec", {}).get("schedule"),
        "lastBackup": status.get("lastBackup"),
        "backups": status.get("backups") or [],
        "verifySchedule": ((((obs.corpus.get("spec") or {}).get("backup") or {}).get("verify")) or {}).get(
            "schedule"
        ),
        "lastVerifiedBackup": status.get("lastVerifiedBackup"),
        "restore": restore(obs.corpus),
        "endpoint": endpoint(obs),
        "replicas": replicas(obs),
        "events": events(obs),
    }


def versions_summary(corpus: dict[str, Any]) -> dict[str, Any]:
    """The index versions on the volume (status.index.available, newest first) with which one
    serves, which is the newest and which is pinned, and the build in progress. An operator older
    than pins lists none: then only the serving version and the build are known."""
    status = corpus.get("status") or {}
    index = status.get("index") or {}
    pinned = (((corpus.get("spec") or {}).get("index") or {}).get("pinnedVersion")) or None
    serving = index.get("servingVersion") or index.get("version")
    keys = ("version", "builtAt", "documents", "chunks", "embeddingModel", "job", "restoredFrom")
    rows: list[dict[str, Any]] = []
    available = index.get("available") or []
    if available:
        for entry in available:
            version = entry.get("version")
            # "newest" only when it does not serve: a corpus without a pin shows one "serving"
            newest = index.get("version") if index.get("version") != serving else None
            roles = [
                role
                for role, holds in (("serving", serving), ("newest", newest), ("pinned", pinned))
                if version == holds
            ]
            rows.append(
                {"role": ", ".join(roles), **{k: entry.get(k) for k in keys if entry.get(k) is not None}}
            )
        if pinned and pinned not in {e.get("version") for e in available}:
            rows.append({"role": "pinned (not on the volume)", "version": pinned})
    elif index:
        rows.append({"role": "serving", **{k: index.get(k) for k in keys if index.get(k) is not None}})
    building = status.get("building")
    if building:
        rows.append({"role": "building", **{k: building.get(k) for k in keys if building.get(k) is not None}})
    return {
        "name": corpus["metadata"]["name"],
        "versions": rows,
        "servingVersion": serving,
        "newestVersion": index.get("version"),
        "pinnedVersion": pinned,
        "keepVersions": ((corpus.get("spec") or {}).get("index") or {}).get("keepVersions"),
        "note": AVAILABLE_NOTE if available else VERSIONS_NOTE,
    }


def is_true(summary: dict[str, Any], condition: str) -> bool:
    return any(c["type"] == condition and c["status"] == "True" for c in summary["conditions"])

"""The alerts the chart ships, unit-tested with `promtool test rules` (issue 17, alerts): for every
alert, series that make it fire (and it does, with the labels a receiver routes on) and series
of a healthy system that keep it quiet. Every alert carries a description and a runbook_url
that points at a section of docs/troubleshooting.md.

The firing case reads the ALERTS series instead of `exp_alerts`: promtool compares annotations
exactly, and the descriptions are prose a test should not have to copy."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.controlplane.test_chart import ROOT, VALUE_SETS, render

TEAM = 'namespace="team",name="docs"'
TROUBLESHOOTING = ROOT / "docs" / "troubleshooting.md"


@dataclass(frozen=True)
class AlertCase:
    alert: str
    firing: dict[str, str]  # series → promtool values, which make the alert fire at `at`
    quiet: dict[str, str]  # a healthy system's series: the alert neither fires nor is pending
    at: str  # eval time
    labels: str  # the firing alert's labels besides alertname, alertstate and severity
    severity: str = "warning"


def condition(kind: str, status: str) -> str:
    return f'oozo_corpus_condition{{{TEAM},condition="{kind}",status="{status}"}}'


def condition_case(alert: str, kind: str, bad: str, good: str, at: str) -> AlertCase:
    return AlertCase(
        alert,
        firing={condition(kind, bad): "1x120", condition(kind, good): "0x120"},
        quiet={condition(kind, bad): "0x120", condition(kind, good): "1x120"},
        at=at,
        labels=f'{TEAM},condition="{kind}",status="{bad}"',
    )


BUCKET = 'rag_request_duration_seconds_bucket{namespace="team",pod="docs-1",le="%s"}'
REQUESTS = 'rag_requests_total{namespace="team",status="%s"}'
RUNTIME_UP = 'up{job="oozo-system/oozo-runtime",namespace="team",pod="docs-1"}'
CASES = [
    AlertCase(
        "HighResponseTime",
        firing={BUCKET % "1": "0x20", BUCKET % "5": "0+60x20", BUCKET % "+Inf": "0+60x20"},
        quiet={BUCKET % "1": "0+60x20", BUCKET % "5": "0+60x20", BUCKET % "+Inf": "0+60x20"},
        at="15m",
        labels='namespace="team",pod="docs-1"',
    ),
    AlertCase(
        "HighErrorRate",
        firing={REQUESTS % "500": "0+30x20", REQUESTS % "200": "0+30x20"},
        quiet={REQUESTS % "500": "0x20", REQUESTS % "200": "0+30x20"},
        at="15m",
        labels='namespace="team"',
        severity="critical",
    ),
    AlertCase(
        "ServiceDown",
        firing={RUNTIME_UP: "0x10"},
        quiet={RUNTIME_UP: "1x10"},
        at="5m",
        labels='job="oozo-system/oozo-runtime",namespace="team",pod="docs-1"',
        severity="critical",
    ),
    AlertCase(
        "OozoOperatorDown",
        firing={'up{job="oozo-metrics",pod="oozo-operator-1"}': "0x20"},
        quiet={'up{job="oozo-metrics",pod="oozo-operator-1"}': "1x20"},
        at="10m",
        labels="",  # absent() of a filtered vector has no labels to give
        severity="critical",
    ),
    AlertCase(
        "OozoReconcileErrors",
        firing={'oozo_reconcile_errors_total{error="ApiException"}': "0+1x40"},
        quiet={'oozo_reconcile_errors_total{error="ApiException"}': "3x40"},
        at="30m",
        labels="",
    ),
    condition_case("OozoCorpusNotReady", "Ready", "False", "True", at="40m"),
    AlertCase(  # Unknown is not Ready either (a condition never says "false")
        "OozoCorpusNotReady",
        firing={condition("Ready", "Unknown"): "1x60"},
        quiet={condition("Ready", "Unknown"): "0x60", condition("Ready", "True"): "1x60"},
        at="40m",
        labels=f'{TEAM},condition="Ready",status="Unknown"',
    ),
    condition_case("OozoCorpusStalled", "Stalled", "True", "False", at="15m"),
    condition_case("OozoBackupFailed", "BackupSucceeded", "False", "True", at="10m"),
    AlertCase(  # the last restore drill failed; a passing one, or a corpus without drills, is quiet
        "OozoBackupVerifyFailed",
        firing={f"oozo_backup_verified{{{TEAM}}}": "1x5 0x20"},
        quiet={f"oozo_backup_verified{{{TEAM}}}": "0x3 1x20"},
        at="15m",
        labels=TEAM,
    ),
    AlertCase(  # an hourly refresh whose last success was at time 0: stale after two hours
        "OozoIndexStale",
        firing={
            f"oozo_index_last_success_timestamp_seconds{{{TEAM}}}": "0x300",
            f"oozo_refresh_interval_seconds{{{TEAM}}}": "3600x300",
        },
        quiet={  # refreshed every minute; and a corpus without spec.refresh is never stale
            f"oozo_index_last_success_timestamp_seconds{{{TEAM}}}": "0+60x300",
            f"oozo_refresh_interval_seconds{{{TEAM}}}": "3600x300",
            'oozo_index_last_success_timestamp_seconds{namespace="team",name="static"}': "0x300",
        },
        at="3h",
        labels=TEAM,
    ),
]
IDS = [f"{c.alert}-{i}" for i, c in enumerate(CASES)]


@pytest.fixture(scope="module")
def promtool() -> str:
    return subprocess.run(
        ["bash", str(ROOT / "hack/tools/promtool.sh")], check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.fixture(scope="module")
def rule_groups() -> dict[str, Any]:
    helm = subprocess.run(
        ["bash", str(ROOT / "hack/tools/helm.sh")], check=True, capture_output=True, text=True
    ).stdout.strip()
    docs = render(helm, *VALUE_SETS["monitoring"])
    (rule,) = [d for d in docs if d["kind"] == "PrometheusRule"]
    return dict(rule["spec"])


def run_promtool(promtool: str, tmp_path: Path, groups: dict[str, Any], test: dict[str, Any]) -> None:
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(groups))
    tests = {"rule_files": ["rules.yaml"], "evaluation_interval": "1m", "tests": [test]}
    (tmp_path / "tests.yaml").write_text(yaml.safe_dump(tests))
    run = subprocess.run(
        [promtool, "test", "rules", "tests.yaml"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stdout + run.stderr


def series(values: dict[str, str]) -> list[dict[str, str]]:
    return [{"series": s, "values": v} for s, v in values.items()]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_the_alert_fires(case: AlertCase, promtool: str, rule_groups: dict[str, Any], tmp_path: Path) -> None:
    parts = (f'alertname="{case.alert}",alertstate="firing"', case.labels, f'severity="{case.severity}"')
    labels = ",".join(part for part in parts if part)
    test = {
        "interval": "1m",
        "input_series": series(case.firing),
        "promql_expr_test": [
            {
                "expr": f'ALERTS{{alertname="{case.alert}",alertstate="firing"}}',
                "eval_time": case.at,
                "exp_samples": [{"labels": f"ALERTS{{{labels}}}", "value": 1}],
            }
        ],
    }
    run_promtool(promtool, tmp_path, rule_groups, test)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_the_alert_stays_quiet_on_a_healthy_system(
    case: AlertCase, promtool: str, rule_groups: dict[str, Any], tmp_path: Path
) -> None:
    test = {
        "interval": "1m",
        "input_series": series(case.quiet),
        "promql_expr_test": [
            {"expr": f'ALERTS{{alertname="{case.alert}"}}', "eval_time": case.at, "exp_samples": []}
        ],
    }
    run_promtool(promtool, tmp_path, rule_groups, test)


def anchors(markdown: str) -> set[str]:
    """GitHub's heading anchors: lowercase, punctuation dropped, spaces to dashes."""
    headings = re.findall(r"^#+\s+(.+)$", markdown, flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def test_every_alert_is_tested_and_has_a_description_and_a_runbook_section(
    rule_groups: dict[str, Any],
) -> None:
    rules = [r for g in rule_groups["groups"] for r in g["rules"] if "alert" in r]
    assert {r["alert"] for r in rules} == {c.alert for c in CASES}
    sections = anchors(TROUBLESHOOTING.read_text())
    for rule in rules:
        notes = rule["annotations"]
        assert len(notes.get("description", "")) > 40, rule["alert"]
        url, _, anchor = notes["runbook_url"].partition("#")
        assert url.endswith("docs/troubleshooting.md") and anchor in sections, (rule["alert"], anchor)

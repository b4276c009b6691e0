"""`ControlPlane(audit_policy=...)` makes the apiserver write an audit log (JSON lines) of what the
policy selects; without it the apiserver has no audit flags at all."""

from __future__ import annotations

import json
from pathlib import Path

from kubernetes import client

from devcluster.controlplane import components
from devcluster.controlplane.plane import ControlPlane

POLICY = """\
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: Metadata
    users: [oozo-admin]
    verbs: [create]
    resources: [{group: "", resources: [configmaps]}]
  - level: None
"""


def test_no_audit_flags_by_default(tmp_path: Path) -> None:
    at = components.Layout(tmp_path / "bin", tmp_path, components.Ports(1, 2, 3, 4, 5, 6))
    assert not [a for a in components.kube_apiserver(at) if a.startswith("--audit")]
    assert f"--audit-log-path={components.audit_log(at)}" in components.kube_apiserver(
        at, tmp_path / "p.yaml"
    )


def test_audit_log_records_writes_with_user_agent(tmp_path: Path) -> None:
    policy = tmp_path / "audit-policy.yaml"
    policy.write_text(POLICY)
    plane = ControlPlane(tmp_path / "plane", audit_policy=policy)
    plane.start()
    try:
        with plane.api_client() as api:
            api.user_agent = "audit-test/1"
            client.CoreV1Api(api).create_namespaced_config_map(
                "default", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="audited"), data={"k": "v"})
            )
        assert plane.audit_log is not None
        entries = [json.loads(line) for line in plane.audit_log.read_text().splitlines()]
    finally:
        plane.stop()
    mine = [e for e in entries if e["objectRef"].get("name") == "audited"]
    assert len(mine) == 1, entries
    assert mine[0]["verb"] == "create"
    assert mine[0]["userAgent"] == "audit-test/1"
    assert mine[0]["user"]["username"] == "oozo-admin"
    assert mine[0]["responseStatus"]["code"] == 201
    assert {e["objectRef"]["resource"] for e in entries} == {"configmaps"}  # the policy's selection

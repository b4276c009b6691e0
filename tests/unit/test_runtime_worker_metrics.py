"""The folder several server workers write their metrics to: emptied when `oozo serve` starts
(a pod's /tmp outlives a container restart, and the new parent has the old one's pid), named in
the environment before prometheus_client is imported, left alone with one worker, and removed
with only the files prometheus_client wrote in it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from oozo_runtime.server import worker_metrics

PROBE = """
import json, os, sys
from oozo_runtime.server import worker_metrics
stale = worker_metrics.folder_for(os.getpid())
stale.mkdir()
(stale / "counter_1.db").write_bytes(b"a dead worker's counts")
(stale / "notes.txt").write_text("not ours")
one = worker_metrics.prepare(1)
env_after_one = worker_metrics.ENV in os.environ
folder = worker_metrics.prepare(2)
import prometheus_client.values as values
print(json.dumps({
    "one": one is None and not env_after_one,
    "folder": str(folder) == os.environ[worker_metrics.ENV] == str(stale),
    "left": sorted(p.name for p in stale.iterdir()),
    "multiprocess": values.ValueClass is not values.MutexValue,  # values go to files
}))
"""


def test_a_restarted_server_starts_its_worker_metrics_from_an_empty_folder(tmp_path: Path) -> None:
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    env.pop(worker_metrics.ENV, None)
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result == {"one": True, "folder": True, "left": ["notes.txt"], "multiprocess": True}


def test_removing_the_folder_leaves_what_prometheus_client_did_not_write(tmp_path: Path) -> None:
    ours = tmp_path / "oozo-metrics-7"
    ours.mkdir()
    (ours / "histogram_12.db").write_bytes(b"x")
    worker_metrics.remove(ours)
    assert not ours.exists()
    kept = tmp_path / "oozo-metrics-8"
    kept.mkdir()
    (kept / "gauge_livesum_13.db").write_bytes(b"x")
    (kept / "someone-elses.txt").write_text("kept")
    worker_metrics.remove(kept)
    assert [p.name for p in kept.iterdir()] == ["someone-elses.txt"]


def test_preparing_after_prometheus_client_was_imported_is_refused() -> None:
    probe = (
        "import prometheus_client\n"
        "from oozo_runtime.server import worker_metrics\n"
        "try:\n    worker_metrics.prepare(2)\nexcept RuntimeError as exc:\n    print('refused:', exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("refused: worker metrics must be prepared before prometheus_client")

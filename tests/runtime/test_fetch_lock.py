"""Two fetches of the same state folder never interleave (the index Job and the refresh CronJob
can overlap): every `oozo fetch` holds STATE_DIR/fetch.lock; a second one waits, and fails with
SourceBusy when the first holds it longer than OOZO_LOCK_WAIT_SECONDS. Real processes, real files."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from oozo_runtime.sources.sync import LOCK_FILE
from tests.s3.helpers import OOZO, oozo

HOLD_LOCK = """
import sys
from pathlib import Path
from oozo_runtime.sources.sync import fetch_lock
with fetch_lock(Path(sys.argv[1]), 0):
    print("held", flush=True)
    sys.stdin.read()  # until the test closes stdin
"""


@pytest.fixture
def source(tmp_path: Path) -> Path:
    folder = tmp_path / "handbook"
    folder.mkdir()
    (folder / "leave.md").write_text("# Leave\n\n27 days a year.\n")
    return folder


@pytest.fixture
def lock_holder(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the state folder's fetch lock until its stdin is closed."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(tmp_path / "state")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    try:
        yield holder
    finally:
        if holder.poll() is None:
            holder.kill()
        holder.wait()


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "OOZO_"))}
    return {**env, **extra}


def _has_open(pid: int, path: Path) -> bool:
    fds = Path(f"/proc/{pid}/fd")
    try:
        return any(os.readlink(fd) == str(path) for fd in fds.iterdir())
    except OSError:  # an fd closed while we looked
        return False


def test_a_second_fetch_waits_for_the_first_and_then_fetches(
    source: Path, tmp_path: Path, lock_holder: subprocess.Popen[str]
) -> None:
    into, state = tmp_path / "files", tmp_path / "state"
    second = subprocess.Popen(
        [str(OOZO), "fetch", str(source), "--into", str(into), "--state-dir", str(state)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(OOZO_LOCK_WAIT_SECONDS="120"),
    )
    try:
        deadline = time.monotonic() + 60
        while not _has_open(second.pid, state / LOCK_FILE):  # it reached the lock
            assert second.poll() is None, second.communicate()
            assert time.monotonic() < deadline, "the second fetch never opened the lock file"
            time.sleep(0.05)
        time.sleep(0.5)  # left alone, it would copy the folder now
        assert second.poll() is None
        assert not into.exists()

        assert lock_holder.stdin is not None
        lock_holder.stdin.close()  # the first fetch ends
        _out, err = second.communicate(timeout=60)
    finally:
        if second.poll() is None:
            second.kill()
    assert second.returncode == 0, err
    assert (into / "leave.md").read_text() == "# Leave\n\n27 days a year.\n"


def test_a_fetch_that_waits_too_long_fails_with_source_busy_and_writes_nothing(
    source: Path, tmp_path: Path, lock_holder: subprocess.Popen[str]
) -> None:
    into, state = tmp_path / "files", tmp_path / "state"
    run = oozo(
        "fetch",
        str(source),
        "--into",
        str(into),
        "--state-dir",
        str(state),
        env={"OOZO_LOCK_WAIT_SECONDS": "0.5"},
    )
    assert run.code == 1
    assert run.error["reason"] == "SourceBusy"
    assert "fetch.lock" in run.error["error"]
    assert not into.exists()
    assert not (state / "fetch-state.json").exists()

"""The `oozo` entry point: help and version work, and stay light (no torch, no operator)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from oozo_runtime import __version__
from oozo_runtime.cli import app


def test_version_prints_the_package_version() -> None:
    result = CliRunner().invoke(app, ["version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == __version__


def test_help_lists_the_commands() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("version", "index", "serve", "query", "backup", "restore"):
        assert command in result.stdout
    assert "operator" not in result.stdout  # the operator's own entry point is `oozo-operator`


def test_help_imports_neither_torch_nor_faiss_nor_kopf_nor_the_operator() -> None:
    probe = (
        "import sys; from typer.testing import CliRunner; from oozo_runtime.cli import app; "
        "CliRunner().invoke(app, ['--help']); "
        "print(','.join(m for m in ('torch', 'faiss', 'kopf', 'sentence_transformers', 'oozo_operator') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


@pytest.mark.parametrize(
    ("args", "missing"),
    [(["backup", "--keep-last", "3"], "--to (OOZO_BACKUP_URI)"), (["restore"], "--from (OOZO_RESTORE_URI)")],
)
def test_backup_and_restore_name_a_missing_flag_and_exit_2(
    args: list[str], missing: str, tmp_path: Path
) -> None:
    env = {"OOZO_BACKUP_URI": None, "OOZO_RESTORE_URI": None, "OOZO_TERMINATION_MESSAGE_PATH": None}
    result = CliRunner(env=env).invoke(app, [*args, "--index", str(tmp_path)])
    assert result.exit_code == 2
    error = json.loads(result.stderr.strip().splitlines()[-1])
    assert error["reason"] == "InvalidSettings" and missing in error["error"]

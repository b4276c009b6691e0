"""`oozo-operator`, the operator image's entry point: its flags, and the promise that the whole
operator loads without the runtime's ML stack (the image has no torch, FAISS or models)."""

from __future__ import annotations

import subprocess
import sys

from typer.testing import CliRunner

from oozo_operator.cli import app

ML_STACK = ("torch", "faiss", "sentence_transformers", "transformers")


def test_help_lists_the_operator_flags() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    for flag in ("--namespace", "--liveness-port", "--metrics-port"):
        assert flag in result.stdout


def test_the_operator_and_all_it_imports_load_without_the_ml_stack() -> None:
    # oozo_operator.main is what the entry point runs: it pulls in kopf, the handlers, the
    # reconciler, every renderer and the settings contract
    probe = (
        "import sys, oozo_operator.cli, oozo_operator.main; "
        f"print(','.join(m for m in {ML_STACK!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""

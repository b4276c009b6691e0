"""docs/kubectl-plugin.md's install check, `kubectl oozo --help`, read from the page and run by
bash with the real kubectl: kubectl finds the `kubectl-oozo` script the `kubectl` extra installs
(here the checkout's .venv/bin, first on PATH as after `pipx install`) and runs it."""

from __future__ import annotations

from pathlib import Path

from tests.doc_commands import documented, reader_checkout, shell


def test_kubectl_finds_the_plugin_and_it_lists_its_commands(tmp_path: Path) -> None:
    command = documented("docs/kubectl-plugin.md", startswith="kubectl oozo --help")
    done = shell(command, tmp_path, {**reader_checkout(tmp_path), "HOME": str(tmp_path)}, timeout=60)
    assert done.returncode == 0, done.stderr
    for subcommand in ("status", "query", "reindex", "backup", "versions", "rollback", "logs", "report"):
        assert subcommand in done.stdout, done.stdout

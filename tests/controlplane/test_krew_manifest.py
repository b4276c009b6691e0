"""`kubectl oozo` through krew: plugin/krew/oozo.yaml matches the archives hack/krew_archives.py
builds from uv.lock, krew's own validator (validate-krew-manifest, built from the Go module proxy
by hack/tools/krew.sh) installs it for every platform, and the plugin krew installs from the
archive, as docs/kubectl-plugin.md says, answers against the real API server with no package
installed beside it."""

from __future__ import annotations

import functools
import hashlib
import http.server
import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devcluster.ragcorpus import install_crd
from hack.krew_archives import MANIFEST, OUT, PLATFORMS, ROOT, archive_name, manifest
from tests.doc_commands import documented, shell

Archives = tuple[Path, dict[tuple[str, str], str]]  # the folder of the archives, and their sha256s


@pytest.fixture(scope="module")
def krew_tools() -> Path:
    script = str(ROOT / "hack/tools/krew.sh")
    return Path(subprocess.run(["bash", script], check=True, capture_output=True, text=True).stdout.strip())


@pytest.fixture(scope="module")
def archives() -> Archives:
    """Built by docs/kubectl-plugin.md's command, where it puts them (dist/ is not committed).
    The command also rewrites plugin/krew/oozo.yaml; the committed text is put back, so the
    staleness test compares what is committed with what the archives need."""
    committed = MANIFEST.read_text()
    build = documented("docs/kubectl-plugin.md", startswith=".venv/bin/python -m hack.krew_archives")
    try:
        shell(build, cwd=ROOT, timeout=900)
    finally:
        MANIFEST.write_text(committed)
    shas = {key: hashlib.sha256((OUT / archive_name(*key)).read_bytes()).hexdigest() for key in PLATFORMS}
    return OUT, shas


@pytest.fixture
def archive_server(archives: Archives) -> Iterator[str]:
    """The archives over HTTP on loopback, where a release would publish them."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(archives[0]))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_manifest_pins_the_archives_built_from_the_lock(archives: Archives) -> None:
    _, shas = archives
    assert MANIFEST.read_text() == manifest(shas), (
        "plugin/krew/oozo.yaml is stale: run `.venv/bin/python -m hack.krew_archives`"
    )


def test_krew_validator_installs_the_manifest_on_every_platform(
    archives: Archives, archive_server: str, krew_tools: Path, tmp_path: Path
) -> None:
    # the committed manifest with only the archives' address moved to loopback; the validator
    # wants the file named after the plugin
    local = tmp_path / "oozo.yaml"
    local.write_text(manifest(archives[1], base_url=archive_server))
    assert local.read_text().replace(archive_server, "") == MANIFEST.read_text().replace(
        "https://github.com/oozo-dev/oozo/releases/download/v0.1.0", ""
    )
    done = subprocess.run(
        [str(krew_tools / "validate-krew-manifest"), "-manifest", str(local)],
        env={**os.environ, "PATH": f"{krew_tools}:{os.environ['PATH']}"},  # kubectl finds kubectl-krew
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"all {len(PLATFORMS)} spec.platforms installed fine" in done.stdout + done.stderr


def test_plugin_installed_by_krew_from_the_archive_answers_the_api_server(
    archives: Archives, krew_tools: Path, control_plane: Any, tmp_path: Path
) -> None:
    install_crd(control_plane.env())  # so the API server answers about a corpus, not an unknown kind
    krew_root = tmp_path / "krew"
    env = {**control_plane.env(), "KREW_ROOT": str(krew_root), "PATH": f"{krew_tools}:{os.environ['PATH']}"}
    archive = (archives[0] / archive_name("linux", "amd64")).relative_to(ROOT)
    # docs/kubectl-plugin.md's command, from the checkout: the linux/amd64 archive it names
    command = documented("docs/kubectl-plugin.md", startswith="kubectl krew install")
    assert f"--archive={archive}" in command, command
    installed = subprocess.run(
        ["bash", "-c", command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    plugin = krew_root / "bin" / "kubectl-oozo"
    assert plugin.is_symlink() and (plugin.resolve().parent / "LICENSE").is_file()

    env["PATH"] = f"{krew_root / 'bin'}:{env['PATH']}"
    helped = subprocess.run(["kubectl", "oozo", "--help"], env=env, capture_output=True, text=True)
    assert helped.returncode == 0, helped.stderr
    assert "status" in helped.stdout and "rollback" in helped.stdout
    # python3 -S: no site-packages at all, so every import comes from the archive's lib/
    missing = subprocess.run(
        ["python3", "-S", str(plugin), "status", "no-such-corpus", "-n", "default"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert missing.returncode == 1, missing.stdout + missing.stderr
    assert 'ragcorpus "no-such-corpus" not found in namespace "default"' in missing.stderr, missing.stderr


def test_pipx_install_from_a_checkout_gives_kubectl_oozo(control_plane: Any, tmp_path: Path) -> None:
    """docs/kubectl-plugin.md's pipx line, run from the checkout into a pipx home of its own."""
    pipx = subprocess.run(
        ["bash", str(ROOT / "hack/tools/pipx.sh")], check=True, capture_output=True, text=True
    ).stdout.strip()
    bin_dir = tmp_path / "bin"
    env = {**control_plane.env(), "PIPX_HOME": str(tmp_path / "pipx"), "PIPX_BIN_DIR": str(bin_dir)}
    command = documented("docs/kubectl-plugin.md", startswith="pipx install")
    assert command.startswith("pipx "), command
    installed = subprocess.run(
        ["bash", "-c", pipx + command.removeprefix("pipx")],  # the pipx make tools installed
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    env["PATH"] = f"{bin_dir}:{env.get('PATH', os.environ['PATH'])}"
    helped = subprocess.run(["kubectl", "oozo", "--help"], env=env, capture_output=True, text=True)
    assert helped.returncode == 0 and "rollback" in helped.stdout, helped.stdout + helped.stderr

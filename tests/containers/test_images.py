"""The images `make images` builds run as the non-root user with a read-only root filesystem,
and carry what their Dockerfile promises (the runtime torch; the server no torch; the operator no
ML stack)."""

from __future__ import annotations

import subprocess

import pytest

from devcluster.containers.podman import Podman
from tests.containers.conftest import OPERATOR_IMAGE, RUNTIME_IMAGE, SERVER_IMAGE

# The first test of a session builds the images (hack/images/build.sh): on a fresh machine that
# installs podman, debootstraps the base and downloads the packages, longer than the default 600 s.
pytestmark = pytest.mark.timeout(1800)


def run(podman: Podman, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [podman.podman, "run", "--rm", "--read-only", "--read-only-tmpfs=false", *argv],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_server_image_runs_oozo_as_non_root_on_a_read_only_root(podman: Podman) -> None:
    done = run(podman, "--user", "65532:65532", SERVER_IMAGE, "--help")
    assert done.returncode == 0, done.stderr
    assert "serve" in done.stdout and "index" in done.stdout


def test_the_runtime_image_runs_oozo_with_torch_as_non_root_on_a_read_only_root(podman: Podman) -> None:
    """The issue's acceptance command: `podman run --rm oozo-runtime:dev oozo --help`, read-only."""
    done = run(podman, RUNTIME_IMAGE, "--help")
    assert done.returncode == 0, done.stderr
    assert "index" in done.stdout and "backup" in done.stdout and "restore" in done.stdout
    probe = "import importlib.util as u; print([m for m in ('torch', 'boto3') if u.find_spec(m)])"
    done = run(podman, "--entrypoint", "python3", RUNTIME_IMAGE, "-c", probe)
    assert done.returncode == 0 and done.stdout.strip() == "['torch', 'boto3']", done.stdout + done.stderr


def test_the_server_image_has_no_torch_but_its_query_stack(podman: Podman) -> None:
    probe = (
        "import importlib.util as u; "
        "print(' '.join(m for m in ('torch', 'sentence_transformers', 'transformers', 'onnxruntime', "
        "'faiss', 'fastapi', 'tokenizers') if u.find_spec(m)))"
    )
    done = run(podman, "--entrypoint", "python3", SERVER_IMAGE, "-c", probe)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["onnxruntime", "faiss", "fastapi", "tokenizers"]


def test_the_images_run_as_uid_65532_by_default(podman: Podman) -> None:
    for image in (SERVER_IMAGE, OPERATOR_IMAGE, RUNTIME_IMAGE):
        assert podman.image_user(image) == "65532:65532"
        done = run(podman, "--entrypoint", "id", image)
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("uid=65532(oozo) gid=65532(oozo)"), done.stdout


def test_the_operator_image_runs_its_command_without_the_ml_stack(podman: Podman) -> None:
    done = run(podman, OPERATOR_IMAGE, "--help")
    assert done.returncode == 0, done.stderr
    assert "oozo-operator" in done.stdout
    probe = "import importlib.util as u; print([m for m in ('torch', 'faiss', 'numpy') if u.find_spec(m)])"
    done = run(podman, "--entrypoint", "python3", OPERATOR_IMAGE, "-c", probe)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stdout + done.stderr

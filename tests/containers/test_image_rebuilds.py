"""A rebuild by `make images` (hack/images/build.sh) removes the image it replaced, so code changes
do not pile up untagged images (6.3 GB each for the indexer); it removes nothing else: not an
image a container still uses, not an image that another tag names. And a change that is not a
dependency (here the README) reuses the dependency layer instead of installing it again."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from devcluster.containers.podman import LABEL, Podman
from tests.containers.conftest import BASE_IMAGE
from tests.operator_support import REPO

# Rebuilds the operator image under a tag of its own (every layer from the session's build cache).
pytestmark = pytest.mark.timeout(900)


def image_id(podman: Podman, ref: str) -> str:
    done = subprocess.run(
        [podman.podman, "image", "inspect", "--format", "{{.Id}}", ref],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return done.stdout.strip() if done.returncode == 0 else ""


def stand_in(podman: Podman, ref: str, folder: Path) -> str:
    """An image under `ref` that the next build replaces: what an earlier build of other code left."""
    (folder / "Containerfile").write_text(f"FROM {BASE_IMAGE}\nLABEL oozo.test.stand-in={uuid.uuid4().hex}\n")
    subprocess.run(
        [podman.podman, "build", "--quiet", "-t", ref, str(folder)],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return image_id(podman, ref)


def rebuild(tag: str, repo: Path = REPO) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        ["bash", str(repo / "hack/images/build.sh")],
        env={**os.environ, "OOZO_IMAGES": "operator", "OOZO_IMAGE_TAG": tag},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done


@pytest.fixture
def tag(podman: Podman) -> Iterator[str]:
    name = f"rebuild-{uuid.uuid4().hex[:8]}"
    yield name
    subprocess.run(
        [podman.podman, "rmi", f"oozo-operator:{name}"], capture_output=True, timeout=120, check=False
    )


def test_a_rebuild_removes_the_image_it_replaced(podman: Podman, tag: str, tmp_path: Path) -> None:
    ref = f"oozo-operator:{tag}"
    replaced = stand_in(podman, ref, tmp_path)
    rebuild(tag)
    assert image_id(podman, ref) not in ("", replaced), "the tag names the image just built"
    assert image_id(podman, replaced) == "", "the replaced image is still there"
    assert image_id(podman, BASE_IMAGE), "its base (another tag) was removed"


def test_a_rebuild_keeps_a_replaced_image_that_a_container_uses(
    podman: Podman, tag: str, tmp_path: Path
) -> None:
    ref = f"oozo-operator:{tag}"
    replaced = stand_in(podman, ref, tmp_path)
    container = f"uses-{tag}"
    subprocess.run(
        [
            podman.podman,
            "create",
            "--name",
            container,
            "--label",
            f"{LABEL}={podman.owner}",
            replaced,
            "true",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    try:
        done = rebuild(tag)
        assert image_id(podman, replaced) == replaced, "an image in use was removed"
        assert f"kept the replaced image of {ref}" in done.stderr, done.stderr[-2000:]
    finally:
        podman.remove(container)
        subprocess.run([podman.podman, "rmi", replaced], capture_output=True, timeout=120, check=False)


def test_a_rebuild_keeps_a_replaced_image_that_another_tag_names(
    podman: Podman, tag: str, tmp_path: Path
) -> None:
    """An identical build under a second tag shares the first one's id (the README test below builds
    the operator from a copy of the repository): replacing one tag must not remove the other's image.
    A clean-clone CI run lost oozo-operator:dev that way."""
    ref, other = f"oozo-operator:{tag}", f"oozo-operator:{tag}-other"
    replaced = stand_in(podman, ref, tmp_path)
    subprocess.run([podman.podman, "tag", replaced, other], capture_output=True, timeout=60, check=True)
    try:
        rebuild(tag)
        assert image_id(podman, ref) not in ("", replaced), "the tag names the image just built"
        assert image_id(podman, other) == replaced, "the image another tag names was removed"
    finally:
        subprocess.run([podman.podman, "rmi", other], capture_output=True, timeout=120, check=False)


def copy_of_the_repository(into: Path) -> Path:
    """The tracked files as they are in the working tree: what `make images` would build."""
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True, timeout=60
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = REPO / name
        if source.is_file():
            target = into / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)  # with its mode: a script the build runs stays executable
    return into


def dependency_step(build_log: str) -> str:
    """The build's output from the `uv sync` step up to the next step."""
    steps = build_log.split("STEP ")
    synced = [step for step in steps if "uv sync --frozen" in step]
    assert synced, f"no `uv sync` step in the build:\n{build_log[-3000:]}"
    return synced[0]


def test_a_readme_change_reuses_the_dependency_layer(podman: Podman, tag: str, tmp_path: Path) -> None:
    repo = copy_of_the_repository(tmp_path / "repo")
    rebuild(tag, repo)
    readme = repo / "README.md"
    readme.write_text(readme.read_text() + f"\n<!-- {uuid.uuid4().hex} -->\n")
    done = rebuild(tag, repo)
    assert "Using cache" in dependency_step(done.stderr), dependency_step(done.stderr)[-2000:]
    assert image_id(podman, f"oozo-operator:{tag}"), "the image was not built"

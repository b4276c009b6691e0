"""Images in the real node's containerd (namespace k8s.io, the CRI's): imported from podman's
store or a docker-archive tar, under the name the kubelet asks for, never pulled. Each imported
image carries podman's image id as a label, so importing the same image again is skipped."""

from __future__ import annotations

import subprocess
from pathlib import Path

NAMESPACE = "k8s.io"
SOURCE_LABEL = "oozo.dev/podman-image-id"


class ImageError(RuntimeError):
    """podman or ctr failed; the message carries their words."""


def kubelet_reference(image: str) -> str:
    """The name the CRI looks an image up by: "oozo-server:dev" is docker.io/library/oozo-server:dev."""
    name = image if "/" in image else f"library/{image}"
    first = name.split("/", 1)[0]
    if "." not in first and ":" not in first and first != "localhost":
        name = f"docker.io/{name}"
    return name if ":" in name.rsplit("/", 1)[-1] or "@" in name else f"{name}:latest"


class Ctr:
    def __init__(self, socket: Path) -> None:
        self.socket = socket

    def run(self, *args: str, stdin: int | None = None, timeout: float = 600) -> str:
        done = subprocess.run(
            ["ctr", "--address", str(self.socket), "--namespace", NAMESPACE, *args],
            stdin=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise ImageError(f"ctr {' '.join(args[:2])} failed ({done.returncode}): {done.stderr.strip()}")
        return done.stdout

    def labels(self, reference: str) -> dict[str, str]:
        """The image's labels, or {} when containerd has no image of that name."""
        for line in self.run("images", "list", f"name=={reference}").splitlines()[1:]:
            labels = line.split()[-1]
            return dict(pair.split("=", 1) for pair in labels.split(",") if "=" in pair)
        return {}

    def import_archive(self, archive: Path, reference: str, archive_name: str) -> None:
        """Import a docker-archive tar whose image is tagged `archive_name`, named `reference`."""
        with archive.open("rb") as tar:
            self.run("images", "import", "-", stdin=tar.fileno())
        if archive_name != reference:
            self.run("images", "tag", "--force", archive_name, reference)

    def container_ids(self) -> list[str]:
        return self.run("containers", "list", "--quiet").split()

    def remove_every_container(self) -> None:
        """Kill and delete every task and container of the CRI namespace: what the kubelet left
        running in this node's own containerd when it was stopped."""
        for task in self.run("tasks", "list", "--quiet").split():
            subprocess.run(
                ["ctr", "--address", str(self.socket), "-n", NAMESPACE, "tasks", "delete", "--force", task],
                capture_output=True,
                check=False,
                timeout=60,
            )
        for container in self.container_ids():
            subprocess.run(
                ["ctr", "--address", str(self.socket), "-n", NAMESPACE, "containers", "delete", container],
                capture_output=True,
                check=False,
                timeout=60,
            )


def podman_image_id(podman: str, image: str) -> str:
    done = subprocess.run(
        [podman, "image", "inspect", "--format", "{{.Id}}", image],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise ImageError(f"podman has no image {image}: {done.stderr.strip()}")
    return done.stdout.strip()


def import_from_podman(ctr: Ctr, podman: str, image: str, scratch: Path) -> bool:
    """Put podman's `image` into the node's containerd under the kubelet's name for it; False when
    the same image (by podman's id) is already there."""
    reference = kubelet_reference(image)
    image_id = podman_image_id(podman, image)
    if ctr.labels(reference).get(SOURCE_LABEL) == image_id:
        return False
    archive = scratch / f"{image_id[:16]}.tar"
    try:
        saved = subprocess.run(
            [podman, "save", "--format", "docker-archive", "-o", str(archive), image],
            capture_output=True,
            text=True,
            check=False,
        )
        if saved.returncode != 0:
            raise ImageError(f"podman save {image} failed: {saved.stderr.strip()}")
        ctr.import_archive(archive, reference, archive_name=kubelet_reference(f"localhost/{image}"))
    finally:
        archive.unlink(missing_ok=True)
    ctr.run("images", "label", reference, f"{SOURCE_LABEL}={image_id}")
    return True

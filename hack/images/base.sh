#!/usr/bin/env bash
# Builds the local base image oozo-base:bookworm-py311 when no registry can be reached: Debian
# bookworm (debootstrap --variant=minbase) with Python 3.11 from Debian's own packages, imported
# into podman. The Dockerfiles take it as PYTHON_IMAGE in place of python:3.11-slim-bookworm.
# Skips the work when the image exists; prints the image name.
set -euo pipefail
image="${OOZO_BASE_IMAGE:-oozo-base:bookworm-py311}"
mirror="${OOZO_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
if podman image exists "$image"; then
  echo "$image"
  exit 0
fi
started=$SECONDS
rootfs="$(mktemp -d "${TMPDIR:-/tmp}/oozo-base-rootfs.XXXXXX")"
trap 'rm -rf --one-file-system "$rootfs"' EXIT
echo "building $image: debootstrap bookworm from $mirror (a few minutes, once)" >&2
# python3-venv gives `python3 -m venv`; ca-certificates lets the runtime reach HTTPS sources and S3.
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
  bookworm "$rootfs" "$mirror" >&2
# What a container never needs: downloaded .debs, apt lists, docs and man pages.
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
  "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/*
tar --numeric-owner -C "$rootfs" -c . \
  | podman import --change 'CMD ["/usr/bin/python3"]' --change 'ENV LANG=C.UTF-8' - "$image" >&2
echo "built $image in $((SECONDS - started)) s" >&2
echo "$image"

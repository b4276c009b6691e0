#!/usr/bin/env bash
# `make images`: builds Oozo's images with podman (Debian's podman, buildah and runc, installed and
# configured by hack/images/podman.sh) and prints their sizes.
#   oozo-operator:TAG   Dockerfile.operator
#   oozo-server:TAG     Dockerfile.runtime, OOZO_EXTRA=serve   (the query server; no torch)
#   oozo-indexer:TAG    Dockerfile.runtime, OOZO_EXTRA=runtime (index, backup, restore; torch),
#                       also tagged oozo-runtime:TAG
# The base is $PYTHON_IMAGE when set (e.g. python:3.11.10-slim-bookworm from a registry), else the
# local Debian base of hack/images/base.sh. Python packages come from the package index, pinned by
# uv.lock. Layers and uv's download cache are kept, so a second run rebuilds only what changed.
# OOZO_IMAGES picks a subset ("operator server"), OOZO_IMAGE_TAG the tag (default dev).
set -euo pipefail
cd "$(dirname "$0")/../.."
bash hack/images/podman.sh >/dev/null
tag="${OOZO_IMAGE_TAG:-dev}"
base="${PYTHON_IMAGE:-$(bash hack/images/base.sh)}"
wanted="${OOZO_IMAGES:-operator server indexer}"
# The host's CA bundle reaches the build steps as a secret (hack/images/with-build-ca.sh), never a layer.
ca_bundle="${OOZO_BUILD_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"
ca_secret=()
if [ -s "$ca_bundle" ]; then ca_secret=(--secret "id=build-ca,src=$ca_bundle"); fi

image_id() { podman image inspect --format '{{.Id}}' "$1" 2>/dev/null || true; }

# The image a rebuild replaced is this script's own, now untagged: remove it, or every code change
# would leave one more (6.3 GB for the indexer) until the disk is full. Only when no tag names it
# any more: an identical build under another tag (oozo-operator:dev built again as :test) shares
# its id, and `podman rmi ID` would remove that other tag's image too. Podman refuses to remove
# one that a container still uses, and it stays.
drop_replaced() {
  local ref="$1" before="$2"
  if [ -n "$before" ] && [ "$before" != "$(image_id "$ref")" ]; then
    if [ "$(podman image inspect --format '{{len .RepoTags}}' "$before" 2>/dev/null || true)" != "0" ]; then
      return 0
    fi
    podman rmi "$before" >/dev/null 2>&1 || echo "kept the replaced image of $ref (${before:0:12}): still in use" >&2
  fi
}

build() {
  local name="$1" dockerfile="$2"
  shift 2
  local started=$SECONDS
  echo "building $name:$tag from $dockerfile on $base" >&2
  podman build --layers --network=host --build-arg "PYTHON_IMAGE=$base" "${ca_secret[@]}" "$@" \
    -f "$dockerfile" -t "$name:$tag" . >&2
  echo "built $name:$tag in $((SECONDS - started)) s" >&2
}

# The indexer's build stage holds torch with its CUDA libraries (about 6.7 GB), and buildah copies
# it once more while it commits the final image's `COPY --from` layer: a rebuild here needed about
# 21 GB free at its peak. Say so before a build that would die of "no space left on device".
INDEXER_BUILD_GB=21
warn_if_short_of_disk() {
  local free_gb
  free_gb="$(df -P -BG /var/lib/containers 2>/dev/null | awk 'NR==2 {print int($4)}')"
  if [ -n "$free_gb" ] && [ "$free_gb" -lt "$INDEXER_BUILD_GB" ]; then
    echo "warning: building oozo-indexer needs about $INDEXER_BUILD_GB GB free under /var/lib/containers" \
      "and /var/tmp; $free_gb GB are free (podman image prune removes unused build layers)" >&2
  fi
}

for image in $wanted; do
  case "$image" in
    operator)
      before="$(image_id "oozo-operator:$tag")"
      build oozo-operator Dockerfile.operator
      drop_replaced "oozo-operator:$tag" "$before"
      ;;
    server)
      before="$(image_id "oozo-server:$tag")"
      build oozo-server Dockerfile.runtime --build-arg OOZO_EXTRA=serve
      drop_replaced "oozo-server:$tag" "$before"
      ;;
    indexer)
      # The previous indexer goes first, not after: its 6.7 GB `COPY --from` layer is of no use to
      # a rebuild of changed code, and keeping it while buildah commits the new one is what ran
      # the disk out here. Only our two tags of it; podman refuses it while a container uses it.
      before="$(image_id "oozo-indexer:$tag")"
      if [ -n "$before" ]; then
        podman rmi "oozo-indexer:$tag" "oozo-runtime:$tag" >/dev/null 2>&1 \
          || echo "kept the previous oozo-indexer:$tag (${before:0:12}): still in use" >&2
      fi
      warn_if_short_of_disk
      build oozo-indexer Dockerfile.runtime --build-arg OOZO_EXTRA=runtime
      podman tag "oozo-indexer:$tag" "oozo-runtime:$tag"
      ;;
    *) echo "unknown image '$image' in OOZO_IMAGES (operator, server, indexer)" >&2; exit 2 ;;
  esac
done
podman images --filter "reference=localhost/oozo-*" --format '{{.Repository}}:{{.Tag}}  {{.Size}}'

#!/usr/bin/env bash
# kind e2e for users with kind: create a kind cluster, load the images `make images` built, install
# the chart, run the e2e tier against it. With a Docker engine kind uses it; without one, podman
# (kind's podman provider). Not run in CI on these machines (kind's node image needs a registry).
set -euo pipefail
cd "$(dirname "$0")/.."
cluster="${KIND_CLUSTER:-oozo}"
tag="${OOZO_IMAGE_TAG:-dev}"
for tool in kind helm kubectl; do
  command -v "$tool" >/dev/null || { echo "kind-e2e needs $tool on PATH" >&2; exit 1; }
done
if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
  engine=docker
else
  engine=podman
  export KIND_EXPERIMENTAL_PROVIDER=podman
fi

kind get clusters | grep -qx "$cluster" || kind create cluster --name "$cluster" --config hack/kind/cluster.yaml
for image in "oozo-operator:$tag" "oozo-server:$tag" "oozo-indexer:$tag"; do
  if [ "$engine" = docker ]; then
    kind load docker-image --name "$cluster" "$image"
  else
    archive="$(mktemp --suffix=.tar)"
    podman save --format docker-archive -o "$archive" "localhost/$image"
    kind load image-archive --name "$cluster" "$archive"
    rm -f "$archive"
  fi
done
export KUBECONFIG="$(mktemp)"
kind get kubeconfig --name "$cluster" > "$KUBECONFIG"
helm upgrade --install oozo charts/oozo --namespace oozo-system --create-namespace \
  --set image.repository=oozo-operator --set image.tag="$tag" \
  --set serverImage="oozo-server:$tag" --set indexerImage="oozo-indexer:$tag" --wait
OOZO_E2E_TARGET=kind .venv/bin/pytest -m e2e tests

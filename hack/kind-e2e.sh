#!/usr/bin/env bash
# kind e2e for users with kind: create a kind cluster, load the images `make images` built, install
# the chart, run the e2e tier against it with OOZO_E2E_TARGET=kubeconfig (tests/e2e/target.py: the
# fixtures start nothing and use the chart's operator). With a Docker engine kind uses it; without
# one, podman (kind's podman provider). Not run on the machines this project is developed on (no
# Docker engine, and kind's node image comes from a registry they cannot reach); every step after
# `kind create cluster` is exercised there against the local control plane instead
# (tests/containers/test_e2e_kubeconfig_target.py).
set -euo pipefail
cd "$(dirname "$0")/.."
cluster="${KIND_CLUSTER:-oozo}"
tag="${OOZO_IMAGE_TAG:-dev}"
namespace=oozo-system
for tool in kind helm kubectl ip; do
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
helm upgrade --install oozo charts/oozo --namespace "$namespace" --create-namespace \
  --set image.repository=oozo-operator --set image.tag="$tag" --set image.pullPolicy=Never \
  --set serverImage="oozo-server:$tag" --set indexerImage="oozo-indexer:$tag" \
  --wait

# The tests query the corpora's Services from this host, as kube-proxy would route them: each
# node's pod range is reached through that node's address on kind's bridge (Linux, root).
for node in $(kubectl get nodes -o name); do
  cidr="$(kubectl get "$node" -o jsonpath='{.spec.podCIDR}')"
  address="$(kubectl get "$node" -o jsonpath='{.status.addresses[?(@.type=="InternalIP")].address}')"
  ip route replace "$cidr" via "$address"
done

# The modules that need nothing on this host's loopback (MinIO, the git and web servers, the
# kubectl plugin's port-forward run on the local control plane only).
OOZO_E2E_TARGET=kubeconfig OOZO_E2E_OPERATOR_NAMESPACE="$namespace" \
  .venv/bin/pytest -m e2e tests/e2e/test_quickstart_loop.py tests/e2e/test_quality_gate.py

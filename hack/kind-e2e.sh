#!/usr/bin/env bash
# kind e2e for users with Docker: create a kind cluster, load both images, install the chart,
# run the e2e tier against it. Not run in CI on these machines (no Docker engine there).
set -euo pipefail
cd "$(dirname "$0")/.."
cluster="${KIND_CLUSTER:-oozo}"
for tool in docker kind helm kubectl; do
  command -v "$tool" >/dev/null || { echo "kind-e2e needs $tool on PATH" >&2; exit 1; }
done
docker info >/dev/null 2>&1 || { echo "kind-e2e needs a running Docker engine" >&2; exit 1; }

kind get clusters | grep -qx "$cluster" || kind create cluster --name "$cluster" --config hack/kind/cluster.yaml
kind load docker-image --name "$cluster" oozo-operator:dev oozo-runtime:dev
export KUBECONFIG="$(mktemp)"
kind get kubeconfig --name "$cluster" > "$KUBECONFIG"
helm upgrade --install oozo charts/oozo --namespace oozo-system --create-namespace \
  --set image.repository=oozo-operator --set image.tag=dev \
  --set runtimeImage=oozo-runtime:dev --wait
OOZO_E2E_TARGET=kind .venv/bin/pytest -m e2e tests

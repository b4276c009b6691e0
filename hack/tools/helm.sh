#!/usr/bin/env bash
# Builds helm from the Go module proxy into ~/.cache/oozo/tools (once) and prints its path.
set -euo pipefail
HELM_VERSION=v3.19.0
dir="${OOZO_TOOLS_CACHE:-$HOME/.cache/oozo/tools}/helm-$HELM_VERSION"
if [ ! -x "$dir/helm" ]; then
  mkdir -p "$dir"
  echo "building helm $HELM_VERSION (log: $dir/build.log)" >&2
  GOBIN="$dir" CGO_ENABLED=0 go install -trimpath \
    -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" \
    "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" >"$dir/build.log" 2>&1 \
    || { tail -n 30 "$dir/build.log" >&2; exit 1; }
fi
echo "$dir/helm"

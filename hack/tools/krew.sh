#!/usr/bin/env bash
# Builds krew's own manifest validator and krew itself (as kubectl-krew, the name kubectl finds it
# by: the validator runs `kubectl krew install --manifest` for every platform) from the Go module
# proxy into ~/.cache/oozo/tools (once), and prints that folder. For tests/controlplane/test_krew_manifest.py.
set -euo pipefail
KREW_VERSION=v0.4.3
dir="${OOZO_TOOLS_CACHE:-$HOME/.cache/oozo/tools}/krew-$KREW_VERSION"
if [ ! -x "$dir/validate-krew-manifest" ] || [ ! -x "$dir/kubectl-krew" ]; then
  mkdir -p "$dir/build"
  echo "building krew $KREW_VERSION and its manifest validator (log: $dir/build.log)" >&2
  GOBIN="$dir/build" CGO_ENABLED=0 go install -trimpath \
    "sigs.k8s.io/krew/cmd/validate-krew-manifest@$KREW_VERSION" \
    "sigs.k8s.io/krew/cmd/krew@$KREW_VERSION" >"$dir/build.log" 2>&1 \
    || { tail -n 30 "$dir/build.log" >&2; exit 1; }
  mv "$dir/build/krew" "$dir/kubectl-krew"
  mv "$dir/build/validate-krew-manifest" "$dir/validate-krew-manifest"
fi
echo "$dir"

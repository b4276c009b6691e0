#!/usr/bin/env bash
# Builds what the real node needs beside Debian's containerd: the kubelet, from the same
# k8s.io/kubernetes module (and module cache) as the control plane (hack/controlplane/build.sh),
# and the sandbox ("pause") image as a docker-archive tar, since no registry is reachable here.
# Both are cached next to the control-plane binaries and rebuilt only when missing. Prints the
# bin directory on stdout.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../controlplane/versions.env
source "$here/../controlplane/versions.env"

cache="${OOZO_K8S_CACHE:-$HOME/.cache/oozo/k8s}/$K8S_VERSION"
bin="$cache/bin"
log="$cache/build-realnode.log"
mkdir -p "$bin" "$cache/src"
export GOFLAGS="${GOFLAGS:--mod=mod}" CGO_ENABLED=0

command -v go >/dev/null || { echo "realnode/build.sh: Go >= 1.24 is required to build the kubelet (https://go.dev/dl/)" >&2; exit 1; }
exec 9>"$cache/.build-realnode.lock"
flock 9
fail() { echo "real-node build failed; last lines of $log:" >&2; tail -n 40 "$log" >&2; exit 1; }

if [ ! -x "$bin/kubelet" ]; then
  # The control plane's go.mod already replaces every staging module by its published version;
  # the kubelet needs the same module graph, so its wrapper starts from that go.mod and go.sum.
  bash "$here/../controlplane/build.sh" >/dev/null
  src="$cache/src/kubelet"; mkdir -p "$src"
  sed 's#^module .*#module oozo.dev/realnode/kubelet#' "$cache/src/kubernetes/go.mod" > "$src/go.mod"
  cp "$cache/src/kubernetes/go.sum" "$src/go.sum"
  printf 'package tools\n\nimport _ "k8s.io/kubernetes/cmd/kubelet/app"\n' > "$src/tools.go"
  minor="${K8S_VERSION#v1.}"; minor="${minor%%.*}"
  ver="k8s.io/component-base/version"
  ldflags="-s -w -X $ver.gitVersion=$K8S_VERSION -X $ver.gitMajor=1 -X $ver.gitMinor=$minor -X $ver.gitTreeState=clean -X $ver.buildDate=1970-01-01T00:00:00Z"
  echo "building kubelet $K8S_VERSION (log: $log)" >&2
  ( cd "$src" && go build -trimpath -ldflags "$ldflags" -o "$bin/kubelet" k8s.io/kubernetes/cmd/kubelet ) >>"$log" 2>&1 || fail
fi

if [ ! -f "$bin/pause.tar" ]; then
  work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
  cp "$here/pause/main.go" "$work/"
  printf 'module oozo.dev/realnode/pause\n\ngo 1.22\n' > "$work/go.mod"
  ( cd "$work" && go build -trimpath -ldflags "-s -w" -o pause . ) >>"$log" 2>&1 || fail
  printf 'FROM scratch\nCOPY pause /pause\nUSER 65535:65535\nENTRYPOINT ["/pause"]\n' > "$work/Containerfile"
  podman="$(bash "$here/../images/podman.sh")"
  tag="oozo-realnode-pause:$K8S_VERSION"
  { "$podman" build --quiet -t "$tag" "$work" && "$podman" save --format docker-archive -o "$work/pause.tar" "$tag" \
      && "$podman" rmi "$tag"; } >>"$log" 2>&1 || fail
  mv "$work/pause.tar" "$bin/pause.tar"
fi

echo "$bin"

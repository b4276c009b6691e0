#!/usr/bin/env bash
# Builds the real control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler,
# kwok) from the Go module proxy into a cache outside the repo. Each binary is rebuilt only when
# missing, so the second run costs nothing. Prints the bin directory on stdout.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"

cache="${OOZO_K8S_CACHE:-$HOME/.cache/oozo/k8s}/$K8S_VERSION"
bin="$cache/bin"
log="$cache/build.log"
mkdir -p "$bin" "$cache/src"
export GOFLAGS="${GOFLAGS:--mod=mod}" CGO_ENABLED=0

command -v go >/dev/null || { echo "build.sh: Go >= 1.24 is required to build the control plane (https://go.dev/dl/)" >&2; exit 1; }
# Two test sessions starting at once must not build into the same directory together.
exec 9>"$cache/.build.lock"
flock 9

# etcd and kwok can be bumped in versions.env without a new Kubernetes cache directory: a binary
# that reports another version is rebuilt.
if [ -x "$bin/etcd" ] && ! "$bin/etcd" --version 2>/dev/null | grep -qx "etcd Version: ${ETCD_VERSION#v}"; then
  rm -f "$bin/etcd"
fi
if [ -x "$bin/kwok" ] && ! "$bin/kwok" --version 2>/dev/null | grep -q "^kwok version $KWOK_VERSION "; then
  rm -f "$bin/kwok"
fi

need() { for b in "$@"; do [ -x "$bin/$b" ] || return 0; done; return 1; }
fail() { echo "control-plane build failed; last lines of $log:" >&2; tail -n 40 "$log" >&2; exit 1; }

if need kube-apiserver kube-controller-manager kube-scheduler; then
  # k8s.io/kubernetes points its staging modules at ./staging with replace lines, which do not
  # apply to a dependent module: the wrapper replaces each one by its published v0.x.y.
  src="$cache/src/kubernetes"; mkdir -p "$src"
  staging_v="v0.${K8S_VERSION#v1.}"
  {
    echo "module oozo.dev/controlplane/kubernetes"
    echo "go 1.24.0"
    echo "require k8s.io/kubernetes $K8S_VERSION"
    echo "replace ("
    for m in api apiextensions-apiserver apimachinery apiserver cli-runtime client-go cloud-provider \
             cluster-bootstrap code-generator component-base component-helpers controller-manager \
             cri-api cri-client csi-translation-lib dynamic-resource-allocation endpointslice \
             externaljwt kms kube-aggregator kube-controller-manager kube-proxy kube-scheduler \
             kubectl kubelet metrics mount-utils pod-security-admission sample-apiserver; do
      echo "  k8s.io/$m => k8s.io/$m $staging_v"
    done
    echo ")"
  } > "$src/go.mod"
  printf 'package tools\n\nimport (\n\t_ "k8s.io/kubernetes/cmd/kube-apiserver/app"\n\t_ "k8s.io/kubernetes/cmd/kube-controller-manager/app"\n\t_ "k8s.io/kubernetes/cmd/kube-scheduler/app"\n)\n' > "$src/tools.go"
  minor="${K8S_VERSION#v1.}"; minor="${minor%%.*}"
  ver="k8s.io/component-base/version"
  ldflags="-s -w -X $ver.gitVersion=$K8S_VERSION -X $ver.gitMajor=1 -X $ver.gitMinor=$minor -X $ver.gitTreeState=clean -X $ver.buildDate=1970-01-01T00:00:00Z"
  ldflags="$ldflags -X k8s.io/client-go/pkg/version.gitVersion=$K8S_VERSION -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=$minor"
  echo "building kube-apiserver, kube-controller-manager, kube-scheduler $K8S_VERSION (first time: many minutes; log: $log)" >&2
  ( cd "$src" && go mod tidy && go build -trimpath -ldflags "$ldflags" -o "$bin/" \
      k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
      k8s.io/kubernetes/cmd/kube-scheduler ) >>"$log" 2>&1 || fail
fi

if need etcd; then
  src="$cache/src/etcd"; mkdir -p "$src"
  printf 'module oozo.dev/controlplane/etcd\n\ngo 1.23\n\nrequire go.etcd.io/etcd/server/v3 %s\n' "$ETCD_VERSION" > "$src/go.mod"
  printf 'package tools\n\nimport _ "go.etcd.io/etcd/server/v3/etcdmain"\n' > "$src/tools.go"
  echo "building etcd $ETCD_VERSION (log: $log)" >&2
  ( cd "$src" && go mod tidy && go build -trimpath -ldflags "-s -w" -o "$bin/etcd" go.etcd.io/etcd/server/v3 ) >>"$log" 2>&1 || fail
fi

if need kwok; then
  echo "building kwok $KWOK_VERSION (log: $log)" >&2
  GOBIN="$bin" go install -trimpath -ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION" \
    "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" >>"$log" 2>&1 || fail
fi

echo "$bin"

#!/usr/bin/env bash
# Builds MinIO (the S3-compatible server the s3 test tier runs on loopback) from the Go module
# proxy into a cache outside the repo: ~/.cache/oozo/tools/minio-<version>. It is rebuilt only
# when missing, and a lock makes a second concurrent caller wait instead of building twice (the
# machines have two cores). The build log stays beside the binary. Prints the binary's path.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"

tools="${OOZO_TOOLS_CACHE:-$HOME/.cache/oozo/tools}"
bin="$tools/minio-$MINIO_VERSION"
log="$tools/minio-$MINIO_VERSION.build.log"
mkdir -p "$tools"

if [ ! -x "$bin" ]; then
  exec 9>"$tools/.minio.lock"
  flock 9
  if [ ! -x "$bin" ]; then  # another caller may have finished it while we waited
    gobin="$(mktemp -d "$tools/.minio-build.XXXXXX")"
    trap 'rm -rf "$gobin"' EXIT
    echo "building minio $MINIO_VERSION (first time: several minutes; log: $log)" >&2
    # github.com/minio/minio has no replace directives, so a plain `go install mod@version` works.
    # Go installs into a temporary GOBIN first, so an interrupted build never leaves a binary
    # that looks complete.
    start=$(date +%s)
    if ! CGO_ENABLED=0 GOBIN="$gobin" \
        go install -trimpath -ldflags "-s -w -X github.com/minio/minio/cmd.ReleaseTag=$MINIO_VERSION" \
        "github.com/minio/minio@$MINIO_VERSION" >"$log" 2>&1; then
      echo "minio build failed; last lines of $log:" >&2
      tail -n 40 "$log" >&2
      exit 1
    fi
    mv "$gobin/minio" "$bin"
    echo "built in $(( $(date +%s) - start ))s" >>"$log"
  fi
fi

echo "$bin"

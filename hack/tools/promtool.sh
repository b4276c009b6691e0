#!/usr/bin/env bash
# Ensures promtool (from Debian's prometheus package) and prints its path.
set -euo pipefail
if ! command -v promtool >/dev/null 2>&1; then
  echo "installing promtool from Debian's prometheus package" >&2
  if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
  $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends prometheus >&2
fi
command -v promtool

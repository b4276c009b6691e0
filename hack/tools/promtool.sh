#!/usr/bin/env bash
# Ensures promtool and prints its path: the one on PATH, else the one unpacked (once, no root
# needed) from Debian's prometheus package into ~/.cache/oozo/tools. `apt-get download` fetches
# the .deb without installing the Prometheus server; only an empty package list (a fresh
# container) needs an `apt-get update`, with sudo when not root.
set -euo pipefail
if command -v promtool >/dev/null 2>&1; then
  command -v promtool
  exit 0
fi
dir="${OOZO_TOOLS_CACHE:-$HOME/.cache/oozo/tools}/promtool-debian"
if [ ! -x "$dir/promtool" ]; then
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  echo "unpacking promtool from Debian's prometheus package into $dir" >&2
  if ! (cd "$work" && apt-get download prometheus >/dev/null 2>&1); then
    if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
    $sudo apt-get update -qq >&2
    (cd "$work" && apt-get download prometheus >&2)
  fi
  dpkg-deb -x "$work"/prometheus_*.deb "$work/root"
  mkdir -p "$dir"
  install -m 0755 "$work/root/usr/bin/promtool" "$dir/promtool.new"
  mv "$dir/promtool.new" "$dir/promtool"  # a killed run never leaves half a binary behind
fi
echo "$dir/promtool"

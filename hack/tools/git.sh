#!/usr/bin/env bash
# Ensures git with its smart-HTTP CGI program (Debian's git package) for the git test tier's
# server on loopback (devcluster/gitserver.py), and prints git's path.
set -euo pipefail
if ! command -v git >/dev/null 2>&1 || [ ! -x "$(git --exec-path 2>/dev/null)/git-http-backend" ]; then
  echo "installing git from Debian's git package" >&2
  if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
  $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends git >&2
fi
command -v git

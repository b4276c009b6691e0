#!/usr/bin/env bash
# Ensures git with its smart-HTTP CGI program (Debian's git package) for the git test tier's
# server on loopback (devcluster/gitserver.py), and prints git's path.
set -euo pipefail
# A git without git-http-backend (built elsewhere, or a slimmed one) is not enough: then
# Debian's git is installed, whose backend is /usr/lib/git-core/git-http-backend.
if ! command -v git >/dev/null 2>&1 || [ ! -x "$(git --exec-path 2>/dev/null)/git-http-backend" ]; then
  bash "$(dirname "$0")/apt.sh" git /usr/lib/git-core/git-http-backend >/dev/null
fi
command -v git

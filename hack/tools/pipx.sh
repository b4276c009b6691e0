#!/usr/bin/env bash
# Ensures pipx (Debian's pipx package) for the test that runs docs/kubectl-plugin.md's
# `pipx install` line (tests/controlplane/test_krew_manifest.py), and prints its path.
# Idempotent: installs only when missing, and waits for another apt/dpkg run to finish.
set -euo pipefail
if ! command -v pipx >/dev/null 2>&1; then
  echo "installing pipx from Debian's pipx package" >&2
  if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
  $sudo apt-get -o DPkg::Lock::Timeout=600 update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
    --no-install-recommends \
    pipx >&2
fi
command -v pipx

#!/usr/bin/env bash
# Ensures pipx (Debian's pipx package) for the test that runs docs/kubectl-plugin.md's
# `pipx install` line (tests/controlplane/test_krew_manifest.py), and prints its path.
# Idempotent: apt.sh installs only when missing.
set -euo pipefail
exec bash "$(dirname "$0")/apt.sh" pipx pipx

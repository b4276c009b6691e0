#!/usr/bin/env bash
# Ensures Debian's chromium for the web page's browser test (tests/runtime/test_web_page.py),
# and prints its path. The test drives it with Playwright's Python package through
# `executable_path`, so no browser is ever downloaded from anywhere but Debian's archive.
# Idempotent: installs only when missing (apt keeps the .debs in its own cache), and waits for
# another apt/dpkg run to finish instead of failing on its lock.
set -euo pipefail
if ! command -v chromium >/dev/null 2>&1; then
  echo "installing chromium from Debian's chromium package" >&2
  if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
  $sudo apt-get -o DPkg::Lock::Timeout=600 update -qq >&2
  # fonts-liberation: a font with Latin and Cyrillic glyphs, so a headless page renders text
  # and not empty boxes on a machine without a desktop.
  DEBIAN_FRONTEND=noninteractive $sudo apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
    --no-install-recommends \
    chromium fonts-liberation >&2
fi
command -v chromium

#!/usr/bin/env bash
# Ensures Debian's chromium for the web page's browser test (tests/runtime/test_web_page.py),
# and prints its path. The test drives it with Playwright's Python package through
# `executable_path`, so no browser is ever downloaded from anywhere but Debian's archive.
# Idempotent: apt.sh installs only when missing (apt keeps the .debs in its own cache).
set -euo pipefail
# fonts-liberation: a font with Latin and Cyrillic glyphs, so a headless page renders text and
# not empty boxes on a machine without a desktop.
exec bash "$(dirname "$0")/apt.sh" chromium chromium fonts-liberation

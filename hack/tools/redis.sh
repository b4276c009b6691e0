#!/usr/bin/env bash
# Ensures redis-server (Debian's redis-server package) for the answer-cache tests' real Redis on
# loopback (devcluster/redisserver.py), and prints its path. Idempotent: installs only when
# missing, and waits for another apt/dpkg run to finish instead of failing on its lock.
set -euo pipefail
if ! command -v redis-server >/dev/null 2>&1; then
  echo "installing redis-server from Debian's redis-server package" >&2
  if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
  $sudo apt-get -o DPkg::Lock::Timeout=600 update -qq >&2
  # The tests never use the package's own service (port 6379): each starts its own server on a
  # free loopback port with a password, so a system-wide one, started or not, is left alone.
  DEBIAN_FRONTEND=noninteractive $sudo apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
    --no-install-recommends \
    redis-server >&2
fi
command -v redis-server

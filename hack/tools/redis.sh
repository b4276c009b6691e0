#!/usr/bin/env bash
# Ensures redis-server (Debian's redis-server package) for the answer-cache tests' real Redis on
# loopback (devcluster/redisserver.py), and prints its path. Idempotent: apt.sh installs only
# when missing.
set -euo pipefail
# The tests never use the package's own service (port 6379): each starts its own server on a
# free loopback port with a password, so a system-wide one, started or not, is left alone.
exec bash "$(dirname "$0")/apt.sh" redis-server redis-server

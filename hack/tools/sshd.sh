#!/usr/bin/env bash
# Ensures sshd (Debian's openssh-server package) for the git tier's real SSH server on loopback
# (devcluster/sshserver.py), and prints its path. Idempotent: apt.sh installs only when missing.
set -euo pipefail
# The tests never use the package's own service (port 22): each starts its own sshd with its
# own config, host key and authorized_keys on a free loopback port, so a system-wide one,
# started or not, is left alone. /usr/sbin is not on every user's PATH: the path is absolute.
exec bash "$(dirname "$0")/apt.sh" openssh-server /usr/sbin/sshd

#!/usr/bin/env bash
# Ensures sshd (Debian's openssh-server package) for the git tier's real SSH server on loopback
# (devcluster/sshserver.py), and prints its path. Idempotent: installs only when missing, and
# waits for another apt/dpkg run to finish instead of failing on its lock.
set -euo pipefail
if [ ! -x /usr/sbin/sshd ]; then
  echo "installing sshd from Debian's openssh-server package" >&2
  if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
  $sudo apt-get -o DPkg::Lock::Timeout=600 update -qq >&2
  # The tests never use the package's own service (port 22): each starts its own sshd with its
  # own config, host key and authorized_keys on a free loopback port, so a system-wide one,
  # started or not, is left alone.
  DEBIAN_FRONTEND=noninteractive $sudo apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
    --no-install-recommends \
    openssh-server >&2
fi
echo /usr/sbin/sshd

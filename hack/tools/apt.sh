#!/usr/bin/env bash
# Ensures BINARY from Debian's PACKAGE (with any MORE_PACKAGES it needs beside it) and prints its
# path: the shared apt step of the tool scripts (sshd.sh, redis.sh, chromium.sh, pipx.sh, git.sh).
#
#   apt.sh PACKAGE BINARY [MORE_PACKAGES...]
#
# BINARY is a command name looked up on PATH, or an absolute path (sshd lives in /usr/sbin, which
# is not on every user's PATH). Idempotent: installs nothing when BINARY is already there. Runs
# `apt-get update` only when needed: when apt does not know a package yet (a fresh container's
# package lists are empty), or when an install from the present lists fails (they went stale and
# name .debs the mirror no longer has). Waits for another apt/dpkg run to finish instead of
# failing on its lock. Every failure ends with one line that names the package and what to do.
set -euo pipefail
if [ "$#" -lt 2 ]; then
  echo "usage: apt.sh PACKAGE BINARY [MORE_PACKAGES...]" >&2
  exit 2
fi
package="$1"
binary="$2"
shift 2
packages=("$package" "$@")

found() {
  case "$binary" in
    /*) [ -x "$binary" ] && echo "$binary" ;;
    *) command -v "$binary" ;;
  esac
}

fail() {
  echo "apt.sh: $*" >&2
  exit 1
}

if found 2>/dev/null; then
  exit 0
fi
command -v apt-get >/dev/null 2>&1 \
  || fail "no apt-get on this machine: install ${packages[*]} (for $binary) by hand"
if [ "$(id -u)" = 0 ]; then
  sudo=()
elif command -v sudo >/dev/null 2>&1; then
  sudo=(sudo)
else
  fail "installing ${packages[*]} (for $binary) needs root, and there is no sudo"
fi
apt_get=("${sudo[@]}" apt-get -o DPkg::Lock::Timeout=600)

update() {
  "${apt_get[@]}" update -qq >&2 || fail "apt-get update failed (see above): ${packages[*]} not installed"
}

install() {
  DEBIAN_FRONTEND=noninteractive "${apt_get[@]}" install -y -qq --no-install-recommends \
    "${packages[@]}" >&2
}

echo "installing $binary from Debian's ${packages[*]}" >&2
known=1
for name in "${packages[@]}"; do
  # a package apt has no candidate for is not in the present lists (or in none at all)
  if ! apt-cache policy "$name" 2>/dev/null | grep -q 'Candidate: [^(]'; then
    known=0
  fi
done
updated=0
if [ "$known" = 0 ]; then
  update
  updated=1
fi
if ! install; then
  [ "$updated" = 1 ] && fail "apt-get install ${packages[*]} failed (see above)"
  update
  install || fail "apt-get install ${packages[*]} failed (see above), also after apt-get update"
fi
found || fail "installed ${packages[*]}, but $binary is still not there"

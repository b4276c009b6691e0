#!/usr/bin/env bash
# Ensures podman, buildah and runc from Debian's packages and a containers.conf they can run
# containers with on these machines, then prints podman's path. Idempotent; needs root (or sudo).
#
# Why each setting: crun refuses this host's cgroup v1 hierarchy ("cgroups in hybrid mode not
# supported"), so runc is the OCI runtime; without systemd, cgroups are managed by podman itself
# (cgroupfs) and events go to a file (no journald); this sandbox forbids raising RLIMIT_NOFILE and
# RLIMIT_NPROC, so podman must not set default ulimits nor a pids limit on every container.
set -euo pipefail
if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi

packages=(podman buildah runc debootstrap uidmap containernetworking-plugins iptables)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" || missing+=("$package")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing ${missing[*]} from Debian's packages" >&2
  $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

conf=/etc/containers/containers.conf
wanted='# Written by hack/images/podman.sh (Oozo): runc, cgroupfs, no default ulimits or pids limit.
[containers]
default_ulimits = []
pids_limit = 0

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime = "runc"
'
if [ ! -f "$conf" ] || ! grep -q '^# Written by hack/images/podman.sh' "$conf"; then
  if [ -f "$conf" ]; then
    # Never lose a containers.conf someone else wrote: keep it beside ours.
    $sudo cp -n "$conf" "$conf.before-oozo"
    echo "kept the previous $conf as $conf.before-oozo" >&2
  fi
  $sudo mkdir -p /etc/containers
  printf '%s' "$wanted" | $sudo tee "$conf" >/dev/null
fi
command -v podman

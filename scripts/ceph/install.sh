#!/bin/sh
# Installs the single-node Ceph the object-storage tests start (mon, OSD, RADOS Gateway, CLI).
# Idempotent: does nothing when the packages are present. No daemon is started by the packages.
set -eu

packages="ceph-mon ceph-osd radosgw ceph-common"
missing=""
for package in $packages; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then
    missing="$missing $package"
  fi
done

if [ -z "$missing" ]; then
  echo "install-ceph: all present ($packages)"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-ceph: no apt-get here; the object-storage tests will be skipped" >&2
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"
  else
    echo "install-ceph: not root and no sudo; the object-storage tests will be skipped" >&2
    exit 0
  fi
fi

echo "install-ceph: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt="$SUDO apt-get -o DPkg::Lock::Timeout=600"
# ceph-mgr is left out on purpose: RGW does not need it and it costs minutes of install and 300 MB RSS.
# shellcheck disable=SC2086 # word splitting of the package list is intended
$apt install -y -q --no-install-recommends $missing || {
  # A fresh CI container has no package lists yet.
  $apt update -q
  # shellcheck disable=SC2086
  $apt install -y -q --no-install-recommends $missing
}
for tool in ceph-mon ceph-osd radosgw radosgw-admin ceph monmaptool ceph-authtool; do
  command -v "$tool" >/dev/null 2>&1 || { echo "install-ceph: $tool missing after install" >&2; exit 1; }
done
echo "install-ceph: done"

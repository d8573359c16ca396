#!/bin/sh
# Installs everything the test suite needs on a fresh Debian machine: databases for the dump
# tests, Chromium for the dashboard test, Ceph for the object-storage tests, and the tools the
# tests call (openssl, mkfifo, du).
set -eu
here=$(dirname "$0")
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  if ! command -v openssl >/dev/null 2>&1 || [ ! -x /usr/bin/time ] || ! command -v setfattr >/dev/null 2>&1 ||
    ! command -v setfacl >/dev/null 2>&1; then
    apt-get -o DPkg::Lock::Timeout=600 update -q
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q openssl time attr acl
  fi
fi
sh "$here/install-databases.sh"
if [ -f "$here/install-browser.sh" ]; then sh "$here/install-browser.sh"; fi
# The bench's own tests run restic and borg on a tiny corpus.
if [ -f "$here/install-bench-tools.sh" ]; then sh "$here/install-bench-tools.sh"; fi
# A single-node Ceph (mon, OSD, RADOS Gateway) for the S3 backend's tests.
if [ -f "$here/ceph/install.sh" ]; then sh "$here/ceph/install.sh"; fi

#!/bin/sh
# Installs Debian's chromium for the dashboard browser test (test/dashboard-browser.test.ts).
# Idempotent: when /usr/bin/chromium exists nothing is done; without it the test is skipped.
set -eu

if [ -x /usr/bin/chromium ]; then
  echo "install-browser: chromium present ($(/usr/bin/chromium --version 2>/dev/null || echo unknown version))"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
# Other install scripts may hold the dpkg lock at the same time in CI; wait rather than fail.
$SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq || true
$SUDO apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends chromium fonts-dejavu-core
test -x /usr/bin/chromium || { echo "install-browser: /usr/bin/chromium missing after install" >&2; exit 1; }
echo "install-browser: done ($(/usr/bin/chromium --version 2>/dev/null || echo unknown version))"

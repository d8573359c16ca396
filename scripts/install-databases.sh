#!/bin/sh
# Installs the database servers and tools the dump-source tests run against (Debian):
# PostgreSQL 15, MariaDB, the sqlite3 CLI. Idempotent: installed packages are left alone.
# MongoDB is not in Debian; test/dump-mongodb.test.ts runs only where mongod or MONGODB_URI exists.
set -eu

packages="postgresql mariadb-server mariadb-client sqlite3 coreutils"
missing=""
for package in $packages; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then
    missing="$missing $package"
  fi
done

if [ -z "$missing" ]; then
  echo "install-databases: all present ($packages)"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-databases: installing$missing"
# The tests start their own throwaway servers; keep the packages' default ones from starting.
export DEBIAN_FRONTEND=noninteractive
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod 755 /usr/sbin/policy-rc.d
  remove_policy=1
else
  remove_policy=0
fi
# A fresh CI container has no package lists yet.
$SUDO apt-get update -qq || true
# shellcheck disable=SC2086 # word splitting of the package list is intended
$SUDO apt-get install -y --no-install-recommends $missing || { [ "$remove_policy" -eq 1 ] && $SUDO rm -f /usr/sbin/policy-rc.d; exit 1; }
if [ "$remove_policy" -eq 1 ]; then $SUDO rm -f /usr/sbin/policy-rc.d; fi

test -x /usr/lib/postgresql/15/bin/initdb || { echo "install-databases: PostgreSQL 15 binaries missing after install" >&2; exit 1; }
echo "install-databases: done"

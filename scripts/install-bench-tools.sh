#!/bin/sh
# Installs the tools the benchmark compares against (restic, borg) and GNU time for peak RSS.
# Idempotent: installs only what is missing, so it is safe to run before every benchmark.
set -eu

missing=""
command -v restic >/dev/null 2>&1 || missing="$missing restic"
command -v borg >/dev/null 2>&1 || missing="$missing borgbackup"
[ -x /usr/bin/time ] || missing="$missing time"

if [ -z "$missing" ]; then
  echo "bench tools present: $(restic version | head -n 1); $(borg --version); GNU time"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
else
  SUDO=
fi
# Refresh the package lists only when the install needs them.
$SUDO apt-get install -y $missing || { $SUDO apt-get update && $SUDO apt-get install -y $missing; }
echo "installed:$missing"

#!/usr/bin/env bash
# Stops the cluster scripts/ceph/start.sh started in DIR, each daemon by the PID in its pid file
# (SIGTERM, then SIGKILL after 20 s), and removes DIR unless --keep is given (to restart it later).
#
#   scripts/ceph/stop.sh [--keep] DIR
set -euo pipefail

keep=0
if [ "${1:-}" = --keep ]; then keep=1; shift; fi
if [ $# -ne 1 ]; then
  echo "usage: $0 [--keep] DIR" >&2
  exit 2
fi
dir=$(realpath -m "$1")
here=$(dirname "$(realpath "$0")")
# shellcheck source=scripts/ceph/daemons.sh
. "$here/daemons.sh"

# One at a time, the gateway first, the monitor last (about 2 s each): a gateway whose OSD is going
# away hangs in its own shutdown, and an OSD whose monitor is gone waits for it.
stop_daemon "$dir" radosgw client.rgw.gw
stop_daemon "$dir" ceph-osd osd.0
stop_daemon "$dir" ceph-mon mon.a
if [ $keep -eq 0 ] && [ -f "$dir/ceph.conf" ]; then rm -rf "$dir"; fi

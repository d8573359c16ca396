# Helpers shared by start.sh and stop.sh (sourced, not run): a daemon of the cluster in DIR is
# known by its pid file DIR/run/NAME.pid, and is running only if that PID is still the program
# named (a stale pid file after SIGKILL may name a PID since reused by something else).

# daemon_pid DIR NAME: prints the PID from NAME's pid file, or nothing.
daemon_pid() {
  local file="$1/run/$2.pid"
  if [ -f "$file" ]; then tr -dc '0-9' <"$file"; fi
}

# is_running DIR PROGRAM NAME
is_running() {
  local pid
  pid=$(daemon_pid "$1" "$3")
  [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ]
}

# stop_daemon DIR PROGRAM NAME: SIGTERM, up to 20 s for a clean exit, then SIGKILL.
stop_daemon() {
  local pid tries=0
  is_running "$1" "$2" "$3" || return 0
  pid=$(daemon_pid "$1" "$3")
  kill -TERM "$pid" 2>/dev/null || true
  while [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ]; do
    tries=$((tries + 1))
    if [ $tries -ge 80 ]; then
      echo "ceph: $3 (pid $pid) ignored SIGTERM for 20 s; SIGKILL" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
    sleep 0.25
  done
}

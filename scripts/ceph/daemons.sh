# Helpers shared by start.sh and stop.sh (sourced, not run): a daemon of the cluster in DIR is
# known by its pid file DIR/run/NAME.pid, and is running only if that PID is still the program
# named (a stale pid file after SIGKILL may name a PID since reused by something else).

# daemon_pid DIR NAME: prints the PID from NAME's pid file, or nothing.
daemon_pid() {
  local file="$1/run/$2.pid"
  if [ -f "$file" ]; then tr -dc '0-9' <"$file"; fi
}

# is_alive PID PROGRAM: that PID runs PROGRAM and is not a zombie (an init that does not reap,
# as in some containers, would otherwise keep a killed daemon "running" for ever).
is_alive() {
  [ -n "$1" ] && [ "$(cat "/proc/$1/comm" 2>/dev/null)" = "$2" ] \
    && [ "$(sed -n 's/^[0-9]* (.*) \([A-Za-z]\) .*/\1/p' "/proc/$1/stat" 2>/dev/null)" != Z ]
}

# is_running DIR PROGRAM NAME
is_running() {
  is_alive "$(daemon_pid "$1" "$3")" "$2"
}

# has_exited DIR PROGRAM NAME TRIES: the daemon wrote its pid file and is gone, or after TRIES polls
# (a quarter second each) there is still no pid file. A daemon forks before it writes the file, so a
# missing file just after the start means "not yet", not "dead".
has_exited() {
  if [ -f "$1/run/$3.pid" ]; then
    ! is_running "$1" "$2" "$3"
  else
    [ "$4" -ge 40 ]
  fi
}

# start_daemon DIR PROGRAM NAME COMMAND...: a stale pid file (left by SIGKILL) goes first, so the
# new process's file is the only one has_exited can see.
start_daemon() {
  local dir=$1 program=$2 name=$3
  shift 3
  rm -f "$dir/run/$name.pid"
  "$@"
}

# stop_daemon DIR PROGRAM NAME: SIGTERM, up to 20 s for a clean exit, then SIGKILL.
stop_daemon() {
  local pid tries=0
  is_running "$1" "$2" "$3" || return 0
  pid=$(daemon_pid "$1" "$3")
  kill -TERM "$pid" 2>/dev/null || true
  while is_alive "$pid" "$2"; do
    tries=$((tries + 1))
    if [ $tries -eq 80 ]; then
      echo "ceph: $3 (pid $pid) ignored SIGTERM for 20 s; SIGKILL" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
    sleep 0.25
  done
}

# Shared by the service scripts (sourced): start and stop by PID file.

# kill_pidfile FILE: SIGKILLs the process FILE names, if any, and removes FILE.
kill_pidfile() {
  [ -f "$1" ] || return 0
  kill -9 "$(cat "$1")" 2>/dev/null || true
  rm -f "$1"
}

# wait_for_server NAME PIDFILE OUTFILE PORT TENTHS: waits until the server
# printed "ready" to OUTFILE and accepts connections on 127.0.0.1:PORT (0),
# or it died or TENTHS tenths of a second passed (1, its output shown and
# the server killed).
wait_for_server() {
  local name=$1 pidfile=$2 out=$3 port=$4 tenths=$5
  for _ in $(seq "$tenths"); do
    if grep -q ready "$out" 2>/dev/null &&
       (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      return 0
    fi
    kill -0 "$(cat "$pidfile")" 2>/dev/null || break
    sleep 0.1
  done
  echo "$name did not come up:" >&2
  cat "$out" >&2
  kill_pidfile "$pidfile"
  return 1
}

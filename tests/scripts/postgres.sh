#!/usr/bin/env bash
# A throwaway PostgreSQL server on 127.0.0.1 for tests: Debian's server
# binaries, run as nobody (initdb refuses root), trust auth on loopback,
# fsync off. All state under DIR; stopped by the postmaster's PID.
#   tests/scripts/postgres.sh start DIR   prints a libpq connection string
#   tests/scripts/postgres.sh stop DIR
set -euo pipefail
cmd=${1:?usage: postgres.sh start|stop DIR}
dir=$(mkdir -p "${2:?usage: postgres.sh start|stop DIR}" && cd "$2" && pwd)
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)

stop() {
  [ -f "$dir/data/postmaster.pid" ] || return 0
  pid=$(head -1 "$dir/data/postmaster.pid")
  kill -QUIT "$pid" 2>/dev/null || true   # immediate shutdown
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$dir/data/postmaster.pid"
}
if [ "$cmd" = stop ]; then stop; exit 0; fi
[ "$cmd" = start ] || { echo "usage: postgres.sh start|stop DIR" >&2; exit 2; }
[ -n "$bin" ] && [ -x "$bin/initdb" ] ||
  { echo "postgres.sh: postgresql is not installed" >&2; exit 77; }
stop
# A restart in the same DIR keeps the port (clients' configs name it).
port=$(cat "$dir/port" 2>/dev/null || echo $(( 20000 + RANDOM % 10000 )))
echo "$port" >"$dir/port"
as_nobody=(setpriv --reuid=65534 --regid=65534 --clear-groups)
chmod 0711 "$dir"
"${as_nobody[@]}" test -x "$dir" || {
  echo "postgres.sh: $dir must be reachable by uid 65534 (the server's user):" \
       "every parent directory needs o+x" >&2
  exit 1
}
if [ ! -d "$dir/data" ]; then
  install -d -o 65534 -g 65534 -m 0700 "$dir/data" "$dir/run"
  "${as_nobody[@]}" "$bin/initdb" -D "$dir/data" -U volcrypt --auth=trust -E UTF8 \
    >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
fi
if ! "${as_nobody[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/run/server.log" -w \
     -o "-c listen_addresses=127.0.0.1 -p $port -k $dir/run -c fsync=off -c max_connections=200" \
     start >/dev/null; then
  cat "$dir/run/server.log" >&2
  exit 1
fi
echo "host=127.0.0.1 port=$port user=volcrypt dbname=postgres"

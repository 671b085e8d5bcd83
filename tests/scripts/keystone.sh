#!/usr/bin/env bash
# A throwaway Keystone on 127.0.0.1 for tests: Debian's python3-keystone,
# its database at KEYSTONE_DATABASE (an SQLAlchemy URL; default SQLite, which
# is enough for bootstrap but gives "database is locked" on some writes, so
# openstack.sh uses PostgreSQL), fernet tokens lasting KEYSTONE_TOKEN_SECONDS
# (default 3600), cheap bcrypt rounds (test passwords). All
# state under DIR; stopped by PID. Bootstraps an "admin" user (password in
# DIR/admin-password).
#   tests/scripts/keystone.sh start DIR    prints the v3 auth URL
#   tests/scripts/keystone.sh stop DIR
set -euo pipefail
cmd=${1:?usage: keystone.sh start|stop DIR}
dir=$(mkdir -p "${2:?usage: keystone.sh start|stop DIR}" && cd "$2" && pwd)
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/service_lib.sh"

stop() { kill_pidfile "$dir/keystone.pid"; }
if [ "$cmd" = stop ]; then stop; exit 0; fi
[ "$cmd" = start ] || { echo "usage: keystone.sh start|stop DIR" >&2; exit 2; }
/usr/bin/python3 -c 'import keystone.server.wsgi' 2>/dev/null ||
  { echo "keystone.sh: python3-keystone is not installed" >&2; exit 77; }
stop
port=$(cat "$dir/port" 2>/dev/null || echo $(( 30000 + RANDOM % 20000 )))
echo "$port" >"$dir/port"
url="http://127.0.0.1:$port/v3"
if [ ! -f "$dir/keystone.conf" ]; then
  cat >"$dir/keystone.conf" <<CONF
[DEFAULT]
log_file = $dir/keystone.log
use_stderr = False
[database]
connection = ${KEYSTONE_DATABASE:-sqlite:///$dir/keystone.sqlite}
[token]
provider = fernet
expiration = ${KEYSTONE_TOKEN_SECONDS:-3600}
[fernet_tokens]
key_repository = $dir/fernet-keys
[fernet_receipts]
key_repository = $dir/fernet-receipts
[credential]
key_repository = $dir/credential-keys
[cache]
enabled = False
[identity]
password_hash_rounds = 4
CONF
  manage=(keystone-manage --config-file "$dir/keystone.conf")
  (umask 077; /usr/bin/python3 -c 'import secrets; print(secrets.token_hex(16))' \
    >"$dir/admin-password")
  {
    "${manage[@]}" db_sync
    "${manage[@]}" fernet_setup --keystone-user root --keystone-group root
    "${manage[@]}" credential_setup --keystone-user root --keystone-group root
    "${manage[@]}" bootstrap --bootstrap-password "$(cat "$dir/admin-password")" \
      --bootstrap-admin-url "$url" --bootstrap-public-url "$url" \
      --bootstrap-internal-url "$url" --bootstrap-region-id RegionOne
  } >"$dir/setup.log" 2>&1 || { cat "$dir/setup.log" >&2; exit 1; }
fi
OS_KEYSTONE_CONFIG_DIR=$dir setsid /usr/bin/python3 "$here/keystone_server.py" "$port" \
  >"$dir/server.out" 2>&1 &
echo $! >"$dir/keystone.pid"
wait_for_server keystone.sh "$dir/keystone.pid" "$dir/server.out" "$port" 300 || exit 1
echo "$url"

#!/usr/bin/env bash
# Keystone and a Barbican that validates its tokens, on 127.0.0.1, for tests
# of token authentication and of OpenStack's own clients: Keystone's
# database in postgres.sh (DIR/postgres), keystone.sh in DIR/keystone, populated by keystone_setup.py (users, roles, an application
# credential, the key-manager endpoint; DIR/keystone/credentials.json), then
# barbican.sh in DIR/barbican with the Keystone pipeline.
#   tests/scripts/openstack.sh start DIR   prints the Keystone v3 auth URL
#   tests/scripts/openstack.sh stop DIR
set -euo pipefail
cmd=${1:?usage: openstack.sh start|stop DIR}
dir=$(mkdir -p "${2:?usage: openstack.sh start|stop DIR}" && cd "$2" && pwd)
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [ "$cmd" = stop ]; then
  bash "$here/barbican.sh" stop "$dir/barbican"
  bash "$here/keystone.sh" stop "$dir/keystone"
  bash "$here/postgres.sh" stop "$dir/postgres"
  exit 0
fi
[ "$cmd" = start ] || { echo "usage: openstack.sh start|stop DIR" >&2; exit 2; }
conninfo=$(bash "$here/postgres.sh" start "$dir/postgres")
pg_port=$(sed -n 's/.*port=\([0-9]*\).*/\1/p' <<<"$conninfo")
if [ ! -f "$dir/keystone/keystone.conf" ]; then
  psql "$conninfo" -qc "CREATE DATABASE keystone" >/dev/null
fi
auth_url=$(KEYSTONE_DATABASE="postgresql+psycopg2://volcrypt@127.0.0.1:$pg_port/keystone" \
  bash "$here/keystone.sh" start "$dir/keystone") ||
  { bash "$here/postgres.sh" stop "$dir/postgres"; exit 1; }
mkdir -p "$dir/barbican"
[ -f "$dir/barbican/port" ] || echo $(( 30000 + RANDOM % 20000 )) >"$dir/barbican/port"
barbican_url="http://127.0.0.1:$(cat "$dir/barbican/port")"
if [ ! -f "$dir/keystone/credentials.json" ]; then
  /usr/bin/python3 "$here/keystone_setup.py" "$auth_url" \
    "$(cat "$dir/keystone/admin-password")" "$barbican_url" "$dir/keystone" ||
    { bash "$here/keystone.sh" stop "$dir/keystone"; exit 1; }
fi
service_password=$(/usr/bin/python3 -c \
  'import json, sys; print(json.load(open(sys.argv[1]))["barbican"]["password"])' \
  "$dir/keystone/credentials.json")
KEYSTONE_AUTH_URL=$auth_url BARBICAN_SERVICE_PASSWORD=$service_password \
  bash "$here/barbican.sh" start "$dir/barbican" >/dev/null ||
  { bash "$here/keystone.sh" stop "$dir/keystone"; exit 1; }
echo "$auth_url"

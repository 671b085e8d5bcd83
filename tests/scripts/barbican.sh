#!/usr/bin/env bash
# A throwaway Barbican server on 127.0.0.1 for tests: Debian's barbican-api
# behind a private paste pipeline without Keystone, SQLite, simple_crypto.
# All state under DIR; stopped by PID. With KEYSTONE_AUTH_URL and
# BARBICAN_SERVICE_PASSWORD set, Barbican validates Keystone tokens instead
# (keystonemiddleware's auth_token as user "barbican" in project "service").
#   tests/scripts/barbican.sh start DIR [PORT]   prints the endpoint URL
#   tests/scripts/barbican.sh stop DIR
set -euo pipefail
cmd=${1:?usage: barbican.sh start|stop DIR [PORT]}
dir=$(mkdir -p "${2:?usage: barbican.sh start|stop DIR [PORT]}" && cd "$2" && pwd)
# A restart in the same DIR keeps the port and the KEK, so the secrets
# stored before it stay readable.
port=${3:-$(cat "$dir/port" 2>/dev/null || echo $(( 30000 + RANDOM % 20000 )))}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

stop() {
  [ -f "$dir/barbican.pid" ] || return 0
  kill -9 "$(cat "$dir/barbican.pid")" 2>/dev/null || true
  rm -f "$dir/barbican.pid"
}
if [ "$cmd" = stop ]; then stop; exit 0; fi
[ "$cmd" = start ] || { echo "usage: barbican.sh start|stop DIR [PORT]" >&2; exit 2; }
/usr/bin/python3 -c 'import barbican.api.app' 2>/dev/null ||
  { echo "barbican.sh: python3-barbican is not installed" >&2; exit 77; }
stop
mkdir -p "$dir/.barbican"
[ -s "$dir/kek" ] || (umask 077; /usr/bin/python3 -c \
  'import base64, os; print(base64.urlsafe_b64encode(os.urandom(32)).decode())' >"$dir/kek")
kek=$(cat "$dir/kek")
echo "$port" >"$dir/port"
cat >"$dir/.barbican/barbican.conf" <<CONF
[DEFAULT]
host_href = http://127.0.0.1:$port
sql_connection = sqlite:///$dir/barbican.sqlite
db_auto_create = True
log_file = $dir/barbican.log
use_stderr = False
[queue]
enable = False
[keystone_notifications]
enable = False
[secretstore]
enabled_secretstore_plugins = store_crypto
[crypto]
enabled_crypto_plugins = simple_crypto
[simple_crypto_plugin]
kek = $kek
CONF
pipeline="http_proxy_to_wsgi unauthenticated-context microversion apiapp"
if [ -n "${KEYSTONE_AUTH_URL:-}" ]; then
  pipeline="http_proxy_to_wsgi authtoken context microversion apiapp"
  cat >>"$dir/.barbican/barbican.conf" <<CONF
[keystone_authtoken]
www_authenticate_uri = $KEYSTONE_AUTH_URL
auth_url = $KEYSTONE_AUTH_URL
auth_type = password
username = barbican
password = ${BARBICAN_SERVICE_PASSWORD:?BARBICAN_SERVICE_PASSWORD is needed with KEYSTONE_AUTH_URL}
user_domain_name = Default
project_name = service
project_domain_name = Default
service_token_roles_required = True
# Validate every token with Keystone: a revoked token fails at once.
token_cache_time = -1
CONF
  chmod 0600 "$dir/.barbican/barbican.conf"
fi
cat >"$dir/barbican-api-paste.ini" <<'INI'
[composite:main]
use = egg:Paste#urlmap
/: barbican_version
/v1: barbican_api

[pipeline:barbican_api]
pipeline = PIPELINE

[app:apiapp]
paste.app_factory = barbican.api.app:create_main_app

[app:barbican_version]
paste.app_factory = barbican.api.app:create_version_app

[filter:authtoken]
paste.filter_factory = keystonemiddleware.auth_token:filter_factory

[filter:context]
paste.filter_factory = barbican.api.middleware.context:ContextMiddleware.factory

[filter:unauthenticated-context]
paste.filter_factory = barbican.api.middleware.context:UnauthenticatedContextMiddleware.factory

[filter:microversion]
paste.filter_factory = barbican.api.middleware.microversion:MicroversionMiddleware.factory

[filter:http_proxy_to_wsgi]
paste.filter_factory = oslo_middleware:HTTPProxyToWSGI.factory
INI
sed -i "s/^pipeline = PIPELINE$/pipeline = $pipeline/" "$dir/barbican-api-paste.ini"
HOME=$dir setsid /usr/bin/python3 "$here/barbican_server.py" "$dir" "$port" \
  >"$dir/server.out" 2>&1 &
echo $! >"$dir/barbican.pid"
for _ in $(seq 100); do
  if grep -q ready "$dir/server.out" 2>/dev/null &&
     (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "http://127.0.0.1:$port"
    exit 0
  fi
  kill -0 "$(cat "$dir/barbican.pid")" 2>/dev/null || break
  sleep 0.1
done
echo "barbican.sh: Barbican did not come up:" >&2
cat "$dir/server.out" >&2
stop
exit 1

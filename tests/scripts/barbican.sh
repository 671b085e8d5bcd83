#!/usr/bin/env bash
# A throwaway Barbican server on 127.0.0.1 for tests: Debian's barbican-api
# behind a private paste pipeline without Keystone, SQLite, simple_crypto.
# All state under DIR; stopped by PID. With KEYSTONE_AUTH_URL and
# BARBICAN_SERVICE_PASSWORD set, Barbican validates Keystone tokens instead
# (keystonemiddleware's auth_token as user "barbican" in project "service").
# With BARBICAN_TLS=1 it serves HTTPS with a certificate for 127.0.0.1 from
# a throwaway CA in DIR/tls/ca.pem (clients must be given that CA).
#   tests/scripts/barbican.sh start DIR [PORT]   prints the endpoint URL
#   tests/scripts/barbican.sh stop DIR
set -euo pipefail
cmd=${1:?usage: barbican.sh start|stop DIR [PORT]}
dir=$(mkdir -p "${2:?usage: barbican.sh start|stop DIR [PORT]}" && cd "$2" && pwd)
# A restart in the same DIR keeps the port and the KEK, so the secrets
# stored before it stay readable.
port=${3:-$(cat "$dir/port" 2>/dev/null || echo $(( 30000 + RANDOM % 20000 )))}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/service_lib.sh"

stop() { kill_pidfile "$dir/barbican.pid"; }
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
scheme=http
tls_args=()
if [ "${BARBICAN_TLS:-0}" = 1 ]; then
  scheme=https
  tls="$dir/tls"
  if [ ! -f "$tls/server.pem" ]; then
    mkdir -p "$tls"
    {
      openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=volcrypt test CA" \
        -keyout "$tls/ca.key" -out "$tls/ca.pem"
      openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
        -keyout "$tls/server.key" -out "$tls/server.csr"
      printf 'subjectAltName=IP:127.0.0.1\n' >"$tls/san.ext"
      openssl x509 -req -in "$tls/server.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca.key" \
        -CAcreateserial -days 2 -extfile "$tls/san.ext" -out "$tls/server.pem"
    } >"$tls/openssl.log" 2>&1 || { cat "$tls/openssl.log" >&2; exit 1; }
  fi
  tls_args=("$tls/server.pem" "$tls/server.key")
fi
cat >"$dir/.barbican/barbican.conf" <<CONF
[DEFAULT]
host_href = $scheme://127.0.0.1:$port
sql_connection = sqlite:///$dir/barbican.sqlite
db_auto_create = True
log_file = $dir/barbican.log
use_stderr = False
# Below the default 20000 so that a valid secret can exceed it: the largest
# bit_length Barbican accepts (32767) keeps a payload under 5500 base64
# characters, and the tests provoke a real 413.
max_allowed_secret_in_bytes = 4096
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
# Validated tokens are cached 2 s (production: minutes): a revoked token
# fails soon after, and most requests skip Keystone (~0.6 s per validation
# on this test bed).
token_cache_time = 2
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
HOME=$dir setsid /usr/bin/python3 "$here/barbican_server.py" "$dir" "$port" "${tls_args[@]}" \
  >"$dir/server.out" 2>&1 &
echo $! >"$dir/barbican.pid"
wait_for_server barbican.sh "$dir/barbican.pid" "$dir/server.out" "$port" 100 || exit 1
echo "$scheme://127.0.0.1:$port"

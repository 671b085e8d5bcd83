#!/usr/bin/env bash
# The installed Python package against real services (binding_services.sh:
# Ceph, libvirtd with a paused domain and the ceph secret, Barbican,
# PostgreSQL): examples/python/services_test.py run by `PYTHON -I`, so it
# imports the package `meson install` put under PREFIX, with no PYTHONPATH
# and no VOLCRYPT_LIBRARY: file and rbd volumes attached live, detached
# and deleted; an rbd volume extended, snapshotted and cloned; 8 workers at
# once; a Barbican key with a PostgreSQL record.
#   python_services_test.sh BUILD_DIR SOURCE_ROOT PYTHON PREFIX
set -euo pipefail
usage="usage: python_services_test.sh BUILD_DIR SOURCE_ROOT PYTHON PREFIX"
build=${1:?$usage} src=${2:?$usage} python=${3:?$usage} prefix=${4:?$usage}
exec "$src/tests/scripts/binding_services.sh" "$build" "$prefix" VOLCRYPT_PREFIX="$prefix" \
  -- "$python" -I "$src/examples/python/services_test.py"

#!/usr/bin/env bash
# The Go package against real services (binding_services.sh: Ceph, libvirtd
# with a paused domain and the ceph secret, Barbican, PostgreSQL), built
# from the INSTALLED package and library: the Go tests tagged
# volcrypt_services, run in the installed module source with nothing but
# pkg-config finding volcrypt.pc: an rbd volume created, extended, attached
# live, snapshotted, cloned, detached and deleted; 8 goroutines running rbd
# lifecycles at once; an rbd volume whose key is in Barbican and whose
# record is in PostgreSQL. Skipped (77) without Go or a service.
#   go_services_test.sh BUILD_DIR PREFIX DATADIR
set -euo pipefail
usage="usage: go_services_test.sh BUILD_DIR PREFIX DATADIR"
build=$(cd "${1:?$usage}" && pwd)
prefix=${2:?$usage}
datadir=${3:?$usage}
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
command -v go >/dev/null || { echo "go is not installed" >&2; exit 77; }
gosrc=$prefix/$datadir/gocode/src/volcrypt.dev/go
# cgo does not track headers outside the package: key the cache on them.
headers=$(cat "$src/capi/volcrypt.h" "$build/capi/volcrypt_version.h" | sha1sum | cut -c1-12)
# shellcheck disable=SC2016
exec "$src/tests/scripts/binding_services.sh" "$build" "$prefix" \
  GOCACHE="$build/go-install-cache-$headers" GOPATH="$build/go-services-path" \
  GOFLAGS=-mod=mod GOPROXY=off CGO_ENABLED=1 -- bash -c '
    set -eo pipefail
    cd "$1" || { echo "the Go package was not installed at $1" >&2; exit 1; }
    "$2" vet -tags volcrypt_services ./...
    "$2" test -count=1 -tags volcrypt_services -run "^TestServices" -timeout 300s -v \
      ./volcrypt 2>&1 | grep -v "^volcrypt: WARNING"' _ "$gosrc" "$(command -v go)"

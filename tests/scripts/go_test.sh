#!/usr/bin/env bash
# Runs the Go bindings' tests against the built library (cgo, pkg-config
# finds meson's uninstalled volcrypt.pc). Skipped (77) without Go.
set -euo pipefail
shopt -s extglob
build=${1:?usage: go_test.sh BUILD_DIR SOURCE_ROOT}
src=${2:?usage: go_test.sh BUILD_DIR SOURCE_ROOT}
command -v go >/dev/null || { echo "go is not installed" >&2; exit 77; }
export PKG_CONFIG_PATH=$build/meson-uninstalled
export LD_LIBRARY_PATH=$build/capi${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
# cgo does not track headers outside the package: key the cache on them.
headers=$(cat "$src/capi/volcrypt.h" "$build/capi/volcrypt_version.h" | sha1sum | cut -c1-12)
rm -rf "$build"/go-cache-!("$headers") 2>/dev/null || true
export GOCACHE=$build/go-cache-$headers GOPATH=$build/go-path GOFLAGS=-mod=mod GOPROXY=off
export CGO_ENABLED=1
cd "$src/examples/go"
go vet ./...
go test -count=1 ./...

#!/usr/bin/env bash
# The Go package as a user outside the repository gets it: `meson install`
# into a scratch DESTDIR; inside a private mount namespace the DESTDIR's
# prefix is bound over the real prefix (so every file sits at its true
# installed path) and a private loader cache is bound over
# /etc/ld.so.cache (what `ldconfig` after a real install makes). There a
# separate program, `go mod init` + `replace volcrypt.dev/go => <installed
# source>`, is built with nothing but pkg-config finding volcrypt.pc (no
# PKG_CONFIG_PATH, CGO_* or LD_LIBRARY_PATH) and runs the scenario: create a
# file volume, attach plan, verify, delete, then 8 goroutines doing the same
# at once. It must load the installed libvolcrypt.so.0.
#   go_install_test.sh BUILD_DIR PREFIX DATADIR VERSION
set -euo pipefail
shopt -s extglob
build=$(cd "$1" && pwd) prefix=$2 datadir=$3 version=$4
command -v go >/dev/null || { echo "go is not installed" >&2; exit 77; }
case $prefix in /usr|/usr/|/) echo "prefix $prefix: binding an install over it would hide the system" >&2; exit 77 ;; esac
[ "$(id -u)" = 0 ] || { echo "needs root (a mount namespace)" >&2; exit 77; }
go=$(command -v go)
work=$(mktemp -d /tmp/volcrypt-goinstall-XXXXXX)
trap 'rm -rf "$work"' EXIT
meson install -C "$build" --destdir "$work/root" --no-rebuild --quiet >/dev/null
gosrc=$prefix/$datadir/gocode/src/volcrypt.dev/go
[ -f "$work/root$gosrc/go.mod" ] || { echo "the Go package was not installed at $gosrc" >&2; exit 1; }
# cgo does not track headers outside the package: key the cache on the
# installed ones.
headers=$(cat "$work/root$prefix"/include/volcrypt{,_version}.h | sha1sum | cut -c1-12)
rm -rf "$build"/go-install-cache-!("$headers") 2>/dev/null || true
mkdir -m 0700 "$work/state" "$work/app"
printf '%s' "$(printf '5a%.0s' $(seq 32))" >"$work/state/master.key"
chmod 0600 "$work/state/master.key"
cat >"$work/app/main.go" <<'GO'
// A host agent's use of volcrypt, built outside the repository.
package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"volcrypt.dev/go/volcrypt"
)

func lifecycle(ctx context.Context, svc *volcrypt.Service, dir, id string) error {
	path := filepath.Join(dir, id)
	if _, err := svc.CreateVolume(ctx, volcrypt.CreateRequest{ID: id, Path: path, SizeBytes: 16 << 20}); err != nil {
		return err
	}
	plan, err := svc.AttachPlan(ctx, id, volcrypt.AttachOptions{TargetBus: "virtio"})
	if err != nil {
		return err
	}
	defer plan.Passphrase.Wipe()
	if slot, err := volcrypt.VerifyPassphrase(path, plan.Passphrase.Bytes()); err != nil || slot != 0 {
		return fmt.Errorf("%s: passphrase opens slot %d: %v", id, slot, err)
	}
	if slot, err := svc.VerifyVolume(ctx, id); err != nil || slot != 0 {
		return fmt.Errorf("%s: verify: slot %d: %v", id, slot, err)
	}
	if err := svc.DeleteVolume(ctx, id); err != nil {
		return err
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		return fmt.Errorf("%s: file left behind", id)
	}
	return nil
}

func main() {
	ctx := context.Background()
	dir := os.Args[1]
	keys, err := volcrypt.OpenFileKeys(filepath.Join(dir, "keys"), filepath.Join(dir, "master.key"))
	if err != nil {
		log.Fatal(err)
	}
	store, err := volcrypt.OpenSQLiteStore(filepath.Join(dir, "volumes.db"))
	if err != nil {
		log.Fatal(err)
	}
	mapped, err := volcrypt.OpenMappedBackend()
	if err != nil {
		log.Fatal(err)
	}
	svc, err := volcrypt.NewService(volcrypt.ServiceOptions{Keys: keys, Store: store, Mapped: mapped, Host: "agent"})
	if err != nil {
		log.Fatal(err)
	}
	if err := lifecycle(ctx, svc, dir, "v1"); err != nil {
		log.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) { defer wg.Done(); errs <- lifecycle(ctx, svc, dir, fmt.Sprintf("c%d", i)) }(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			log.Fatal(err)
		}
	}
	if left, err := store.Volumes(ctx); err != nil || len(left) != 0 {
		log.Fatalf("records left: %v %v", left, err)
	}
	for _, c := range []interface{ Close() error }{svc, mapped, store, keys} {
		if err := c.Close(); err != nil {
			log.Fatal(err)
		}
	}
	maps, _ := os.ReadFile("/proc/self/maps")
	lib := "libvolcrypt not mapped"
	for _, line := range strings.Split(string(maps), "\n") {
		if i := strings.Index(line, "/"); i >= 0 && strings.Contains(line, "libvolcrypt.so") {
			lib = line[i:]
			break
		}
	}
	fmt.Println(lib, volcrypt.Version(), volcrypt.HeaderVersion)
}
GO
# shellcheck disable=SC2016
unshare -m --propagation private bash -c '
  set -e
  work=$1 prefix=$2 gosrc=$3 go=$4 cache=$5
  mount --bind "$work/root$prefix" "$prefix"
  ldconfig -X -C "$work/ld.so.cache"
  mount --bind "$work/ld.so.cache" /etc/ld.so.cache
  cd "$work/app"
  run() { env -i PATH=/usr/bin:/bin HOME="$work" GOCACHE="$cache" GOPATH="$work/gopath" \
              GOFLAGS=-mod=mod GOPROXY=off CGO_ENABLED=1 "$@"; }
  run "$go" mod init example.com/agent >/dev/null 2>&1
  run "$go" mod edit -require=volcrypt.dev/go@v0.0.0 -replace=volcrypt.dev/go="$gosrc"
  [ "$(run "$go" list -m -f "{{.Dir}}" volcrypt.dev/go)" = "$gosrc" ]
  run "$go" vet .
  run "$go" build -o agent .
  env -i ./agent "$work/state"' _ "$work" "$prefix" "$gosrc" "$go" "$build/go-install-cache-$headers" |
  tee "$work/out"
grep -q "^$prefix/.*libvolcrypt.so.0[.0-9]* $version $version\$" "$work/out" || {
  echo "the program did not run against the installed libvolcrypt $version" >&2; exit 1; }
echo "a Go program outside the repository builds against the installed package with pkg-config alone"

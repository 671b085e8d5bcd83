#!/usr/bin/env bash
# The Go package against real services: a throwaway Ceph cluster
# (ceph.sh), a private libvirtd (libvirtd.sh) with a paused domain and the
# libvirt "ceph" secret holding client.admin's key (what a deployment
# provides), Barbican (barbican.sh) and PostgreSQL (postgres.sh); then the
# Go tests tagged volcrypt_services, built from the INSTALLED package and
# library (a DESTDIR install bound over the prefix, as in
# go_install_test.sh): an rbd volume created, extended, attached live,
# snapshotted, cloned, detached and deleted; 8 goroutines running rbd
# lifecycles at once; an rbd volume whose key is in Barbican and whose
# record is in PostgreSQL. Everything is stopped by PID on exit.
# Skipped (77) without Go, root, Ceph, libvirtd, Barbican or PostgreSQL.
#   go_services_test.sh BUILD_DIR PREFIX DATADIR
set -euo pipefail
shopt -s extglob
build=$(cd "${1:?usage: go_services_test.sh BUILD_DIR PREFIX DATADIR}" && pwd)
prefix=${2:?usage: go_services_test.sh BUILD_DIR PREFIX DATADIR}
datadir=${3:?usage: go_services_test.sh BUILD_DIR PREFIX DATADIR}
scripts=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
command -v go >/dev/null || { echo "go is not installed" >&2; exit 77; }
case $prefix in /usr|/usr/|/) echo "prefix $prefix: binding an install over it would hide the system" >&2; exit 77 ;; esac
[ "$(id -u)" = 0 ] || { echo "needs root (libvirtd.sh)" >&2; exit 77; }
work=$(mktemp -d /tmp/volcrypt-goservices-XXXXXX)
cleanup() {
  "$scripts/libvirtd.sh" stop "$work/libvirt" >/dev/null 2>&1 || true
  "$scripts/ceph.sh" stop "$work/ceph" >/dev/null 2>&1 || true
  "$scripts/barbican.sh" stop "$work/barbican" >/dev/null 2>&1 || true
  "$scripts/postgres.sh" stop "$work/postgres" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
chmod o+x "$work"   # postgres.sh runs its server as nobody
conf=$("$scripts/ceph.sh" start "$work/ceph")
uri=$("$scripts/libvirtd.sh" start "$work/libvirt")
barbican=$("$scripts/barbican.sh" start "$work/barbican")
conninfo=$("$scripts/postgres.sh" start "$work/postgres")
secret=c3c3c3c3-0000-4000-8000-00000000600d
domain=volcrypt-go
virsh -c "$uri" -q secret-define /dev/stdin >/dev/null <<XML
<secret ephemeral='no' private='yes'><uuid>$secret</uuid>
<usage type='ceph'><name>client.admin secret</name></usage></secret>
XML
# The key goes through a pipe (base64, as ceph-authtool prints it), never argv.
ceph-authtool -p -n client.admin "$work/ceph/keyring" |
  virsh -c "$uri" -q secret-set-value "$secret" --file /dev/stdin >/dev/null
type=qemu
[ -w /dev/kvm ] && type=kvm
virsh -c "$uri" -q define /dev/stdin >/dev/null <<XML
<domain type='$type'><name>$domain</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='pc'>hvm</type></os>
<devices><controller type='usb' model='none'/>
<controller type='scsi' index='0' model='virtio-scsi'/>
<memballoon model='none'/></devices></domain>
XML
virsh -c "$uri" -q start --paused "$domain" >/dev/null
# The package and library as installed (DESTDIR bound over the prefix, a
# private ldconfig cache), as go_install_test.sh does; the tests run in the
# installed module source with nothing but pkg-config finding volcrypt.pc.
meson install -C "$build" --destdir "$work/root" --no-rebuild --quiet >/dev/null
gosrc=$prefix/$datadir/gocode/src/volcrypt.dev/go
[ -f "$work/root$gosrc/go.mod" ] || { echo "the Go package was not installed at $gosrc" >&2; exit 1; }
# cgo does not track headers outside the package: key the cache on them.
headers=$(cat "$work/root$prefix"/include/volcrypt{,_version}.h | sha1sum | cut -c1-12)
# shellcheck disable=SC2016
unshare -m --propagation private bash -c '
  set -eo pipefail
  work=$1 prefix=$2 gosrc=$3 go=$4 cache=$5 conf=$6 uri=$7 domain=$8 secret=$9
  barbican=${10} conninfo=${11}
  mount --bind "$work/root$prefix" "$prefix"
  ldconfig -X -C "$work/ld.so.cache"
  mount --bind "$work/ld.so.cache" /etc/ld.so.cache
  cd "$gosrc"
  run() { env -i PATH=/usr/bin:/bin HOME="$work" GOCACHE="$cache" GOPATH="$work/gopath" \
              GOFLAGS=-mod=mod GOPROXY=off CGO_ENABLED=1 VOLCRYPT_CEPH_CONF="$conf" \
              VOLCRYPT_LIBVIRT_URI="$uri" VOLCRYPT_DOMAIN="$domain" VOLCRYPT_CEPH_SECRET="$secret" \
              VOLCRYPT_BARBICAN_URL="$barbican" VOLCRYPT_PG_CONNINFO="$conninfo" "$@"; }
  run "$go" vet -tags volcrypt_services ./...
  run "$go" test -count=1 -tags volcrypt_services -run "^TestServices" -timeout 300s -v ./volcrypt 2>&1 |
    grep -v "^volcrypt: WARNING"' _ "$work" "$prefix" "$gosrc" "$(command -v go)" \
  "$build/go-install-cache-$headers" "$conf" "$uri" "$domain" "$secret" "$barbican" "$conninfo"

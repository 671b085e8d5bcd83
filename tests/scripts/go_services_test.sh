#!/usr/bin/env bash
# The Go package against real services: a throwaway Ceph cluster
# (ceph.sh), a private libvirtd (libvirtd.sh) with a paused domain and the
# libvirt "ceph" secret holding client.admin's key (what a deployment
# provides), Barbican (barbican.sh) and PostgreSQL (postgres.sh); then the
# Go tests tagged volcrypt_services: an rbd volume created, extended,
# attached live, snapshotted, cloned, detached and deleted; 8 goroutines
# running rbd lifecycles at once; an rbd volume whose key is in Barbican
# and whose record is in PostgreSQL. Everything is stopped by PID on exit.
# Skipped (77) without Go, root, Ceph, libvirtd, Barbican or PostgreSQL.
#   go_services_test.sh BUILD_DIR SOURCE_ROOT
set -euo pipefail
shopt -s extglob
build=$(cd "${1:?usage: go_services_test.sh BUILD_DIR SOURCE_ROOT}" && pwd)
src=$(cd "${2:?usage: go_services_test.sh BUILD_DIR SOURCE_ROOT}" && pwd)
scripts=$src/tests/scripts
command -v go >/dev/null || { echo "go is not installed" >&2; exit 77; }
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
export PKG_CONFIG_PATH=$build/meson-uninstalled
export LD_LIBRARY_PATH=$build/capi${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
# cgo does not track headers outside the package: key the cache on them.
headers=$(cat "$src/capi/volcrypt.h" "$build/capi/volcrypt_version.h" | sha1sum | cut -c1-12)
export GOCACHE=$build/go-cache-$headers GOPATH=$build/go-path GOFLAGS=-mod=mod GOPROXY=off
export CGO_ENABLED=1
export VOLCRYPT_CEPH_CONF=$conf VOLCRYPT_LIBVIRT_URI=$uri VOLCRYPT_DOMAIN=$domain
export VOLCRYPT_CEPH_SECRET=$secret VOLCRYPT_BARBICAN_URL=$barbican VOLCRYPT_PG_CONNINFO=$conninfo
cd "$src/examples/go"
go vet -tags volcrypt_services ./...
go test -count=1 -tags volcrypt_services -run '^TestServices' -timeout 300s -v ./volcrypt 2>&1 |
  grep -v '^volcrypt: WARNING'

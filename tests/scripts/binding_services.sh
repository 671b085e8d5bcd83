#!/usr/bin/env bash
# Real services for a binding's tests, and the binding as installed: a
# throwaway Ceph cluster (ceph.sh), a private libvirtd (libvirtd.sh) with a
# paused domain and the libvirt "ceph" secret holding client.admin's key
# (what a deployment provides), Barbican (barbican.sh) and PostgreSQL
# (postgres.sh). BUILD_DIR is installed into a scratch DESTDIR, and COMMAND
# runs in a private mount namespace where that install is bound over PREFIX
# (with a private ldconfig cache, since /etc/ld.so.cache is global), from /,
# with an environment of only PATH, HOME, the NAME=VALUE pairs given and:
#   VOLCRYPT_CEPH_CONF, VOLCRYPT_LIBVIRT_URI, VOLCRYPT_DOMAIN (running,
#   paused), VOLCRYPT_CEPH_SECRET (the libvirt secret's UUID),
#   VOLCRYPT_BARBICAN_URL, VOLCRYPT_PG_CONNINFO, VOLCRYPT_WORK (scratch).
# Everything is stopped by PID on exit. Exit 77 (skipped) without root or a
# usable PREFIX; the service scripts exit 77 when their service is missing.
#   binding_services.sh BUILD_DIR PREFIX [NAME=VALUE...] -- COMMAND [ARG...]
set -euo pipefail
usage="usage: binding_services.sh BUILD_DIR PREFIX [NAME=VALUE...] -- COMMAND [ARG...]"
build=$(cd "${1:?$usage}" && pwd)
prefix=${2:?$usage}
shift 2
extra_env=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do extra_env+=("$1"); shift; done
[ "${1:-}" = -- ] && [ $# -ge 2 ] || { echo "$usage" >&2; exit 2; }
shift
scripts=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
case $prefix in /usr|/usr/|/) echo "prefix $prefix: binding an install over it would hide the system" >&2; exit 77 ;; esac
[ "$(id -u)" = 0 ] || { echo "needs root (libvirtd.sh, a mount namespace)" >&2; exit 77; }
work=$(mktemp -d /tmp/volcrypt-bindings-XXXXXX)
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
domain=volcrypt-bindings
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
meson install -C "$build" --destdir "$work/root" --no-rebuild --quiet >/dev/null
mkdir "$work/scratch"
unshare -m --propagation private bash -c '
  set -eo pipefail
  work=$1 prefix=$2; shift 2
  mount --bind "$work/root$prefix" "$prefix"
  ldconfig -X -C "$work/ld.so.cache"
  mount --bind "$work/ld.so.cache" /etc/ld.so.cache
  cd /
  exec env -i "$@"' _ "$work" "$prefix" PATH=/usr/bin:/bin HOME="$work/scratch" \
  VOLCRYPT_CEPH_CONF="$conf" VOLCRYPT_LIBVIRT_URI="$uri" VOLCRYPT_DOMAIN="$domain" \
  VOLCRYPT_CEPH_SECRET="$secret" VOLCRYPT_BARBICAN_URL="$barbican" \
  VOLCRYPT_PG_CONNINFO="$conninfo" VOLCRYPT_WORK="$work/scratch" "${extra_env[@]}" "$@"

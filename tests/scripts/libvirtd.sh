#!/usr/bin/env bash
# A private libvirtd for tests and the demo: its own mount namespace, its own
# config, state and socket under DIR, only the qemu and secret drivers, no
# autostart. Nothing outside DIR is touched; it is stopped by its PID.
#   tests/scripts/libvirtd.sh start DIR   prints the connection URI
#   tests/scripts/libvirtd.sh stop DIR    stops it and the QEMUs it started
# With VOLCRYPT_CURRENT_STACK=1 the daemon is Debian 13's libvirt 11.3 with
# QEMU 10.0 and librbd 18.2, run inside tests/scripts/current_stack.sh's root (built on
# first use); clients on the host reach it through the same socket.
set -euo pipefail
cmd=${1:?usage: libvirtd.sh start|stop DIR}
dir=$(mkdir -p "${2:?usage: libvirtd.sh start|stop DIR}" && cd "$2" && pwd)
uri="qemu:///system?socket=$dir/run/libvirt-sock"

stop() {
  [ -f "$dir/libvirtd.pid" ] || return 0
  local pid
  pid=$(cat "$dir/libvirtd.pid")
  # QEMU children first (their PIDs are in the private run directory).
  for f in "$dir"/run/qemu/*.pid; do
    [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null || true
  done
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$dir/libvirtd.pid"
}

if [ "$cmd" = stop ]; then stop; exit 0; fi
[ "$cmd" = start ] || { echo "usage: libvirtd.sh start|stop DIR" >&2; exit 2; }
if [ "$(id -u)" -ne 0 ]; then echo "libvirtd.sh: needs root (mount namespace)" >&2; exit 77; fi
stack=""
if [ "${VOLCRYPT_CURRENT_STACK:-}" = 1 ]; then
  stack=$(bash "$(dirname "${BASH_SOURCE[0]}")/current_stack.sh" build)
else
  command -v libvirtd >/dev/null || { echo "libvirtd.sh: libvirtd is not installed" >&2; exit 77; }
fi
stop

mkdir -p "$dir"/{etc,lib,log,cache,run,drivers}
# Mount points only (the libvirt-daemon package normally makes them); what
# the daemon writes there lands in DIR.
mkdir -p /var/lib/libvirt /var/log/libvirt /var/cache/libvirt /etc/libvirt
# The QEMU driver resolves its compiled-in default user before it reads
# qemu.conf (which says root); libvirt-daemon-system would create it.
getent group libvirt-qemu >/dev/null || groupadd --system libvirt-qemu
getent passwd libvirt-qemu >/dev/null ||
  useradd --system --no-create-home --shell /usr/sbin/nologin -g libvirt-qemu libvirt-qemu
# Each daemon a host of its own: libvirt refuses a migration between two
# daemons with one host UUID ("Attempt to migrate guest to the same host").
[ -s "$dir/host_uuid" ] || cat /proc/sys/kernel/random/uuid >"$dir/host_uuid"
cat >"$dir/etc/libvirtd.conf" <<CONF
host_uuid = "$(cat "$dir/host_uuid")"
unix_sock_dir = "/run/libvirt"
auth_unix_ro = "none"
auth_unix_rw = "none"
log_outputs = "3:file:/var/log/libvirt/libvirtd.log"
CONF
cat >"$dir/etc/qemu.conf" <<CONF
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
stdio_handler = "file"
cgroup_controllers = [ ]
CONF
# In a chroot, libvirt's per-domain mount namespace leaves QEMU almost no
# /dev (no /dev/kvm, no /dev/urandom for librbd's encryption load).
[ -z "$stack" ] || echo 'namespaces = [ ]' >>"$dir/etc/qemu.conf"
drivers=/usr/lib/x86_64-linux-gnu/libvirt/connection-driver
[ -d "$stack$drivers" ] ||
  drivers=$(dirname "$(find "$stack/usr/lib" -name libvirt_driver_qemu.so | head -1)")
drivers=${drivers#"$stack"}
ln -sf "$drivers/libvirt_driver_qemu.so" "$drivers/libvirt_driver_secret.so" "$dir/drivers/"

# The daemon sees DIR's directories at the standard paths; clients reach its
# socket at DIR/run/libvirt-sock. In the current stack's root, / is that
# root (bind-mounted onto itself: libvirt wants / to be a mount point), with
# the host's /dev, /proc, /sys and /tmp (DIR, the tests' volumes).
LIBVIRT_DRIVER_DIR="$dir/drivers" LIBVIRT_AUTOSTART=0 \
setsid unshare -m --propagation private sh -c '
  set -e
  r=$2
  if [ -n "$r" ]; then
    mount -n --bind "$r" "$r"
    mount -n -t proc proc "$r/proc"
    mount -n --rbind /dev "$r/dev"
    mount -n --rbind /sys "$r/sys"
    mount -n --bind /tmp "$r/tmp"
    mkdir -p "$r/var/lib/libvirt" "$r/var/log/libvirt" "$r/var/cache/libvirt" "$r/etc/libvirt"
  fi
  mount -n -t tmpfs tmpfs "$r/run"
  mkdir -p "$r/run/libvirt"
  mount -n --bind "$1/run" "$r/run/libvirt"
  mount -n --bind "$1/etc" "$r/etc/libvirt"
  mount -n --bind "$1/lib" "$r/var/lib/libvirt"
  mount -n --bind "$1/log" "$r/var/log/libvirt"
  mount -n --bind "$1/cache" "$r/var/cache/libvirt"
  set -- libvirtd --config /etc/libvirt/libvirtd.conf --pid-file /run/libvirt/libvirtd.pid
  if [ -n "$r" ]; then cd "$r"; exec chroot "$r" "$@"; fi
  exec "$@"
' sh "$dir" "$stack" >"$dir/daemon.out" 2>&1 &
echo $! >"$dir/libvirtd.pid"

for _ in $(seq 100); do
  if [ -S "$dir/run/libvirt-sock" ] && virsh -c "$uri" version >/dev/null 2>&1; then
    echo "$uri"
    exit 0
  fi
  kill -0 "$(cat "$dir/libvirtd.pid")" 2>/dev/null || break
  sleep 0.1
done
echo "libvirtd.sh: libvirtd did not come up; see $dir/daemon.out and $dir/log" >&2
cat "$dir/daemon.out" >&2 || true
stop
exit 1

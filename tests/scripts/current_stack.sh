#!/usr/bin/env bash
# The current stack beside the stock one: a Debian 13 root (debootstrap) with
# its libvirt 11.3, QEMU 10.0 and librbd 18.2 (Reef), in which the tests run a
# private libvirtd and the data-path bench runs qemu-io. Debian 12's own
# libvirt 9.0, QEMU 7.2 and librbd 16.2 stay the stock stack on the host.
#   current_stack.sh build         makes the root if missing; prints its path
#   current_stack.sh run CMD...    runs CMD inside it (builds it first)
#   current_stack.sh versions      libvirtd's and QEMU's versions inside it
# The root is cached in $VOLCRYPT_CURRENT_STACK_CACHE (default
# /var/cache/volcrypt-current-stack) under a hash of the recipe below, so a
# second build is instant and a changed package list makes a new root. CMD
# sees the host's /dev (with /dev/kvm, /dev/shm), /proc, /sys, /tmp and the
# source tree (with its build directories) at their own paths, and nothing
# it mounts leaks out: everything happens in a private mount namespace.
# Needs root; exit 77 when debootstrap is missing (tests skip with the reason).
set -euo pipefail
root_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cache=${VOLCRYPT_CURRENT_STACK_CACHE:-/var/cache/volcrypt-current-stack}
mirror=${VOLCRYPT_DEBIAN_MIRROR:-http://deb.debian.org/debian}

# The recipe. Any change to it makes a new root (its hash names the root).
# Debian 13 rather than bookworm-backports: the same libvirt 11.3 and QEMU
# 10.0, and a current Ceph client under QEMU's rbd driver too (librbd 18.2,
# what clouds on Reef or Squid run; backports' QEMU links Debian 12's 16.2).
recipe_version=2
suite=trixie
packages=(
  libvirt-daemon libvirt-daemon-driver-qemu libvirt-daemon-driver-secret
  libvirt-clients qemu-system-x86 qemu-utils qemu-block-extra ceph-common python3
)

recipe_hash() {
  printf '%s\n' "$recipe_version" "$suite" "${packages[@]}" |
    sha256sum | cut -c1-16
}
stack=$cache/root-$(recipe_hash)

need_root() {
  if [ "$(id -u)" -ne 0 ]; then echo "current_stack.sh: needs root" >&2; exit 77; fi
}

build() {
  need_root
  [ -f "$stack/.volcrypt-complete" ] && return 0
  command -v debootstrap >/dev/null ||
    { echo "current_stack.sh: debootstrap is not installed (install_deps.sh test)" >&2; exit 77; }
  mkdir -p "$cache"
  # One builder at a time; the others wait and then find it done.
  exec 9>"$cache/lock"
  flock 9
  [ -f "$stack/.volcrypt-complete" ] && return 0
  local tmp=$stack.partial
  rm -rf "$tmp"
  echo "current_stack.sh: building $stack (debootstrap $suite)" >&2
  local t0=$SECONDS
  debootstrap --variant=minbase "$suite" "$tmp" "$mirror" >"$cache/build.log" 2>&1 ||
    { tail -20 "$cache/build.log" >&2; exit 1; }
  cat >"$tmp/etc/apt/sources.list" <<EOF
deb $mirror $suite main
deb $mirror $suite-updates main
EOF
  # Packages must not start services in the root.
  printf '#!/bin/sh\nexit 101\n' >"$tmp/usr/sbin/policy-rc.d"
  chmod 755 "$tmp/usr/sbin/policy-rc.d"
  # shellcheck disable=SC2016
  unshare -m --propagation private sh -c '
    set -e
    mount -n -t proc proc "$1/proc"
    mount -n --rbind /dev "$1/dev"
    export DEBIAN_FRONTEND=noninteractive
    chroot "$1" apt-get update -qq
    chroot "$1" apt-get install -y -qq --no-install-recommends $2 >/dev/null
    chroot "$1" apt-get clean
  ' sh "$tmp" "${packages[*]}" >>"$cache/build.log" 2>&1 ||
    { tail -20 "$cache/build.log" >&2; exit 1; }
  # The QEMU driver resolves its compiled-in user before reading qemu.conf.
  chroot "$tmp" sh -c 'getent group libvirt-qemu >/dev/null || groupadd --system libvirt-qemu
    getent passwd libvirt-qemu >/dev/null ||
      useradd --system --no-create-home -s /usr/sbin/nologin -g libvirt-qemu libvirt-qemu'
  # A chroot leaves libvirt's per-domain mount namespace almost no /dev:
  # KVM fails ("Could not access KVM kernel module") and librbd's
  # encryption load fails ("Function not implemented"). The test bed's own
  # qemu.conf says the same (tests/scripts/libvirtd.sh).
  echo 'namespaces = [ ]' >>"$tmp/etc/libvirt/qemu.conf"
  rm -f "$tmp/usr/sbin/policy-rc.d"
  chroot "$tmp" sh -c 'libvirtd --version; qemu-system-x86_64 --version | head -1
    dpkg-query -W -f "librbd1 \${Version}\n" librbd1' \
    >"$tmp/.volcrypt-versions"
  date -u +%FT%TZ >"$tmp/.volcrypt-complete"
  # Older recipes' roots are dead weight.
  find "$cache" -maxdepth 1 -name 'root-*' ! -name "$(basename "$stack")*" \
    -exec rm -rf {} + 2>/dev/null || true
  mv "$tmp" "$stack"
  echo "current_stack.sh: built in $((SECONDS - t0)) s: $(tr '\n' ' ' <"$stack/.volcrypt-versions")" >&2
}

# Runs "$@" inside the root, in a private mount namespace. The root is
# bind-mounted onto itself first: libvirt (and unshare -m inside) needs its
# `/` to be a mount point ("cannot change root filesystem propagation").
run() {
  build
  # shellcheck disable=SC2016
  exec unshare -m --propagation private sh -c '
    set -e
    r=$1 src=$2; shift 2
    mount -n --bind "$r" "$r"
    mount -n -t proc proc "$r/proc"
    mount -n --rbind /dev "$r/dev"
    mount -n --rbind /sys "$r/sys"
    mount -n --bind /tmp "$r/tmp"
    mkdir -p "$r$src"
    mount -n --bind "$src" "$r$src"
    mount -n -t tmpfs tmpfs "$r/run"
    cd "$r$src"
    exec chroot "$r" env -C "$src" "$@"
  ' sh "$stack" "$root_dir" "$@"
}

case "${1:-}" in
  build) build; echo "$stack" ;;
  run) shift; [ $# -gt 0 ] || { echo "usage: current_stack.sh run CMD..." >&2; exit 2; }; run "$@" ;;
  versions) build; cat "$stack/.volcrypt-versions" ;;
  path) echo "$stack" ;;
  *) echo "usage: current_stack.sh build|run CMD...|versions|path" >&2; exit 2 ;;
esac

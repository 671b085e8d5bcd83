#!/usr/bin/env bash
# Installs the Debian 12 packages volcrypt needs to build and test, if any are
# missing. apt-get update runs once, only when something must be installed.
# Usage: tests/scripts/install_deps.sh [build|demo|test]   (default: test)
#   build  what the library and the CLI need to build
#   demo   that plus what examples/demo.sh runs (QEMU, libvirtd, Ceph, cryptsetup)
#   test   everything: the test and benchmark frameworks and every service
set -euo pipefail

build_packages=(
  meson ninja-build pkg-config g++
  libcryptsetup-dev libblkid-dev libssl-dev libabsl-dev
  libsqlite3-dev libpq-dev libxml2-dev nlohmann-json3-dev libvirt-dev
  librbd-dev librados-dev libcurl4-openssl-dev
)
demo_packages=(
  cryptsetup-bin qemu-utils qemu-block-extra libvirt-clients
  libvirt-daemon libvirt-daemon-driver-qemu qemu-system-x86
  ceph-mon ceph-osd ceph-common
)
# The test and benchmark frameworks, and the services and independent readers
# the tests check our volumes against, and clang with its libFuzzer runtime
# (libclang_rt.fuzzer, in libclang-rt-14-dev, which clang only recommends)
# for tests/fuzz; hyperfine and matplotlib for bench/process_bench.sh.
test_packages=(
  libgtest-dev libgmock-dev libbenchmark-dev
  e2fsprogs util-linux mount sqlite3 python3-castellan strace
  golang-go abigail-tools xz-utils barbican-api python3-barbican
  python3-barbicanclient postgresql python3-keystone python3-psycopg2 curl
  python3-pip python3-venv python3-setuptools python3-wheel
  clang libclang-rt-14-dev
  hyperfine python3-matplotlib debootstrap
)

wanted=("${build_packages[@]}")
case "${1:-test}" in
  build) ;;
  demo) wanted+=("${demo_packages[@]}") ;;
  test) wanted+=("${demo_packages[@]}" "${test_packages[@]}") ;;
  *) echo "usage: install_deps.sh [build|demo|test]" >&2; exit 2 ;;
esac

missing=()
for p in "${wanted[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "install_deps: missing packages: ${missing[*]}; run as root or install them" >&2
  exit 1
fi
echo "install_deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

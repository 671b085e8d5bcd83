#!/usr/bin/env bash
# The guest's data path: what QEMU reads and writes through each way of
# opening an encrypted volume, on a throwaway Ceph cluster (one monitor, one
# memstore OSD: CPU-bound, so the cipher's cost shows) and on tmpfs files, in
# one run. Every figure comes from qemu-io in one process per repetition
# (the open is not timed; qemu-io times each request itself):
#   seq write   SIZE written as 4 MiB requests, one at a time
#   seq read    the same bytes read back, 4 MiB at a time
#   rand QD1    1024 reads of 4 KiB at scattered offsets, one at a time
#   rand QD32   2048 reads of 4 KiB, issued 32 at a time (aio_read), each
#               batch drained before the next
# Paths: raw rbd; QEMU's luks driver over rbd (LUKS1); librbd's encryption
# (LUKS1, LUKS2 with 512- and 4096-byte sectors); raw files; QEMU LUKS1
# files. Headers made by volcrypt's CLI beside ones made by
# `rbd encryption format` and `qemu-img create -f luks`.
# Usage: bench/datapath_bench.sh [--runs N] [--size MIB] [--out DIR]
#                                [--only REGEX]
#   prints the Markdown table of medians; DIR (default a temporary one)
#   keeps runs.csv; bench/datapath_report.py plot DIR/runs.csv OUT.svg draws it.
# Environment: VOLCRYPT_CLI (the volcrypt binary; default: build-release's,
# built if missing), QEMU_IO (default qemu-io; may carry arguments),
# DATAPATH_TMPFS (/dev/shm).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
runs=5 size_mib=256 out="" only=""
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=$2; shift 2 ;;
    --size) size_mib=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    *) echo "usage: datapath_bench.sh [--runs N] [--size MIB] [--out DIR] [--only REGEX]" >&2
       exit 2 ;;
  esac
done
# QEMU_IO may be a command with arguments: QEMU_IO="tests/scripts/current_stack.sh
# run qemu-io" measures the current stack's QEMU 10.x.
read -ra qemu_io <<<"${QEMU_IO:-qemu-io}"
tmpfs=${DATAPATH_TMPFS:-/dev/shm}
cli=${VOLCRYPT_CLI:-}
if [ -z "$cli" ]; then
  build=${VOLCRYPT_BENCH_BUILD_DIR:-$root/build-release}
  [ -f "$build/build.ninja" ] ||
    meson setup "$build" "$root" -Dbuildtype=release -Dtests=false >/dev/null
  ninja -C "$build" examples/volcrypt >/dev/null
  cli=$build/examples/volcrypt
fi
work=$(mktemp -d /tmp/volcrypt-datapath-XXXXXX)
files=$(mktemp -d "$tmpfs/volcrypt-datapath-XXXXXX")
[ -n "$out" ] || out=$work/out
mkdir -p "$out"
csv=$out/runs.csv
echo "path,header,run,metric,mib_per_s" >"$csv"
cleanup() {
  bash "$root/tests/scripts/ceph.sh" stop "$work/ceph" || true
  rm -rf "$work" "$files"
}
trap cleanup EXIT
# Every rbd volume stays written until the end: room for all of them in the
# memstore OSD (a full OSD blocks writes rather than failing them).
conf=$(CEPH_MEMSTORE_BYTES=$(((size_mib + 64) * 12 * 1048576 + (1 << 30))) \
  bash "$root/tests/scripts/ceph.sh" start "$work/ceph")
vc() { "$cli" --state-dir "$work/state" --ceph-conf "$conf" "$@"; }

# The passphrase of headers volcrypt did not make: random, kept in this
# shell, handed to each tool through a pipe.
other_pass=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
pass_other() { printf %s "$other_pass"; }

# The qemu-io commands of one repetition, the same offsets for every path.
seq_ops=$((size_mib / 4))
blocks=$((size_mib * 256))
cmds=()
for ((i = 0; i < seq_ops; i++)); do cmds+=(-c "write -P $((i % 250 + 1)) $((i * 4))M 4M"); done
for ((i = 0; i < seq_ops; i++)); do cmds+=(-c "read $((i * 4))M 4M"); done
for ((i = 0; i < 1024; i++)); do cmds+=(-c "read $(((i * 7919 + 13) % blocks * 4096)) 4k"); done
for ((b = 0; b < 64; b++)); do
  for ((i = 0; i < 32; i++)); do
    cmds+=(-c "aio_read $((((b * 32 + i) * 104729 + 7) % blocks * 4096)) 4k")
  done
  cmds+=(-c "aio_flush")
done

# measure PATH HEADER OPTS PASSFN RUN: one repetition of qemu-io on the
# --image-opts OPTS, secret s0 read from PASSFN's output on fd 3.
measure() {
  local path=$1 header=$2 opts=$3 passfn=$4 r=$5
  if ! "${qemu_io[@]}" --object secret,id=s0,file=/dev/fd/3 --image-opts "$opts" \
      "${cmds[@]}" 3< <($passfn) >"$work/qemu-io.out"; then
    echo "datapath: qemu-io failed on $path ($header):" >&2
    grep -v "^read\|^wrote\|ops;" "$work/qemu-io.out" | head -5 >&2
    return 1
  fi
  python3 "$root/bench/datapath_report.py" parse "$work/qemu-io.out" "$seq_ops" \
    1024 64 32 "$path" "$header" "$r" >>"$csv"
}
# Every volume is made first; then each repetition visits every path in
# turn, so a busy moment of a shared machine hits all paths alike.
paths=() headers=() optss=() passfns=()
add() {
  if [ -z "$only" ] || [[ "$1" =~ $only ]]; then
    echo "datapath: made $1 ($2)" >&2
    paths+=("$1") headers+=("$2") optss+=("$3") passfns+=("$4")
  fi
}
want() { [ -z "$only" ] || [[ "$1" =~ $only ]]; }
size=${size_mib}M
# `rbd encryption format` keeps its header inside the image: room for it.
native_size=$((size_mib + 32))M
rbd_opts() { echo "driver=rbd,pool=rbd,image=$1,conf=$conf,cache.direct=on"; }
luks_rbd_opts() {
  echo "driver=luks,key-secret=s0,file.driver=rbd,file.pool=rbd,file.image=$1,file.conf=$conf,cache.direct=on"
}
librbd_opts() { echo "$(rbd_opts "$1"),encrypt.format=$2,encrypt.key-secret=s0"; }
luks_file_opts() { echo "driver=luks,key-secret=s0,file.driver=file,file.filename=$1"; }
rbd_cmd() { timeout 600 rbd -c "$conf" "$@"; }

# --- RBD ---
if want "raw rbd"; then
  rbd_cmd create --size "$size" rbd/raw
  add "raw rbd" "-" "$(rbd_opts raw)" pass_other
fi
if want "qemu luks1 rbd"; then
  vc volume create --backend rbd --pool rbd --image vq1 --size "$size" --id vq1 \
    --engine qemu >/dev/null
  add "qemu luks1 rbd" volcrypt "$(luks_rbd_opts vq1)" "vc volume passphrase vq1"
  qemu-img create --object secret,id=s0,file=/dev/fd/3 -f luks -o key-secret=s0 \
    "rbd:rbd/iq1:conf=$conf" "$size" 3< <(pass_other) >/dev/null
  add "qemu luks1 rbd" qemu-img "$(luks_rbd_opts iq1)" pass_other
fi
if want "librbd luks1"; then
  vc volume create --backend rbd --pool rbd --image vl1 --size "$size" --id vl1 \
    --engine librbd --format luks1 >/dev/null
  add "librbd luks1" volcrypt "$(librbd_opts vl1 luks)" "vc volume passphrase vl1"
  rbd_cmd create --size "$native_size" rbd/nl1
  rbd_cmd encryption format rbd/nl1 luks1 /dev/fd/3 3< <(pass_other)
  add "librbd luks1" "rbd encryption format" "$(librbd_opts nl1 luks)" pass_other
fi
for sector in 512 4096; do
  want "librbd luks2-$sector" || continue
  vc volume create --backend rbd --pool rbd --image "vl2s$sector" --size "$size" \
    --id "vl2s$sector" --engine librbd --format luks2 --sector-size "$sector" >/dev/null
  add "librbd luks2-$sector" volcrypt "$(librbd_opts "vl2s$sector" luks2)" \
    "vc volume passphrase vl2s$sector"
done
if want "librbd luks2-4096"; then
  # librbd formats LUKS2 with 4096-byte sectors (it has no option for it).
  rbd_cmd create --size "$native_size" rbd/nl2
  rbd_cmd encryption format rbd/nl2 luks2 /dev/fd/3 3< <(pass_other)
  add "librbd luks2-4096" "rbd encryption format" "$(librbd_opts nl2 luks2)" pass_other
fi

# --- files on tmpfs (O_DIRECT is not available there: page cache only) ---
if want "raw file"; then
  truncate -s "$size" "$files/raw"
  add "raw file" "-" "driver=file,filename=$files/raw" pass_other
fi
if want "qemu luks1 file"; then
  vc volume create --backend mapped --path "$files/vf1" --size "$size" --id vf1 >/dev/null
  add "qemu luks1 file" volcrypt "$(luks_file_opts "$files/vf1")" "vc volume passphrase vf1"
  qemu-img create --object secret,id=s0,file=/dev/fd/3 -f luks -o key-secret=s0 \
    "$files/if1" "$size" 3< <(pass_other) >/dev/null
  add "qemu luks1 file" qemu-img "$(luks_file_opts "$files/if1")" pass_other
fi

for ((r = 1; r <= runs; r++)); do
  echo "datapath: repetition $r of $runs" >&2
  for i in "${!paths[@]}"; do
    measure "${paths[$i]}" "${headers[$i]}" "${optss[$i]}" "${passfns[$i]}" "$r"
  done
done

echo "datapath: $("${qemu_io[@]}" --version | head -1); $(rbd --version | cut -d' ' -f1-3);" \
  "$runs runs, ${size_mib} MiB" >&2
python3 "$root/bench/datapath_report.py" table "$csv"

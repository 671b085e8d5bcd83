#!/usr/bin/env bash
# Runs one of volcrypt's benchmark programs in a release build and prints a
# Markdown table of medians (5 repetitions). Each program compares volcrypt
# with the tools users would otherwise run, in the same run:
#   luks_bench    LUKS header and keyslot path vs cryptsetup   (~4 minutes)
#   volume_bench  end-to-end volume create vs qemu-img, cryptsetup (~1 minute)
#   rbd_bench     encrypted RBD create vs rbd encryption format and cinder's
#                 qemu-img + rbd import; open in librbd and QEMU (~4 minutes)
#   attach_bench  live attach/detach through a private libvirtd, and QEMU's
#                 open time by header kind (root; ~1 minute)
#   capi_bench    C ABI call overhead against the C++ API (seconds)
#   barbican_bench  key create/get/delete latency against a real Barbican
#   migration_bench fixed-key migration of 1000 volumes (SQLite, PostgreSQL)
#                 vs barbicanclient storing 1000 secrets (~4 minutes)
#   rekey_bench   one volume's key rotation vs cryptsetup luksChangeKey, and
#                 fleet rotation throughput (file key manager; ~1 minute)
#   convert_bench offline conversion of a 1 GiB half-data volume vs qemu-img
#                 convert -O luks and dd (~2 minutes)
#   rbd_convert_bench  offline encryption of a 256 MiB half-data RBD image vs
#                 cinder's export + qemu-img convert + import, and rbd
#                 encryption format + qemu-img convert (~5 minutes)
#   online_conversion_bench  ConvertVolume of an attached 1 GiB volume (half
#                 data) through blockcopy: rate, guest read latency (root)
#   scale_bench   list, show, create, key lookup by name and reconcile at
#                 1,000 and 100,000 volumes (~4 minutes; not part of CI)
# With VOLCRYPT_BENCH_JSON=FILE the raw results are kept there too, and with
# VOLCRYPT_BENCH_PLOT=FILE.svg drawn as a chart (bench/plot_bench.py, with
# Debian's python3-matplotlib: /usr/bin/python3, not a pyenv one).
# Usage: bench/run.sh luks_bench|volume_bench|attach_bench|rbd_bench|capi_bench|barbican_bench|migration_bench|rekey_bench|convert_bench|rbd_convert_bench|online_conversion_bench|scale_bench [google-benchmark flags]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
name=${1:?usage: bench/run.sh luks_bench|volume_bench|attach_bench|rbd_bench|capi_bench|barbican_bench|migration_bench|rekey_bench|convert_bench|rbd_convert_bench|online_conversion_bench|scale_bench [flags]}
shift
build=${VOLCRYPT_BENCH_BUILD_DIR:-$root/build-release}
"$root/tests/scripts/install_deps.sh" test
[ -f "$build/build.ninja" ] || meson setup "$build" "$root" -Dbuildtype=release -Dtests=false >/dev/null
# The backend modules are loaded at run time, so no bench target pulls them.
modules=$(ninja -C "$build" -t targets all | sed -n 's|^\(lib/volcrypt-[a-z]*\.so\):.*|\1|p')
# shellcheck disable=SC2086
ninja -C "$build" "bench/$name" $modules >/dev/null
out=$(mktemp /tmp/volcrypt-bench-XXXXXX.json)
# The program's scratch directories go under one of ours, removed here even
# when the program dies by a signal and its own atexit cleanup never runs.
scratch=$(mktemp -d "${VOLCRYPT_BENCH_DIR:-/var/tmp}/volcrypt-bench-run-XXXXXX")
# PostgreSQL (barbican_bench's Keystone, migration_bench) runs as another
# user under it: that user must be able to traverse it.
chmod 0711 "$scratch"
trap 'rm -f "$out"; rm -rf "$scratch"' EXIT
rc=0
VOLCRYPT_BENCH_DIR=$scratch VOLCRYPT_SOURCE_ROOT=$root "$build/bench/$name" \
  --benchmark_repetitions=5 --benchmark_report_aggregates_only=true \
  --benchmark_out="$out" --benchmark_out_format=json "$@" >&2 || rc=$?
# Rows finished before a failure still make a table; the exit code says it failed.
if [ -s "$out" ]; then
  python3 "$root/bench/median_table.py" "$out" || true
  [ -z "${VOLCRYPT_BENCH_JSON:-}" ] || cp "$out" "$VOLCRYPT_BENCH_JSON"
  [ -z "${VOLCRYPT_BENCH_PLOT:-}" ] ||
    /usr/bin/python3 "$root/bench/plot_bench.py" "$out" "$VOLCRYPT_BENCH_PLOT" "$name" || rc=1
fi
[ "$rc" -eq 0 ] || echo "run.sh: $name exited with status $rc" >&2
exit "$rc"

#!/usr/bin/env bash
# Runs bench/luks_bench (volcrypt against cryptsetup, same run, same machine)
# in a release build and prints a Markdown table of medians.
# Usage: bench/run_luks_bench.sh [extra google-benchmark flags]
# Takes about 4 minutes, most of it in the default-KDF rows (seconds each).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${VOLCRYPT_BENCH_BUILD_DIR:-$root/build-release}
"$root/tests/scripts/install_deps.sh" test
[ -f "$build/build.ninja" ] || meson setup "$build" "$root" -Dbuildtype=release -Dtests=false >/dev/null
ninja -C "$build" bench/luks_bench >/dev/null
out=$(mktemp /tmp/volcrypt-bench-XXXXXX.json)
trap 'rm -f "$out"' EXIT
"$build/bench/luks_bench" --benchmark_repetitions=5 \
  --benchmark_report_aggregates_only=true \
  --benchmark_out="$out" --benchmark_out_format=json "$@" >&2
python3 "$root/bench/median_table.py" "$out"

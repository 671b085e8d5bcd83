#!/usr/bin/env bash
# Whole-process timings (issue #16), all in one hyperfine run so that the
# ratios hold on a noisy machine:
#   - `volcrypt volume create` of a 64 MiB mapped LUKS1 volume on the embedded
#     defaults (file keys, SQLite) against `cryptsetup luksFormat --type
#     luks1 --pbkdf-force-iterations 1000` of a 64 MiB file (the anchor);
#   - `volcrypt help` and `volcrypt volume show`.
# With VOLCRYPT_BASELINE_CLI=<another volcrypt> its create, help and show
# run in the same session too (e.g. a build of main, for before/after).
# Writes the hyperfine JSON to OUT (default docs/bench/process_bench.json) and
# draws the chart beside it (bench/plot_process_bench.py).
# Usage: bench/process_bench.sh [RUNS (default 50)] [OUT]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
runs=${1:-50}
out=${2:-$root/docs/bench/process_bench.json}
build=${VOLCRYPT_BENCH_BUILD_DIR:-$root/build-release}
"$root/tests/scripts/install_deps.sh" test
[ -f "$build/build.ninja" ] || meson setup "$build" "$root" -Dbuildtype=release -Dtests=false \
  -Dbench=false >/dev/null
ninja -C "$build" examples/volcrypt lib/volcrypt-rbd.so lib/volcrypt-libvirt.so >/dev/null 2>&1 ||
  ninja -C "$build" examples/volcrypt >/dev/null
cli=$build/examples/volcrypt
work=$(mktemp -d /var/tmp/volcrypt-process-bench-XXXXXX)
trap 'rm -rf "$work"' EXIT
head -c 32 /dev/urandom >"$work/key"

commands=()
# One volcrypt CLI's three rows: NAME CLI STATE. Paths hold no spaces
# (mktemp), so the commands need no quoting under --shell=none.
add_cli() {
  local name=$1 bin=$2 state=$3
  "$bin" --state-dir "$state" volume create --path "$state-shown.img" --size 64M \
    --format luks1 --id shown >/dev/null
  printf '#!/bin/sh\nrm -f %s-new.img\n%s --state-dir %s volume delete new >/dev/null 2>&1\nexit 0\n' \
    "$state" "$bin" "$state" >"$state-prepare.sh"
  chmod +x "$state-prepare.sh"
  commands+=(--command-name "$name volume create" --prepare "$state-prepare.sh"
    "$bin --state-dir $state volume create --path $state-new.img --size 64M --format luks1 --id new")
  commands+=(--command-name "$name volume show" --prepare true
    "$bin --state-dir $state volume show shown")
  commands+=(--command-name "$name help" --prepare true "$bin help")
}
printf '#!/bin/sh\nrm -f %s/c.img\ntruncate -s 64M %s/c.img\n' "$work" "$work" >"$work/prepare.sh"
chmod +x "$work/prepare.sh"
commands+=(--command-name "cryptsetup luksFormat (LUKS1, 1000 iterations)"
  --prepare "$work/prepare.sh"
  "cryptsetup luksFormat -q --type luks1 --pbkdf-force-iterations 1000 --key-file $work/key $work/c.img")
add_cli volcrypt "$cli" "$work/state"
if [ -n "${VOLCRYPT_BASELINE_CLI:-}" ]; then
  add_cli baseline "$VOLCRYPT_BASELINE_CLI" "$work/baseline"
fi

# --shell=none: no shell's start-up in the figures.
hyperfine --shell=none --warmup 3 --runs "$runs" --export-json "$out" \
  --export-markdown "$out.md" "${commands[@]}" >&2
cat "$out.md"
rm -f "$out.md"
/usr/bin/python3 "$root/bench/plot_process_bench.py" "$out" "${out%.json}.svg"

#!/bin/sh
# Runs one libFuzzer target as a test: replays every committed reproducer in
# <source dir>/regressions (each must now pass), then fuzzes for
# $VOLCRYPT_FUZZ_SECONDS seconds (default 20) from <source dir>/seeds, growing
# a corpus in <work dir>/corpus (kept between runs) and saving any crashing,
# leaking or hanging input in <work dir>/ as crash-*, leak-*, timeout-*.
# Usage: run_fuzz.sh <fuzzer> <source dir> <work dir>
set -eu
fuzzer=$1 src=$2 work=$3
seconds=${VOLCRYPT_FUZZ_SECONDS:-20}
mkdir -p "$work/corpus" "$work/tmp"
# UBSan reports must fail the run, not scroll past.
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
export TMPDIR="$work/tmp"

set -- "$src"/regressions/*
if [ -e "$1" ]; then
  echo "== replaying $# regression input(s)"
  "$fuzzer" -rss_limit_mb=2048 -timeout=10 "$@"
fi

# <source dir>/dict, if any: tokens the mutator splices in (JSON syntax,
# the names the parser looks for).
dict=
[ -f "$src/dict" ] && dict=-dict=$src/dict
echo "== fuzzing for ${seconds}s"
exec "$fuzzer" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 $dict \
  -print_final_stats=1 -artifact_prefix="$work/" "$work/corpus" "$src/seeds"

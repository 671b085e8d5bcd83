#!/usr/bin/env bash
# ABI stability: compares the built libvolcrypt.so with the recorded baseline
# (capi/abi/libvolcrypt.so.0.abi.xz, libabigail's abidw) and fails on any
# incompatible change: a removed or retyped function, a changed layout of a
# struct of volcrypt.h. Additions are reported and pass. Types outside the
# header (the opaque handles, the C++ behind them) are suppressed.
#   abi_check.sh LIBRARY SOURCE_ROOT            check
#   abi_check.sh LIBRARY SOURCE_ROOT --update   record a new baseline (on a
#                                               deliberate, soname-bumping change)
set -uo pipefail
lib=${1:?usage: abi_check.sh LIBRARY SOURCE_ROOT [--update]}
src=${2:?usage: abi_check.sh LIBRARY SOURCE_ROOT [--update]}
baseline=$src/capi/abi/libvolcrypt.so.0.abi.xz
command -v abidiff >/dev/null || { echo "abigail-tools is not installed" >&2; exit 77; }
if [ "${3:-}" = --update ]; then
  abidw --headers-dir "$src/capi" --drop-private-types --no-corpus-path "$lib" |
    xz -9 >"$baseline"
  echo "recorded $baseline"
  exit 0
fi
work=$(mktemp -d /tmp/volcrypt-abi-XXXXXX)
trap 'rm -rf "$work"' EXIT
xz -dc "$baseline" >"$work/baseline.abi" || exit 1
abidiff --headers-dir2 "$src/capi" --suppressions "$src/capi/abi/suppressions.ini" \
  "$work/baseline.abi" "$lib" >"$work/report" 2>&1
rc=$?
# abidiff's exit code is a bit field: 1 error, 2 usage, 4 change, 8 incompatible.
if (( rc & 3 )); then
  echo "abidiff failed:" >&2; cat "$work/report" >&2; exit 1
fi
# abidiff calls a retyped C function a (compatible) change: for a C ABI any
# removed or changed function or variable is incompatible; only additions pass.
changed=$(grep -oE '[0-9]+ (Removed|Changed)' "$work/report" | awk '{n += $1} END {print n + 0}')
if (( rc & 8 )) || (( changed > 0 )); then
  echo "INCOMPATIBLE ABI change against the baseline:" >&2; cat "$work/report" >&2; exit 1
fi
if (( rc & 4 )); then
  echo "compatible ABI changes against the baseline:"; cat "$work/report"
fi
echo "ABI compatible with capi/abi/libvolcrypt.so.0.abi.xz"

#!/usr/bin/env bash
# Every benchmark program in one session, so that docs/performance.md's
# tables share a date and a machine state (issue #16): for each program,
# its Markdown table of medians in OUT/NAME.md and its chart in
# OUT/NAME.svg, with the raw JSON beside them. The whole run takes about
# 45 minutes (root: the attach, online conversion and Ceph programs start
# private services). bench/process_bench.sh and bench/datapath_bench.sh
# have their own drivers and are run after these.
# Usage: bench/run_all.sh [OUT (default docs/bench)] [PROGRAM...]
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=${1:-$root/docs/bench}
shift || true
programs=("$@")
[ "${#programs[@]}" -gt 0 ] || programs=(luks_bench volume_bench attach_bench rbd_bench
  capi_bench barbican_bench migration_bench rekey_bench convert_bench rbd_convert_bench
  online_conversion_bench scale_bench)
mkdir -p "$out"
failed=0
for name in "${programs[@]}"; do
  echo "== $name ($(date -u '+%Y-%m-%d %H:%M UTC'), load $(cut -d' ' -f1 /proc/loadavg))" >&2
  if VOLCRYPT_BENCH_JSON="$out/$name.json" VOLCRYPT_BENCH_PLOT="$out/$name.svg" \
       "$root/bench/run.sh" "$name" >"$out/$name.md"; then
    :
  else
    echo "run_all.sh: $name failed; its finished rows are in $out/$name.md" >&2
    failed=$((failed + 1))
  fi
done
"$root/bench/process_bench.sh" 50 "$out/process_bench.json" || failed=$((failed + 1))
echo "run_all.sh: ${#programs[@]} programs and the whole-process bench, $failed failed" >&2
[ "$failed" -eq 0 ]

#!/usr/bin/env bash
# Fails if any FILE loads one of the LIBRARIES (by name prefix, e.g. librbd):
# a build without a backend (meson_options.txt) must not need its libraries,
# directly or through another library.
# Usage: check_no_libraries.sh FILE... -- LIBRARY...
set -euo pipefail
files=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do files+=("$1"); shift; done
[ $# -gt 0 ] && shift
[ ${#files[@]} -gt 0 ] && [ $# -gt 0 ] || { echo "usage: $0 FILE... -- LIBRARY..." >&2; exit 2; }
rc=0
for f in "${files[@]}"; do
  deps=$(ldd "$f") || { echo "ldd $f failed" >&2; exit 1; }
  for lib in "$@"; do
    if grep -E "^[[:space:]]*${lib}[.-][^[:space:]]*so" <<<"$deps"; then
      echo "FAIL: $f loads $lib" >&2
      rc=1
    fi
  done
  echo "$f: $(wc -l <<<"$deps") libraries, none of: $*"
done
exit $rc

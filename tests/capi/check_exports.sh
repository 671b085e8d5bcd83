#!/usr/bin/env bash
# The shared library exports exactly the functions volcrypt.h declares.
set -euo pipefail
lib=${1:?usage: check_exports.sh LIBVOLCRYPT HEADER}
header=${2:?usage: check_exports.sh LIBVOLCRYPT HEADER}
exported=$(nm -D --defined-only "$lib" | awk '$2 == "T" {sub(/@.*/, "", $3); print $3}' | sort)
documented=$(grep -oE '\bvolcrypt_[a-z0-9_]+\(' "$header" | tr -d '(' | sort -u)
if [ "$exported" != "$documented" ]; then
  echo "exported symbols differ from volcrypt.h:" >&2
  diff <(echo "$documented") <(echo "$exported") >&2 || true
  exit 1
fi
echo "exports match volcrypt.h: $(echo "$exported" | wc -l) functions"

#!/usr/bin/env bash
# The Python package as users get it, not from the source tree:
#  1. `meson install` into a scratch DESTDIR; inside a private mount namespace
#     the DESTDIR's prefix is bound over the real prefix, so the files sit at
#     their true installed paths. There `import volcrypt` and a create /
#     verify / delete run with an EMPTY environment: no PYTHONPATH, no
#     VOLCRYPT_LIBRARY, no LD_LIBRARY_PATH.
#  2. `pip install` of examples/python into a virtual environment, against
#     the same installed library (found through LD_LIBRARY_PATH there, as
#     ldconfig would after a real install; ldconfig's cache is global).
# Also checks that pyproject.toml's version is meson's.
#   python_install_test.sh BUILD_DIR SOURCE_ROOT PYTHON PREFIX VERSION
set -euo pipefail
build=$1 src=$2 python=$3 prefix=$4 version=$5
grep -qx "version = \"$version\"" "$src/examples/python/pyproject.toml" || {
  echo "examples/python/pyproject.toml's version is not meson's $version" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "needs root (a mount namespace)" >&2; exit 77; }
work=$(mktemp -d /tmp/volcrypt-pyinstall-XXXXXX)
trap 'rm -rf "$work"' EXIT
meson install -C "$build" --destdir "$work/root" --no-rebuild --quiet >/dev/null
[ -d "$work/root$prefix" ] || { echo "nothing installed under $prefix" >&2; exit 1; }
mkdir -m 0700 "$work/state"
printf '%s' "$(printf '22%.0s' $(seq 32))" >"$work/state/master.key"
chmod 0600 "$work/state/master.key"
cat >"$work/scenario.py" <<'PY'
import os, sys
import volcrypt
d = sys.argv[1]
with volcrypt.FileKeys(d + "/keys", d + "/master.key") as keys, \
     volcrypt.SqliteStore(d + "/volumes.db") as store, \
     volcrypt.MappedBackend() as mapped, \
     volcrypt.Service(keys, store, mapped=mapped, host="py") as svc:
    svc.create_volume(path=d + "/v1", size_bytes=16 << 20, id="v1")
    assert svc.verify_volume("v1") == 0
    svc.delete_volume("v1")
    assert not os.path.exists(d + "/v1")
print(volcrypt.__file__, volcrypt.version())
PY
# 1. The meson-installed package, nothing in the environment.
unshare -m --propagation private bash -c '
  set -e
  mount --bind "$1/root$2" "$2"
  cd /
  env -i "$3" "$4/scenario.py" "$4/state"' _ "$work" "$prefix" "$python" "$work" |
  tee "$work/out1"
grep -q "^$prefix/.*/volcrypt/__init__.py $version\$" "$work/out1" || {
  echo "import volcrypt did not load the installed package" >&2; exit 1; }
# 2. pip into a virtual environment, from a copy (setuptools writes build
# files beside its sources).
cp -r "$src/examples/python" "$work/src"
rm -rf "$work/src/volcrypt/__pycache__"
"$python" -m venv --system-site-packages "$work/venv"
"$work/venv/bin/pip" install --quiet --no-index --no-build-isolation "$work/src" >"$work/pip.log" 2>&1 || {
  cat "$work/pip.log" >&2; exit 1; }
libdir=$(find "$work/root" -name 'libvolcrypt.so.0' -printf '%h\n' | head -1)
rm -f "$work/state/volumes.db"
(cd / && env -i LD_LIBRARY_PATH="$libdir" "$work/venv/bin/python" "$work/scenario.py" "$work/state") |
  tee "$work/out2"
grep -q "^$work/venv/.*/volcrypt/__init__.py $version\$" "$work/out2" || {
  echo "the venv did not load the pip-installed package" >&2; exit 1; }
echo "the installed Python package works with no environment, and pip installs it"

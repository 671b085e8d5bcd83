#!/usr/bin/env bash
# Packaging: `meson install` into a scratch DESTDIR, then a separate tiny C
# program is compiled against the installed header and library with nothing
# but `pkg-config --cflags --libs volcrypt`, and runs the shared scenario.
set -euo pipefail
build=${1:?usage: install_test.sh BUILD_DIR SOURCE_ROOT}
src=${2:?usage: install_test.sh BUILD_DIR SOURCE_ROOT}
work=$(mktemp -d /tmp/volcrypt-install-XXXXXX)
trap 'rm -rf "$work"' EXIT
meson install -C "$build" --destdir "$work/root" --no-rebuild --quiet >/dev/null
pc=$(dirname "$(find "$work/root" -name volcrypt.pc | head -1)")
[ -n "$pc" ] || { echo "volcrypt.pc was not installed" >&2; exit 1; }
# The .pc file names the configured prefix; point it into DESTDIR.
prefix=$(sed -n 's/^prefix=//p' "$pc/volcrypt.pc")
mkdir "$work/pc"
sed "s|^prefix=.*|prefix=$work/root$prefix|" "$pc/volcrypt.pc" >"$work/pc/volcrypt.pc"
export PKG_CONFIG_PATH=$work/pc
flags=$(pkg-config --cflags --libs volcrypt)
libdir=$(pkg-config --variable=libdir volcrypt)
for f in volcrypt.h volcrypt/volume_service.h; do
  [ -n "$(find "$work/root" -path "*include/$f")" ] || { echo "missing header $f" >&2; exit 1; }
done
[ -x "$(find "$work/root" -name volcrypt -type f -perm -u+x | head -1)" ] || {
  echo "the volcrypt CLI was not installed" >&2; exit 1; }
readelf -d "$libdir/libvolcrypt.so" | grep -q 'SONAME.*libvolcrypt.so.0' || {
  echo "no soname libvolcrypt.so.0" >&2; exit 1; }
# Every backend module this build made is installed where the library's
# loader looks (lib/modules/module_loader.h), with its entry point.
for m in "$build"/lib/volcrypt-*.so; do
  [ -e "$m" ] || continue
  name=$(basename "$m" .so)
  installed=$libdir/volcrypt-0/$name.so
  [ -f "$installed" ] || { echo "module $name.so was not installed in $libdir/volcrypt-0" >&2; exit 1; }
  nm -D --defined-only "$installed" | grep -q " volcrypt_module_${name#volcrypt-}_v" || {
    echo "$installed exports no volcrypt_module_${name#volcrypt-}_v* entry" >&2; exit 1; }
done
# shellcheck disable=SC2086
cc -std=c11 -Wall -Werror -o "$work/example" "$src/examples/c/volcrypt_example.c" $flags
mkdir "$work/state"
LD_LIBRARY_PATH=$libdir "$work/example" "$work/state" >/dev/null
echo "installed library, header, volcrypt.pc and CLI work from a separate program"

#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine (as root): installs what is
# missing, builds, creates an encrypted volume on embedded defaults and shows
# that independent tools recognise it.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${VOLCRYPT_BUILD_DIR:-$root/build}
"$root/tests/scripts/install_deps.sh" test
[ -f "$build/build.ninja" ] || meson setup "$build" "$root" >/dev/null
ninja -C "$build" >/dev/null

work=$(mktemp -d /tmp/volcrypt-demo-XXXXXX)
trap 'rm -rf "$work"' EXIT
vol=$work/volume-1

echo "== create a 64 MiB encrypted file volume (LUKS1, AES-256-XTS, machine key)"
"$build/examples/encrypt_file_volume" "$vol" 64M luks1
echo "== cryptsetup recognises it"
cryptsetup isLuks "$vol" && echo "cryptsetup isLuks: yes"
cryptsetup luksDump "$vol" | grep -E '^(Version|Cipher name|Cipher mode|MK bits|Payload offset)'

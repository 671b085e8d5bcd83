#!/usr/bin/env bash
# The main job, on a fresh Debian 12 machine (as root): installs what is
# missing, builds, then on the embedded defaults (a file volume, the file key
# manager, SQLite) creates an encrypted volume, prints its attach plan,
# proves that QEMU's own LUKS driver and cryptsetup open it with the key from
# the key manager, and attaches it for real to a small paused VM in a private
# libvirtd (no dm-crypt anywhere). The passphrase travels only through pipes
# (/dev/fd/3) and virSecretSetValue, never argv, the environment or a file.
# Everything lives in a temporary directory and is stopped and removed at the
# end.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${VOLCRYPT_BUILD_DIR:-$root/build}
"$root/tests/scripts/install_deps.sh" test
[ -f "$build/build.ninja" ] || meson setup "$build" "$root" >/dev/null
ninja -C "$build" >/dev/null

work=$(mktemp -d /tmp/volcrypt-demo-XXXXXX)
cleanup() {
  "$root/tests/scripts/libvirtd.sh" stop "$work/libvirt" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
vc() { "$build/examples/volcrypt" --state-dir "$work/state" "$@"; }
vol=$work/volume-demo-1.img
step() { printf '\n== %s\n' "$*"; }

step "create a 64 MiB encrypted volume (LUKS1, AES-256-XTS, machine-key KDF)"
start=$(date +%s%N)
vc volume create --backend mapped --path "$vol" --size 64M --id demo-1 >"$work/create.json"
created_ms=$(( ($(date +%s%N) - start) / 1000000 ))
cat "$work/create.json"
key_id=$(sed -n 's/.*"encryption_key_id": "\(.*\)".*/\1/p' "$work/create.json")

step "the attach plan: libvirt secret (the key container) and disk XML"
vc attach-xml demo-1

step "QEMU's LUKS driver writes and reads a pattern (key from the key manager, via a pipe)"
qemu_io() {
  qemu-io --object secret,id=sec0,file=/dev/fd/3 \
    --image-opts "driver=luks,key-secret=sec0,file.driver=file,file.filename=$vol" \
    -c "$1" 3< <(vc volume passphrase demo-1)
}
qemu_io 'write -P 0x5a 0 4M'
qemu_io 'read -P 0x5a 0 4M'
if grep -q $'\x5a\x5a\x5a\x5a\x5a\x5a\x5a\x5a' "$vol"; then
  echo "plaintext found at rest!" >&2; exit 1
fi
echo "on disk the pattern is encrypted (not found in the raw file)"

step "cryptsetup accepts the passphrase"
cryptsetup open --test-passphrase --key-file /dev/fd/3 "$vol" 3< <(vc volume passphrase demo-1)
echo "cryptsetup open --test-passphrase: ok"
cryptsetup luksDump "$vol" | grep -E '^(Version|Cipher name|Cipher mode|MK bits|Payload offset)'

step "extend to 96 MiB: QEMU sees exactly the size asked for"
vc volume extend demo-1 96M >/dev/null
qemu-img info --object secret,id=sec0,file=/dev/fd/3 \
  --image-opts "driver=luks,key-secret=sec0,file.driver=file,file.filename=$vol" \
  3< <(vc volume passphrase demo-1) | grep 'virtual size'

step "attach to a paused VM through a private libvirtd: QEMU decrypts it"
attached="skipped (needs root and libvirtd)"
if uri=$("$root/tests/scripts/libvirtd.sh" start "$work/libvirt" 2>"$work/libvirtd.err"); then
  cat >"$work/domain.xml" <<'XML'
<domain type='kvm'>
  <name>volcrypt-demo</name>
  <memory unit='MiB'>64</memory><vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>
    <controller type='usb' model='none'/>
    <controller type='scsi' index='0' model='virtio-scsi'/>
    <memballoon model='none'/>
  </devices>
</domain>
XML
  [ -w /dev/kvm ] || sed -i "s/type='kvm'/type='qemu'/" "$work/domain.xml"
  virsh -q -c "$uri" define "$work/domain.xml" >/dev/null
  virsh -q -c "$uri" start --paused volcrypt-demo >/dev/null
  start=$(date +%s%N)
  vc attach demo-1 --domain volcrypt-demo --connect "$uri" --live | grep '"status"'
  attach_ms=$(( ($(date +%s%N) - start) / 1000000 ))
  echo "QEMU's block layer (info block):"
  virsh -c "$uri" qemu-monitor-command volcrypt-demo --hmp 'info block' | sed -n '1,2p'
  virsh -c "$uri" domblkinfo volcrypt-demo sdb | grep Capacity
  echo "libvirt secrets while attached:"; virsh -c "$uri" secret-list | tail -n +3
  vc detach demo-1 --connect "$uri" | grep '"status"'
  echo "libvirt secrets after detach: $(virsh -c "$uri" secret-list | tail -n +3 | grep -c . || true)"
  virsh -q -c "$uri" destroy volcrypt-demo >/dev/null
  attached="live attach in ${attach_ms} ms, QEMU-native LUKS; detach left no secret"
else
  echo "skipped: $(cat "$work/libvirtd.err")"
fi

step "delete: volume, key and record are gone"
vc volume delete demo-1
[ ! -e "$vol" ] && [ -z "$(ls "$work/state/keys"/*.key 2>/dev/null)" ] && echo "nothing left"

cat <<SUMMARY

== summary
volume        demo-1, 64 MiB usable, LUKS1 aes-xts-plain64 AES-256, PBKDF2 1000 it.
key           $key_id (file key manager, AES-256-GCM sealed, 0600)
created in    ${created_ms} ms (the volcrypt process, including start-up)
QEMU          wrote and read back 4 MiB through its own LUKS driver
cryptsetup    accepted the key manager's passphrase
extend        96 MiB usable, as asked
libvirt       $attached
delete        volume, key and record removed
SUMMARY

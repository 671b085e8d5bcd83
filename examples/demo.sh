#!/usr/bin/env bash
# The main job, on a fresh Debian 12 machine (as root): installs what the demo
# needs, builds the volcrypt CLI, and on the embedded defaults (the file key
# manager, SQLite) shows both kinds of volume decrypted the same way:
#   - a mapped volume (a file here; iSCSI/FC/LVM devices work alike), and
#   - a distributed one, an RBD image on a throwaway Ceph cluster (one
#     monitor, one memstore OSD), which host dm-crypt cannot serve.
# Both are LUKS-formatted at create, QEMU's own LUKS driver writes into each,
# both are attached live to one paused VM in a private libvirtd (the key in a
# libvirt secret, QEMU decrypts; no dm-crypt anywhere), detached, read back
# and deleted. Passphrases travel only through pipes (/dev/fd/3) and
# virSecretSetValue, never argv, the environment or a file. Everything lives
# in a temporary directory and is stopped and removed at the end.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${VOLCRYPT_DEMO_BUILD_DIR:-$root/build-demo}
"$root/tests/scripts/install_deps.sh" demo
[ -f "$build/build.ninja" ] ||
  meson setup "$build" "$root" -Dtests=false -Dbench=false >/dev/null
ninja -C "$build" examples/volcrypt >/dev/null

work=$(mktemp -d /tmp/volcrypt-demo-XXXXXX)
cleanup() {
  "$root/tests/scripts/libvirtd.sh" stop "$work/libvirt" >/dev/null 2>&1 || true
  "$root/tests/scripts/ceph.sh" stop "$work/ceph" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
step() { printf '\n== %s\n' "$*"; }
ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

step "start a throwaway Ceph cluster and a private libvirtd with a paused VM"
conf=$("$root/tests/scripts/ceph.sh" start "$work/ceph")
uri=$("$root/tests/scripts/libvirtd.sh" start "$work/libvirt")
vc() {
  "$build/examples/volcrypt" --state-dir "$work/state" --ceph-conf "$conf" \
    --libvirt-ceph-secret "$ceph_secret" "$@"
}
# librbd's cephx key goes into a libvirt secret of usage 'ceph' (a deployment
# setting, like nova's rbd_secret_uuid): volcrypt reads it from the cluster's
# keyring and sets it, so it never passes through argv or a file of ours.
ceph_secret=$("$build/examples/volcrypt" --ceph-conf "$conf" ceph-secret define \
  --connect "$uri" | sed -n 's/.*"uuid": "\([^"]*\)".*/\1/p')
vc --connect "$uri" ceph-secret check
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
echo "ceph: $conf"
echo "libvirt: $uri (domain volcrypt-demo, paused)"

step "create two 64 MiB encrypted volumes (LUKS1, AES-256-XTS, machine-key KDF)"
file_vol=$work/volume-file-1.img
start=$(date +%s%N)
vc volume create --backend mapped --path "$file_vol" --size 64M --id file-1 >"$work/file.json"
file_ms=$(ms_since "$start")
start=$(date +%s%N)
vc volume create --backend rbd --pool rbd --image volume-rbd-1 --size 64M --id rbd-1 --engine qemu \
  >"$work/rbd.json"
rbd_ms=$(ms_since "$start")
key_of() { sed -n 's/.*"encryption_key_id": "\(.*\)".*/\1/p' "$1"; }
echo "file-1: $file_vol, key $(key_of "$work/file.json") (${file_ms} ms)"
echo "rbd-1:  rbd/volume-rbd-1, key $(key_of "$work/rbd.json") (${rbd_ms} ms)"

step "the attach plan of the RBD volume: libvirt secret (the key container) and disk XML"
vc attach-xml rbd-1 --target sdc | sed -n '/<disk/,/<\/disk>/p'

# QEMU's LUKS driver over a file, or over librbd; the passphrase on fd 3.
qemu_io() {  # <volume id> <file options> <qemu-io command>
  qemu-io --object secret,id=sec0,file=/dev/fd/3 \
    --image-opts "driver=luks,key-secret=sec0,$2" -c "$3" 3< <(vc volume passphrase "$1")
}
file_opts="file.driver=file,file.filename=$file_vol"
rbd_opts="file.driver=rbd,file.pool=rbd,file.image=volume-rbd-1,file.conf=$conf"

step "QEMU's LUKS driver writes a pattern into each (key from the key manager, via a pipe)"
qemu_io file-1 "$file_opts" 'write -P 0x5a 0 4M' | head -1
qemu_io rbd-1 "$rbd_opts" 'write -P 0xa5 0 4M' | head -1
if grep -q $'\x5a\x5a\x5a\x5a\x5a\x5a\x5a\x5a' "$file_vol"; then
  echo "plaintext found at rest!" >&2; exit 1
fi
echo "on disk the file's pattern is encrypted (not found in the raw file)"
cryptsetup open --test-passphrase --key-file /dev/fd/3 "$file_vol" \
  3< <(vc volume passphrase file-1)
echo "cryptsetup accepts the file volume's passphrase"

step "attach both live to one paused VM: QEMU decrypts a file and an RBD image alike"
start=$(date +%s%N)
vc attach file-1 --domain volcrypt-demo --connect "$uri" --live --target sdb | grep '"status"'
vc attach rbd-1 --domain volcrypt-demo --connect "$uri" --live --target sdc | grep '"status"'
attach_ms=$(ms_since "$start")
echo "QEMU's block layer (info block):"
virsh -c "$uri" qemu-monitor-command volcrypt-demo --hmp 'info block' |
  grep -E 'luks|driver|^[a-z]' | head -8
for t in sdb sdc; do
  echo "$t: $(virsh -c "$uri" domblkinfo volcrypt-demo $t | grep Capacity)"
done
secrets_attached=$(virsh -c "$uri" secret-list | tail -n +3 | grep -c . || true)
echo "libvirt secrets while attached: $secrets_attached (two volume keys + the ceph key)"

step "detach both; QEMU reads each pattern back"
vc detach file-1 --connect "$uri" | grep '"status"'
vc detach rbd-1 --connect "$uri" | grep '"status"'
secrets_after=$(virsh -c "$uri" secret-list | tail -n +3 | grep -c . || true)
echo "libvirt secrets after detach: $secrets_after (the ceph key only)"
qemu_io file-1 "$file_opts" 'read -P 0x5a 0 4M' | head -1
qemu_io rbd-1 "$rbd_opts" 'read -P 0xa5 0 4M' | head -1

step "delete both: volumes, keys and records are gone"
vc volume delete file-1
vc volume delete rbd-1
left=$(rbd -c "$conf" ls rbd | grep -c . || true)
[ ! -e "$file_vol" ] && [ "$left" -eq 0 ] &&
  [ -z "$(ls "$work/state/keys"/*.key 2>/dev/null)" ] && echo "nothing left"

cat <<SUMMARY

== summary
volumes      file-1 (a file) and rbd-1 (an RBD image), 64 MiB each,
             LUKS1 aes-xts-plain64 AES-256, PBKDF2 1000 it.
keys         one per volume, file key manager (AES-256-GCM sealed, 0600)
created in   ${file_ms} ms (file) and ${rbd_ms} ms (rbd), each a whole volcrypt process
QEMU         wrote and read back 4 MiB in each through its own LUKS driver
attach       both live to one VM in ${attach_ms} ms; QEMU-native LUKS on a file and on rbd
detach       left no volume secret in libvirt (${secrets_after} left: the ceph key)
delete       volumes, keys and records removed
SUMMARY

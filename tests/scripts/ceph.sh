#!/usr/bin/env bash
# A throwaway single-node Ceph cluster for tests, the demo and benchmarks:
# one monitor and one memstore OSD, no mgr, msgr2 on 127.0.0.1 only, cephx,
# everything (config, keyring, data, logs, sockets) under DIR. Ready in about
# a second with an initialised 'rbd' pool. Stopped by PID, never by name.
#   tests/scripts/ceph.sh start DIR [PORT]   prints the path of DIR/ceph.conf
#   tests/scripts/ceph.sh stop DIR
#   tests/scripts/ceph.sh kill-osd DIR       SIGKILLs the OSD (fault tests)
# CEPH_MEMSTORE_BYTES: the OSD's capacity (RAM), 1 GiB unless set.
set -euo pipefail
cmd=${1:?usage: ceph.sh start|stop|kill-osd DIR [PORT]}
dir=$(mkdir -p "${2:?usage: ceph.sh start|stop|kill-osd DIR [PORT]}" && cd "$2" && pwd)
port=${3:-$(( 20000 + (RANDOM % 80) * 112 ))}

. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/service_lib.sh"

case "$cmd" in
  stop) kill_pidfile "$dir/osd.pid"; kill_pidfile "$dir/mon.pid"; exit 0 ;;
  kill-osd) kill_pidfile "$dir/osd.pid"; exit 0 ;;
  start) ;;
  *) echo "usage: ceph.sh start|stop|kill-osd DIR [PORT]" >&2; exit 2 ;;
esac
command -v ceph-mon >/dev/null || { echo "ceph.sh: ceph-mon is not installed" >&2; exit 77; }
kill_pidfile "$dir/osd.pid"; kill_pidfile "$dir/mon.pid"
if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
  echo "ceph.sh: port $port is taken (a second cluster there would answer)" >&2
  exit 1
fi
rm -rf "$dir"/{mon,osd,run,log,crash,tmp} "$dir/monmap" "$dir/keyring"
mkdir -p "$dir"/{mon,osd,run,log,crash,tmp}
fsid=$(cat /proc/sys/kernel/random/uuid)
conf=$dir/ceph.conf
cat >"$conf" <<CONF
[global]
fsid = $fsid
mon host = v2:127.0.0.1:$port
public network = 127.0.0.0/8
ms bind ipv6 = false
ms bind msgr1 = false
ms bind port min = $((port + 1))
ms bind port max = $((port + 100))
keyring = $dir/keyring
run dir = $dir/run
crash dir = $dir/crash
tmp dir = $dir/tmp
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon warn on pool no redundancy = false
mon data avail warn = 2
mon data avail crit = 1
mon mgr mkfs grace = 31536000
[mon]
mon data = $dir/mon
paxos propose interval = 0.01
paxos min wait = 0.01
log file = $dir/log/mon.log
admin socket = $dir/run/mon.asok
[osd]
osd objectstore = memstore
memstore device bytes = ${CEPH_MEMSTORE_BYTES:-1073741824}
osd data = $dir/osd
osd op num shards = 1
log file = $dir/log/osd.log
admin socket = $dir/run/osd.asok
CONF

k=$dir/keyring
ceph-authtool --create-keyring "$k" --gen-key -n mon. --cap mon 'allow *' >/dev/null
ceph-authtool "$k" --gen-key -n client.admin --cap mon 'allow *' --cap osd 'allow *' \
  --cap mgr 'allow *' >/dev/null
ceph-authtool "$k" --gen-key -n osd.0 --cap mon 'allow profile osd' --cap osd 'allow *' \
  --cap mgr 'allow profile osd' >/dev/null
monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$port]" "$dir/monmap" >/dev/null
ceph-mon -c "$conf" --mkfs -i a --monmap "$dir/monmap" --keyring "$k" >/dev/null 2>&1
ceph-mon -c "$conf" -f -i a >"$dir/log/mon.out" 2>&1 &
echo $! >"$dir/mon.pid"

c() { timeout 20 ceph -c "$conf" --connect-timeout 10 "$@"; }
osd_uuid=$(cat /proc/sys/kernel/random/uuid)
c osd new "$osd_uuid" 0 >/dev/null
ceph-osd -c "$conf" -i 0 --mkfs --osd-uuid "$osd_uuid" >/dev/null 2>&1
ceph-osd -c "$conf" -f -i 0 >"$dir/log/osd.out" 2>&1 &
echo $! >"$dir/osd.pid"
c osd pool create rbd 8 8 >/dev/null 2>&1
timeout 60 rbd -c "$conf" pool init rbd
echo "$conf"

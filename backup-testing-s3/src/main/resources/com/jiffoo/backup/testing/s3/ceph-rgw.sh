#!/usr/bin/env bash
# A throwaway Ceph cluster on 127.0.0.1 for tests (CephRgwServer): one monitor, one OSD keeping its objects in
# memory (memstore), no cephx, and a RADOS Gateway (the S3 server) with one user. Prints "RGW-READY" when the
# gateway answers, then waits for its standard input to end (the JVM closed it or is gone), stops the daemons and
# removes DIR.
# usage: ceph-rgw.sh DIR MON_PORT RGW_PORT ACCESS_KEY SECRET_KEY
set -euo pipefail
D=$1 MP=$2 RP=$3 AK=$4 SK=$5
mkdir -p "$D"/run "$D"/log "$D"/mon.a "$D"/osd.0 "$D"/rgw
stop() { # the data is thrown away: no clean shutdown needed
  for f in "$D"/run/*.pid; do
    [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null || true
  done
  rm -rf "$D"
}
trap stop EXIT
fsid=$(cat /proc/sys/kernel/random/uuid)
C="$D/ceph.conf"
classes=$(dirname "$(find /usr/lib /usr/lib64 -name 'libcls_rgw.so*' -print -quit 2>/dev/null)")
cat > "$C" <<CONF
[global]
fsid = $fsid
mon host = v2:127.0.0.1:$MP
mon initial members = a
public network = 127.0.0.0/8
auth cluster required = none
auth service required = none
auth client required = none
ms bind msgr1 = false
ms mon client mode = crc
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
mon max pg per osd = 1000
mon allow pool size one = true
mon warn on pool no redundancy = false
mon data avail crit = 1
mon data avail warn = 2
osd crush chooseleaf type = 0
run dir = $D/run
admin socket = $D/run/\$name.asok
log file = $D/log/\$name.log
pid file = $D/run/\$name.pid
keyring = $D/keyring
mon data = $D/mon.\$id
osd data = $D/osd.\$id
osd objectstore = memstore
memstore device bytes = 2147483648
osd class dir = $classes
[client.rgw]
rgw frontends = beast endpoint=127.0.0.1:$RP
rgw data = $D/rgw
CONF
ceph-authtool --create-keyring "$D/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
monmaptool --create --addv a "[v2:127.0.0.1:$MP]" --fsid "$fsid" "$D/monmap" >/dev/null
ceph-mon -c "$C" --mkfs -i a --monmap "$D/monmap" --keyring "$D/keyring"
ceph-mon -c "$C" -i a
timeout 60 ceph -c "$C" osd create >/dev/null
ceph-osd -c "$C" -i 0 --mkfs --osd-uuid "$(cat /proc/sys/kernel/random/uuid)" >>"$D/log/mkfs.log" 2>&1
ceph-osd -c "$C" -i 0 >>"$D/log/osd.out" 2>&1
radosgw -c "$C" -n client.rgw >>"$D/log/rgw.out" 2>&1 &
timeout 60 radosgw-admin -c "$C" -n client.admin user create --uid jiffoo --display-name jiffoo \
  --access-key "$AK" --secret "$SK" >/dev/null 2>>"$D/log/user.out"
for _ in $(seq 600); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$RP") 2>/dev/null; then
    echo RGW-READY
    cat >/dev/null || true
    exit 0
  fi
  sleep 0.2
done
echo "the RADOS Gateway did not answer on 127.0.0.1:$RP within 120 s:"
tail -20 "$D"/log/*.log
exit 1

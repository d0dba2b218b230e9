#!/usr/bin/env bash
# Issue 14: WAL archiving under load (docs/benchmarks.md, "WAL archiving"). A throwaway PostgreSQL cluster (the
# installed server, archive_mode on) runs a workload for DURATION seconds with each archive_command in turn; every
# second the backlog (pg_wal/archive_status/*.ready) and pg_stat_archiver are sampled. Reported per row: WAL written,
# segments archived per second while the workload ran, the largest backlog, and the time to drain it afterwards.
#
#   benchmarks/wal-archive.sh [--duration S] [--workload pgbench|bulk|backlog] [--segments N]
#                             [--rows "jb-sync jb-async pgbr-sync pgbr-async"] [--work DIR] [--jar JAR]
#
# Rows:
#   jb-sync      archive_command = jiffoo-backup wal-push --store file:... --key-file ... %p   (a JVM per file)
#   jb-async     the same with --spool, and `jiffoo-backup wal-uploader` running beside the server
#   pgbr-sync    pgbackrest archive-push %p   (zstd level 3, aes-256-cbc repository: the same work as ours)
#   pgbr-async   the same with archive-async=y, process-max=2
# Workloads:
#   pgbench      pgbench -c 8 -j 2 at full speed (scale 50, TPC-B-like)
#   bulk         two clients inserting 10,000 rows of 200 bytes per transaction: the fastest WAL a client makes here
#   backlog      the archiver's capacity alone: archiving paused (archive_command = ''), N segments (--segments, 20)
#                written and switched, then the row's command set; archived_per_s = N / drain time
# Run as root (the server and the archivers run as postgres) on a quiet machine; talks only to a unix socket.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
DURATION=60
WORKLOAD=pgbench
SEGMENTS=20
ROWS="jb-sync jb-async pgbr-sync pgbr-async"
WORK=/var/tmp/jb-bench-wal
JAR=$repo/backup-cli/target/jiffoo-backup.jar
while [ $# -gt 0 ]; do
    case $1 in
        --duration) DURATION=$2; shift 2 ;;
        --workload) WORKLOAD=$2; shift 2 ;;
        --segments) SEGMENTS=$2; shift 2 ;;
        --rows) ROWS=$2; shift 2 ;;
        --work) WORK=$2; shift 2 ;;
        --jar) JAR=$2; shift 2 ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 0 ;;
        *) echo "unknown argument: $1 (try --help)" >&2; exit 2 ;;
    esac
done
LAUNCHER=$(dirname "$JAR")/jiffoo-backup
[ -x "$LAUNCHER" ] || { echo "no launcher next to $JAR: build with ./mvnw package" >&2; exit 1; }
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
command -v pgbackrest > /dev/null || { echo "pgbackrest missing (apt-get install pgbackrest)" >&2; exit 1; }
as_pg() { if [ "$(id -u)" = 0 ]; then setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"; else "$@"; fi; }
log() { echo "[$(date +%T)] $*" >&2; }

# the uploader runs under setpriv in a subshell: stop the JVM itself, by the pid it writes into the spool
stop_uploader() {
    [ -f "$WORK/jb-spool/uploader.pid" ] && kill "$(cat "$WORK/jb-spool/uploader.pid")" 2> /dev/null || true
    [ -n "${UPLOADER:-}" ] && { kill "$UPLOADER" 2> /dev/null; wait "$UPLOADER" 2> /dev/null; } || true
    UPLOADER=
}
cleanup() {
    stop_uploader
    as_pg "$PGBIN/pg_ctl" -D "$WORK/data" -m immediate stop > /dev/null 2>&1 || true
}
trap cleanup EXIT

rm -rf "$WORK"
mkdir -p "$WORK"
chown postgres:postgres "$WORK" 2> /dev/null || true
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
as_pg "$PGBIN/initdb" -D "$WORK/data" -U postgres -A trust --locale=C -E UTF8 > /dev/null
cat >> "$WORK/data/postgresql.conf" << EOF
port = $PORT
listen_addresses = ''
unix_socket_directories = '$WORK'
wal_level = replica
archive_mode = on
archive_command = '/bin/false'
max_wal_size = 4GB
EOF
as_pg "$PGBIN/pg_ctl" -D "$WORK/data" -l "$WORK/server.log" -w start > /dev/null
PSQL=(as_pg psql -h "$WORK" -p "$PORT" -U postgres -X -q -At)
as_pg pgbench -h "$WORK" -p "$PORT" -U postgres -q -i -s 50 postgres > /dev/null 2>&1
"${PSQL[@]}" -c "create table bulk (id int, pad text)"
printf "insert into bulk select g, repeat('x', 200) from generate_series(1, 10000) g;\n" > "$WORK/bulk.sql"
chown postgres:postgres "$WORK/bulk.sql"

# ours: a key and a store the server's user owns
as_pg java -jar "$JAR" keygen "$WORK/backup.key" > /dev/null
as_pg mkdir -m 700 "$WORK/jb-store" "$WORK/jb-spool"
JB="$LAUNCHER wal-push --store file:$WORK/jb-store --key-file $WORK/backup.key"
# pgBackRest: the same work (zstd 3, AES-256 repository), its own repository
as_pg mkdir -m 700 "$WORK/pgbr-repo" "$WORK/pgbr-spool"
pgbr_conf() {
    cat << EOF
[global]
repo1-path=$WORK/pgbr-repo
repo1-cipher-type=aes-256-cbc
repo1-cipher-pass=$(head -c 24 /dev/urandom | base64)
compress-type=zst
compress-level=3
spool-path=$WORK/pgbr-spool
archive-async=$1
process-max=2
log-level-console=warn
log-path=$WORK
lock-path=$WORK
[bench]
pg1-path=$WORK/data
pg1-port=$PORT
pg1-socket-path=$WORK
EOF
}
pgbr_conf n > "$WORK/pgbr-sync.conf"
sed 's/^archive-async=n/archive-async=y/' "$WORK/pgbr-sync.conf" > "$WORK/pgbr-async.conf"
chown postgres:postgres "$WORK"/pgbr-*.conf
chmod 600 "$WORK"/pgbr-*.conf
as_pg pgbackrest --config="$WORK/pgbr-sync.conf" --stanza=bench stanza-create > /dev/null

archive_command() {
    case $1 in
        jb-sync) echo "$JB %p" ;;
        jb-async) echo "$JB --spool $WORK/jb-spool %p" ;;
        pgbr-sync) echo "pgbackrest --config=$WORK/pgbr-sync.conf --stanza=bench archive-push %p" ;;
        pgbr-async) echo "pgbackrest --config=$WORK/pgbr-async.conf --stanza=bench archive-push %p" ;;
    esac
}
ready() { find "$WORK/data/pg_wal/archive_status" -name '*.ready' | wc -l; }
archived() { "${PSQL[@]}" -c "select archived_count from pg_stat_archiver"; }
lsn() { "${PSQL[@]}" -c "select pg_current_wal_lsn()"; }

printf 'row\tworkload\tseconds\twal_mb\tsegments\tgenerated_per_s\tarchived_per_s\tmax_backlog\tdrain_s\tfailed\n'
for row in $ROWS; do
    log "row $row: $WORKLOAD"
    "${PSQL[@]}" -c "alter system set archive_command = '$(archive_command "$row")'" -c "select pg_reload_conf()" > /dev/null
    "${PSQL[@]}" -c "select pg_switch_wal()" -c "checkpoint" > /dev/null
    # let the previous row's backlog drain before this one starts
    for _ in $(seq 120); do [ "$(ready)" = 0 ] && break; sleep 1; done
    if [ "$WORKLOAD" = backlog ]; then
        "${PSQL[@]}" -c "alter system set archive_command = ''" -c "select pg_reload_conf()" > /dev/null
        l0=$(lsn)
        for _ in $(seq "$SEGMENTS"); do
            "${PSQL[@]}" -c "insert into bulk select g, md5(g::text) from generate_series(1, 100000) g" \
                -c "select pg_switch_wal()" > /dev/null
        done
        l1=$(lsn)
        n=$(ready)
    fi
    UPLOADER=
    start_uploader() {
        as_pg "$LAUNCHER" wal-uploader --pgdata "$WORK/data" --spool "$WORK/jb-spool" \
            --store "file:$WORK/jb-store" --key-file "$WORK/backup.key" >> "$WORK/uploader.log" 2>&1 &
        UPLOADER=$!
    }
    if [ "$row" = jb-async ] && [ "$WORKLOAD" != backlog ]; then
        start_uploader
        sleep 2
    fi
    failed0=$("${PSQL[@]}" -c "select failed_count from pg_stat_archiver")
    if [ "$WORKLOAD" = backlog ]; then
        "${PSQL[@]}" -c "alter system set archive_command = '$(archive_command "$row")'" -c "select pg_reload_conf()" \
            > /dev/null
        start=$(date +%s.%N)
        # the uploader starts with the clock, as pgBackRest's asynchronous process starts with its first push
        [ "$row" = jb-async ] && start_uploader
        for _ in $(seq 3000); do [ "$(ready)" = 0 ] && break; sleep 0.2; done
        drain=$(echo "$(date +%s.%N) - $start" | bc)
        failed=$(( $("${PSQL[@]}" -c "select failed_count from pg_stat_archiver") - failed0 ))
        stop_uploader
        bytes=$("${PSQL[@]}" -c "select pg_wal_lsn_diff('$l1', '$l0')")
        printf '%s\t%s\t%s\t%.0f\t%s\t-\t%.2f\t%s\t%.1f\t%s\n' "$row" backlog "$drain" \
            "$(echo "$bytes / 1048576" | bc -l)" "$n" "$(echo "$n / $drain" | bc -l)" "$n" "$drain" "$failed"
        continue
    fi
    a0=$(archived)
    l0=$(lsn)
    if [ "$WORKLOAD" = bulk ]; then
        as_pg pgbench -h "$WORK" -p "$PORT" -U postgres -n -c 2 -j 2 -T "$DURATION" -f "$WORK/bulk.sql" postgres \
            > "$WORK/pgbench-$row.log" 2>&1 &
    else
        as_pg pgbench -h "$WORK" -p "$PORT" -U postgres -c 8 -j 2 -T "$DURATION" postgres \
            > "$WORK/pgbench-$row.log" 2>&1 &
    fi
    bench=$!
    max=0
    while kill -0 "$bench" 2> /dev/null; do
        r=$(ready)
        [ "$r" -gt "$max" ] && max=$r
        echo "$row $(date +%s) ready=$r archived=$(archived)" >> "$WORK/backlog.log"
        sleep 1
    done
    wait "$bench" || true
    a1=$(archived)
    l1=$(lsn)
    "${PSQL[@]}" -c "select pg_switch_wal()" > /dev/null
    start=$(date +%s.%N)
    for _ in $(seq 600); do [ "$(ready)" = 0 ] && break; sleep 0.2; done
    drain=$(echo "$(date +%s.%N) - $start" | bc)
    failed=$(( $("${PSQL[@]}" -c "select failed_count from pg_stat_archiver") - failed0 ))
    stop_uploader
    bytes=$("${PSQL[@]}" -c "select pg_wal_lsn_diff('$l1', '$l0')")
    printf '%s\t%s\t%s\t%.0f\t%.1f\t%.2f\t%.2f\t%s\t%.1f\t%s\n' "$row" "$WORKLOAD" "$DURATION" \
        "$(echo "$bytes / 1048576" | bc -l)" "$(echo "$bytes / 16777216" | bc -l)" \
        "$(echo "$bytes / 16777216 / $DURATION" | bc -l)" "$(echo "($a1 - $a0) / $DURATION" | bc -l)" \
        "$max" "$drain" "$failed"
done
log "backlog samples: $WORK/backlog.log"

#!/usr/bin/env bash
# Issue 14: base backups, restore to a point (RTO) and the recovery point (RPO), side by side with pgBackRest and
# pg_dump/pg_restore (docs/benchmarks.md, "Point-in-time recovery"). Run as root on a quiet machine; the servers and
# every backup tool run as postgres; everything talks to 127.0.0.1 or a unix socket.
#
#   benchmarks/pitr.sh [--parts "base rto rpo"] [--scale 50] [--rounds 3] [--rpo-rounds 3]
#                      [--rpo-timeouts "60 5"] [--work DIR] [--jar JAR]
#
# base  one cluster (the installed server, archive_mode on, archive_command = our wal-push --spool with the uploader
#       running, then pgbackrest archive-push: both archives get every segment) holding pgbench -s SCALE plus the
#       1,000,000-row orders table of benchmarks/orders.sql (~1 GiB at scale 50). ROUNDS interleaved rounds of:
#         dump      pg_dump -Fc -Z9 > f                                   (the logical backup's anchor)
#         jb-dump   jiffoo-backup backup database                         (our logical backup)
#         jb-base   jiffoo-backup backup base                             (pg_basebackup -Ft -X none | zstd 3 | AES-256)
#         pgbr-full pgbackrest backup --type=full                         (zstd 3, aes-256-cbc, process-max 2)
#       Reported: wall and CPU seconds (of the tool's process tree), stored MiB.
# rto   then pgbench -c 4 runs 60 s (WAL to replay); a target time is taken after 45 s. Rows, ROUNDS rounds:
#         pgrest    createdb R; pg_restore -d R f                         (the logical restore's anchor)
#         jb-restore jiffoo-backup restore database --latest --into R     (our logical restore, every check)
#         jb-pitr   jiffoo-backup restore pitr --target-time T --start    (extract, replay to T, promoted)
#         pgbr-pitr pgbackrest restore --type=time --target=T; pg_ctl start; wait until promoted
#       Both point-in-time restores must recover the same number of pgbench_history rows (checked).
# rpo   a small second cluster; a ticker inserts clock_timestamp() 10 times a second; after 70-130 s (random) the
#       server is stopped with -m immediate (a crash: nothing more is archived); the last committed tick is read by
#       crash recovery of the old data directory (archiving off), the recovered one by `restore pitr --latest
#       --start` from the store alone (the host and its spool are gone). RPO = their difference. Per
#       archive_timeout in RPO_TIMEOUTS (60 s: the documented setting; 5 s: the low-latency setting), asynchronous
#       archiving (wal-push --spool + wal-uploader).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
PARTS="base rto rpo"
SCALE=50
ROUNDS=3
RPO_ROUNDS=3
RPO_TIMEOUTS="60 5"
WORK=/var/tmp/jb-bench-pitr
JAR=$repo/backup-cli/target/jiffoo-backup.jar
while [ $# -gt 0 ]; do
    case $1 in
        --parts) PARTS=$2; shift 2 ;;
        --scale) SCALE=$2; shift 2 ;;
        --rounds) ROUNDS=$2; shift 2 ;;
        --rpo-rounds) RPO_ROUNDS=$2; shift 2 ;;
        --rpo-timeouts) RPO_TIMEOUTS=$2; shift 2 ;;
        --work) WORK=$2; shift 2 ;;
        --jar) JAR=$2; shift 2 ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 0 ;;
        *) echo "unknown argument: $1 (try --help)" >&2; exit 2 ;;
    esac
done
[ "$(id -u)" = 0 ] || { echo "run as root (the servers and tools run as postgres)" >&2; exit 1; }
LAUNCHER=$(dirname "$JAR")/jiffoo-backup
[ -x "$LAUNCHER" ] || { echo "no launcher next to $JAR: build with ./mvnw package" >&2; exit 1; }
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
command -v pgbackrest > /dev/null || { echo "pgbackrest missing (apt-get install pgbackrest)" >&2; exit 1; }
PG_USER=(setpriv --reuid=postgres --regid=postgres --init-groups -- env HOME="$WORK")
as_pg() { "${PG_USER[@]}" "$@"; }
log() { echo "[$(date +%T)] $*" >&2; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now() { date +%s.%N; }
# wall and CPU (user+sys of the process tree) of a command run as postgres, as "wall cpu" on fd 3
timed() {
    local t0 t1 out
    out=$(mktemp)
    t0=$(now)
    /usr/bin/time -f '%U %S' -o "$out" "${PG_USER[@]}" "$@"
    t1=$(now)
    awk -v w="$(echo "$t1 - $t0" | bc)" '{ printf "%.2f %.2f\n", w, $1 + $2 }' "$out" >&3
    rm -f "$out"
}
mib() { du -sb "$1" | awk '{ printf "%.1f", $1 / 1048576 }'; }

declare -A UPLOADERS=()
stop_uploader() { # $1 = spool
    if [ -f "$1/uploader.pid" ]; then kill "$(cat "$1/uploader.pid")" 2> /dev/null || true; fi
    sleep 0.5
}
start_uploader() { # $1 = pgdata, $2 = spool, $3 = store, $4 = log
    as_pg "$LAUNCHER" wal-uploader --pgdata "$1" --spool "$2" --store "file:$3" --key-file "$WORK/backup.key" \
        >> "$4" 2>&1 &
    UPLOADERS[$2]=1
}
stop_server() { as_pg "$PGBIN/pg_ctl" -D "$1" -m "${2:-fast}" stop > /dev/null 2>&1 || true; }
cleanup() {
    for s in "${!UPLOADERS[@]}"; do stop_uploader "$s"; done
    for d in "$WORK"/data "$WORK"/r-* "$WORK"/rpo-data "$WORK"/rpo-r "$WORK"/rpo-truth; do
        [ -f "$d/postmaster.pid" ] && stop_server "$d" immediate
    done
    return 0
}
trap cleanup EXIT

rm -rf "$WORK"
mkdir -p "$WORK"
chown postgres:postgres "$WORK"
cd "$WORK"
as_pg java -jar "$JAR" keygen "$WORK/backup.key" > /dev/null
exec 3> "$WORK/times"

# a cluster with archive_mode on; $1 = dir, $2 = port, $3 = our store, $4 = spool, $5 = pgbackrest config or ''
make_cluster() {
    as_pg "$PGBIN/initdb" -D "$1" -U postgres -A trust --locale=C -E UTF8 > /dev/null
    local cmd="$LAUNCHER wal-push --spool $4 --store file:$3 --key-file $WORK/backup.key %p"
    [ -n "$5" ] && cmd="$cmd \&\& pgbackrest --config=$5 --stanza=bench archive-push %p"
    cat >> "$1/postgresql.conf" << EOF
port = $2
listen_addresses = '127.0.0.1'
unix_socket_directories = '$WORK'
wal_level = replica
archive_mode = on
archive_command = '$cmd'
max_wal_size = 4GB
shared_buffers = 256MB
EOF
    as_pg mkdir -p -m 700 "$3" "$4"
}
psql_at() { local port=$1; shift; as_pg psql -h 127.0.0.1 -p "$port" -U postgres -X -q -At "$@"; }
# PostgreSQL's checkpointer starts while the server is still in (crash) recovery and then sleeps checkpoint_timeout
# without counting archive_timeout: until its first checkpoint after a start, no segment is switched by the timeout
# (seen on 15.20). docs/pitr.md: run CHECKPOINT after every start.
after_start() { psql_at "$1" -c "CHECKPOINT" > /dev/null; }
ready() { find "$1/pg_wal/archive_status" -name '*.ready' | wc -l; }
drain() { # wait until every segment is archived (by both archives: .ready turns .done after both said 0)
    for _ in $(seq 600); do
        [ "$(ready "$1")" = 0 ] && return
        sleep 0.5
    done
    log "archive did not drain in 300 s"
}

printf 'part\tround\trow\twall_s\tcpu_s\tstored_mib\tnote\n'
row() { printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@"; }

if [[ " $PARTS " == *" base "* || " $PARTS " == *" rto "* ]]; then
    PORT=$(free_port)
    D=$WORK/data
    as_pg mkdir -m 700 "$WORK/pgbr-repo" "$WORK/pgbr-spool"
    cat > "$WORK/pgbr.conf" << EOF
[global]
repo1-path=$WORK/pgbr-repo
repo1-cipher-type=aes-256-cbc
repo1-cipher-pass=$(head -c 24 /dev/urandom | base64)
repo1-retention-full=100
compress-type=zst
compress-level=3
spool-path=$WORK/pgbr-spool
archive-async=y
process-max=2
start-fast=y
log-level-console=warn
log-path=$WORK
lock-path=$WORK
[bench]
pg1-path=$D
pg1-port=$PORT
pg1-socket-path=$WORK
EOF
    chown postgres:postgres "$WORK/pgbr.conf"
    chmod 600 "$WORK/pgbr.conf"
    make_cluster "$D" "$PORT" "$WORK/jb-store" "$WORK/jb-spool" "$WORK/pgbr.conf"
    as_pg "$PGBIN/pg_ctl" -D "$D" -l "$WORK/server.log" -w start > /dev/null
    after_start "$PORT"
    start_uploader "$D" "$WORK/jb-spool" "$WORK/jb-store" "$WORK/uploader.log"
    as_pg pgbackrest --config="$WORK/pgbr.conf" --stanza=bench stanza-create > /dev/null
    log "generating pgbench -s $SCALE + orders"
    as_pg pgbench -h 127.0.0.1 -p "$PORT" -U postgres -q -i -s "$SCALE" postgres > /dev/null 2>&1
    psql_at "$PORT" -v ON_ERROR_STOP=1 -f "$repo/benchmarks/orders.sql" > /dev/null
    psql_at "$PORT" -c "VACUUM ANALYZE" -c "CHECKPOINT"
    DBSIZE=$(psql_at "$PORT" -c "select pg_database_size('postgres') / 1048576")
    log "database: $DBSIZE MiB; waiting for the archive"
    drain "$D"
    JB_ENV=(DB_HOST=127.0.0.1 DB_PORT="$PORT" DB_USER=postgres DB_NAME=postgres BACKUP_DIR="$WORK/jb-store"
        ENCRYPTION_KEY_FILE="$WORK/backup.key")
    quiet() { psql_at "$PORT" -c "CHECKPOINT" > /dev/null; sync; drain "$D"; }
fi

if [[ " $PARTS " == *" base "* ]]; then
    for r in $(seq "$ROUNDS"); do
        for name in dump jb-dump jb-base pgbr-full; do
            quiet
            case $name in
                dump)
                    timed sh -c "pg_dump -h 127.0.0.1 -p $PORT -U postgres -Fc -Z9 postgres > $WORK/dump.$r"
                    size=$(mib "$WORK/dump.$r") ;;
                jb-dump)
                    before=$(du -sb "$WORK/jb-store" | cut -f1)
                    timed env "${JB_ENV[@]}" "$LAUNCHER" -q backup database
                    size=$(echo "$(du -sb "$WORK/jb-store" | cut -f1) $before" | awk '{ printf "%.1f", ($1 - $2) / 1048576 }') ;;
                jb-base)
                    before=$(du -sb "$WORK/jb-store" | cut -f1)
                    timed env "${JB_ENV[@]}" "$LAUNCHER" -q backup base
                    size=$(echo "$(du -sb "$WORK/jb-store" | cut -f1) $before" | awk '{ printf "%.1f", ($1 - $2) / 1048576 }') ;;
                pgbr-full)
                    before=$(du -sb "$WORK/pgbr-repo/backup" | cut -f1)
                    timed pgbackrest --config="$WORK/pgbr.conf" --stanza=bench --type=full backup
                    size=$(echo "$(du -sb "$WORK/pgbr-repo/backup" | cut -f1) $before" | awk '{ printf "%.1f", ($1 - $2) / 1048576 }') ;;
            esac
            read -r wall cpu < <(tail -1 "$WORK/times")
            row base "$r" "$name" "$wall" "$cpu" "$size" "db ${DBSIZE} MiB"
        done
    done
fi

if [[ " $PARTS " == *" rto "* ]]; then
    if [[ " $PARTS " != *" base "* ]]; then # the backups the restores start from
        as_pg sh -c "pg_dump -h 127.0.0.1 -p $PORT -U postgres -Fc -Z9 postgres > $WORK/dump.1"
        as_pg env "${JB_ENV[@]}" "$LAUNCHER" -q backup database
        as_pg env "${JB_ENV[@]}" "$LAUNCHER" -q backup base
        as_pg pgbackrest --config="$WORK/pgbr.conf" --stanza=bench --type=full backup
    fi
    log "rto: pgbench -c 4 for 60 s (WAL to replay)"
    as_pg pgbench -h 127.0.0.1 -p "$PORT" -U postgres -n -c 4 -j 2 -T 60 postgres > "$WORK/pgbench-rto.log" 2>&1 &
    bench=$!
    sleep 45
    TARGET=$(psql_at "$PORT" -c "select to_char(clock_timestamp() at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00'")
    wait "$bench" || true
    WAL_MB=$(psql_at "$PORT" -c "select pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0') / 1048576")
    psql_at "$PORT" -c "select pg_switch_wal()" > /dev/null
    drain "$D"
    as_pg pgbackrest --config="$WORK/pgbr.conf" --stanza=bench check > /dev/null 2>&1 || true
    log "rto: target $TARGET"
    last_dump=$(ls "$WORK"/dump.* | sort -V | tail -1)
    for r in $(seq "$ROUNDS"); do
        for name in pgrest jb-restore jb-pitr pgbr-pitr; do
            quiet
            note=
            case $name in
                pgrest)
                    psql_at "$PORT" -c "drop database if exists r_pgrest" -c "create database r_pgrest"
                    timed pg_restore -h 127.0.0.1 -p "$PORT" -U postgres -d r_pgrest "$last_dump"
                    psql_at "$PORT" -c "drop database r_pgrest" ;;
                jb-restore)
                    psql_at "$PORT" -c "drop database if exists r_jb"
                    timed env "${JB_ENV[@]}" "$LAUNCHER" -q restore database --latest --into r_jb
                    psql_at "$PORT" -c "drop database r_jb" ;;
                jb-pitr)
                    rp=$(free_port)
                    rm -rf "$WORK/r-jb"
                    timed env "${JB_ENV[@]}" "$LAUNCHER" -q restore pitr --pgdata "$WORK/r-jb" \
                        --target-time "$TARGET" --start --port "$rp" > "$WORK/r-jb.out"
                    note="history=$(psql_at "$rp" -c 'select count(*) from pgbench_history')"
                    stop_server "$WORK/r-jb" ;;
                pgbr-pitr)
                    rp=$(free_port)
                    rm -rf "$WORK/r-pgbr"
                    as_pg mkdir -m 700 "$WORK/r-pgbr"
                    timed sh -c "pgbackrest --config=$WORK/pgbr.conf --stanza=bench --pg1-path=$WORK/r-pgbr \
                        --type=time '--target=$TARGET' --target-action=promote restore \
                        && $PGBIN/pg_ctl -D $WORK/r-pgbr -l $WORK/r-pgbr.log -o '-p $rp -c archive_mode=off' -w -t 3600 start > /dev/null \
                        && until [ \"\$(psql -h 127.0.0.1 -p $rp -U postgres -X -At -c 'select pg_is_in_recovery()' 2> /dev/null)\" = f ]; do sleep 0.1; done"
                    note="history=$(psql_at "$rp" -c 'select count(*) from pgbench_history')"
                    stop_server "$WORK/r-pgbr" ;;
            esac
            read -r wall cpu < <(tail -1 "$WORK/times")
            row rto "$r" "$name" "$wall" "$cpu" - "$note"
        done
        rm -rf "$WORK/r-jb" "$WORK/r-pgbr"
    done
    log "rto: replayed WAL from the base backups to the target; WAL written in all: $WAL_MB MiB"
fi

if [[ " $PARTS " == *" base "* || " $PARTS " == *" rto "* ]]; then
    stop_uploader "$WORK/jb-spool"
    stop_server "$D"
fi

if [[ " $PARTS " == *" rpo "* ]]; then
    RP=$(free_port)
    RD=$WORK/rpo-data
    make_cluster "$RD" "$RP" "$WORK/rpo-store" "$WORK/rpo-spool" ""
    as_pg "$PGBIN/pg_ctl" -D "$RD" -l "$WORK/rpo-server.log" -w start > /dev/null
    after_start "$RP"
    start_uploader "$RD" "$WORK/rpo-spool" "$WORK/rpo-store" "$WORK/rpo-uploader.log"
    psql_at "$RP" -c "create table ticks (t timestamptz not null)"
    printf 'insert into ticks values (clock_timestamp());\n' > "$WORK/tick.sql"
    chown postgres:postgres "$WORK/tick.sql"
    as_pg env DB_HOST=127.0.0.1 DB_PORT="$RP" DB_USER=postgres BACKUP_DIR="$WORK/rpo-store" \
        ENCRYPTION_KEY_FILE="$WORK/backup.key" "$LAUNCHER" -q backup base
    for timeout in $RPO_TIMEOUTS; do
        psql_at "$RP" -c "alter system set archive_timeout = '${timeout}s'" -c "select pg_reload_conf()" > /dev/null
        for r in $(seq "$RPO_ROUNDS"); do
            objs0=$(find "$WORK/rpo-store/wal" -name '*.gpg' | wc -l)
            bytes0=$(du -sb "$WORK/rpo-store/wal" | cut -f1)
            as_pg pgbench -h 127.0.0.1 -p "$RP" -U postgres -n -c 1 -R 10 -T 600 -f "$WORK/tick.sql" postgres \
                > "$WORK/ticker.log" 2>&1 &
            ticker=$!
            run=$((70 + RANDOM % 61))
            sleep "$run"
            stop_server "$RD" immediate # the crash
            wait "$ticker" 2> /dev/null || true
            stop_uploader "$WORK/rpo-spool" # the host is gone: what the uploader did not send is lost
            objs=$(( $(find "$WORK/rpo-store/wal" -name '*.gpg' | wc -l) - objs0 ))
            bytes=$(( $(du -sb "$WORK/rpo-store/wal" | cut -f1) - bytes0 ))
            # the truth: crash recovery of a copy of the old data directory, archiving off (on the original it would
            # let the end-of-recovery checkpoint recycle segments not archived yet)
            rm -rf "$WORK/rpo-truth"
            cp -a "$RD" "$WORK/rpo-truth"
            rm -f "$WORK/rpo-truth/postmaster.pid"
            as_pg "$PGBIN/pg_ctl" -D "$WORK/rpo-truth" -l "$WORK/rpo-truth.log" -o "-c archive_mode=off" -w start \
                > /dev/null
            committed=$(psql_at "$RP" -c "select extract(epoch from max(t)) from ticks")
            stop_server "$WORK/rpo-truth"
            # the restore from the store alone
            rp=$(free_port)
            rm -rf "$WORK/rpo-r"
            as_pg env DB_HOST=127.0.0.1 DB_USER=postgres BACKUP_DIR="$WORK/rpo-store" \
                ENCRYPTION_KEY_FILE="$WORK/backup.key" "$LAUNCHER" -q restore pitr --pgdata "$WORK/rpo-r" --latest \
                --start --port "$rp" > "$WORK/rpo-r.out"
            recovered=$(psql_at "$rp" -c "select extract(epoch from max(t)) from ticks")
            stop_server "$WORK/rpo-r"
            rpo=$(echo "$committed - $recovered" | bc)
            row rpo "$r" "archive_timeout=${timeout}s" - - "$(echo "$bytes / 1048576" | bc -l | xargs printf '%.2f')" \
                "rpo_s=$(printf '%.2f' "$rpo") crash_after_s=$run segments=$objs"
            # the primary goes on (archiving on again; the uploader sends what the crash left behind)
            as_pg "$PGBIN/pg_ctl" -D "$RD" -l "$WORK/rpo-server.log" -w start > /dev/null
            after_start "$RP"
            start_uploader "$RD" "$WORK/rpo-spool" "$WORK/rpo-store" "$WORK/rpo-uploader.log"
        done
    done
    stop_uploader "$WORK/rpo-spool"
    stop_server "$RD"
fi
log "work directory: $WORK (remove it when done)"

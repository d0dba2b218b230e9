#!/usr/bin/env bash
# Issue 14: does wal-push (PostgreSQL's archive_command, one JVM per segment) keep up with pgbench at full speed?
# Starts a throwaway PostgreSQL cluster (the machine's server, as the postgres OS user when run as root) with
# archive_command = 'jiffoo-backup wal-push --store file:WORK/store --key-file WORK/backup.key %p', runs pgbench at
# full speed (synchronous_commit=off, so that commits do not wait for the disk), and samples every few seconds: WAL generated (segments, from pg_current_wal_lsn), segments archived
# (pg_stat_archiver), the backlog (.ready files in pg_wal/archive_status) and archive failures. After pgbench it waits
# for the backlog to drain and reports how long that took.
#
# With --backlog N it first measures the archiver's capacity alone: archiving paused (archive_command = ''), N
# segments of table data written and switched, archiving resumed, and the time the N segments take to drain.
#
#   benchmarks/wal-archive.sh [--seconds 60] [--clients 4] [--scale 10] [--sample 5] [--work DIR] [--launcher PATH]
#                             [--backlog N] [--command CMD]  (another archive_command to compare, e.g. 'cp %p /x/%f')
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
SECONDS_RUN=60
CLIENTS=4
SCALE=10
SAMPLE=5
WORK=/var/tmp/jb-bench-walpush
LAUNCHER=$repo/backup-cli/target/jiffoo-backup
COMMAND=
BACKLOG=0
while [ $# -gt 0 ]; do
    case $1 in
        --seconds) SECONDS_RUN=$2; shift 2 ;;
        --clients) CLIENTS=$2; shift 2 ;;
        --scale) SCALE=$2; shift 2 ;;
        --sample) SAMPLE=$2; shift 2 ;;
        --work) WORK=$2; shift 2 ;;
        --launcher) LAUNCHER=$2; shift 2 ;;
        --command) COMMAND=$2; shift 2 ;;
        --backlog) BACKLOG=$2; shift 2 ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 0 ;;
        *) echo "unknown argument: $1 (try --help)" >&2; exit 2 ;;
    esac
done
BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
as_pg() { if [ "$(id -u)" = 0 ]; then setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"; else "$@"; fi; }

rm -rf "$WORK"
mkdir -p "$WORK/store"
chmod 755 "$WORK"
chmod 700 "$WORK/store"
openssl rand -base64 32 > "$WORK/backup.key"
chmod 600 "$WORK/backup.key"
[ "$(id -u)" = 0 ] && chown postgres:postgres "$WORK" "$WORK/store" "$WORK/backup.key"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
as_pg "$BIN/initdb" -D "$WORK/data" -U postgres -A trust --no-sync > "$WORK/initdb.log"
CMD=${COMMAND:-$LAUNCHER wal-push --store file:$WORK/store --key-file $WORK/backup.key %p}
cat >> "$WORK/data/postgresql.conf" <<CONF
port = $PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
wal_level = replica
archive_mode = on
archive_command = '$CMD'
max_wal_size = 4GB
synchronous_commit = off            # full speed: commits do not wait for the WAL flush (WAL is written all the same)
CONF
as_pg "$BIN/pg_ctl" -D "$WORK/data" -l "$WORK/server.log" -w start > /dev/null
trap 'as_pg "$BIN/pg_ctl" -D "$WORK/data" -m immediate stop > /dev/null 2>&1 || true' EXIT
PSQL=(psql -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -Atq)
ready() { ls "$WORK/data/pg_wal/archive_status" | grep -c '\.ready$' || true; }
pgbench -h 127.0.0.1 -p "$PORT" -U postgres -i -s "$SCALE" -q postgres > "$WORK/pgbench-init.log" 2>&1
"${PSQL[@]}" -c "select pg_switch_wal()" > /dev/null
# let the initial load's backlog drain first, so that the run measures pgbench alone
while [ "$(ready)" -gt 0 ]; do sleep 1; done

if [ "$BACKLOG" -gt 0 ]; then
    "${PSQL[@]}" -c "alter system set archive_command = ''" -c "select pg_reload_conf()" > /dev/null
    "${PSQL[@]}" -c "create table filler (id int, pad text)"
    while [ "$(ready)" -lt "$BACKLOG" ]; do
        "${PSQL[@]}" -c "insert into filler select g, md5(g::text) || repeat(md5(random()::text), 8)
            from generate_series(1, 40000) g" -c "select pg_switch_wal()" > /dev/null
    done
    N=$(ready)
    B0=$(date +%s.%N)
    "${PSQL[@]}" -c "alter system reset archive_command" -c "select pg_reload_conf()" > /dev/null
    while [ "$(ready)" -gt 0 ]; do sleep 0.2; done
    B1=$(date +%s.%N)
    echo "capacity: $N segments archived in $(echo "$B1 - $B0" | bc) s:" \
        "$(echo "scale=2; $N / ($B1 - $B0)" | bc) segments/s, $(echo "scale=2; ($B1 - $B0) / $N" | bc) s per segment;" \
        "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
    "${PSQL[@]}" -c "drop table filler" -c "checkpoint" > /dev/null
fi

sample() { # seconds-since-start, WAL written (segments), archived, ready, failed
    "${PSQL[@]}" -F' ' -c "select pg_wal_lsn_diff(pg_current_wal_lsn(), '$START_LSN') / 16777216.0,
        archived_count - $START_ARCHIVED, failed_count - $START_FAILED from pg_stat_archiver" \
        | awk -v t="$1" -v r="$(ready)" \
            '{ printf "| %d | %.1f | %d | %d | %d |\n", t, $1, $2, r, $3 }'
}
read -r START_LSN START_ARCHIVED START_FAILED < <("${PSQL[@]}" -F' ' -c \
    "select pg_current_wal_lsn(), archived_count, failed_count from pg_stat_archiver")
echo "server $("$BIN/postgres" --version), archive_command: $CMD"
echo "pgbench -c $CLIENTS -j $CLIENTS -T $SECONDS_RUN (scale $SCALE), samples every $SAMPLE s"
echo
echo "| s | WAL written (segments) | archived | backlog (.ready) | failed |"
echo "|---|---|---|---|---|"
pgbench -h 127.0.0.1 -p "$PORT" -U postgres -c "$CLIENTS" -j "$CLIENTS" -T "$SECONDS_RUN" postgres \
    > "$WORK/pgbench.log" 2>&1 &
BENCH=$!
T0=$(date +%s)
while kill -0 "$BENCH" 2> /dev/null; do
    sample $(( $(date +%s) - T0 ))
    sleep "$SAMPLE"
done
wait "$BENCH"
"${PSQL[@]}" -c "select pg_switch_wal()" > /dev/null
T1=$(date +%s)
sample $(( T1 - T0 ))
while [ "$(ready)" -gt 0 ]; do
    sleep "$SAMPLE"
    sample $(( $(date +%s) - T0 ))
done
T2=$(date +%s)
echo
grep -E '^(tps|number of transactions actually processed)' "$WORK/pgbench.log" || tail -5 "$WORK/pgbench.log"
echo "backlog drained $(( T2 - T1 )) s after pgbench ended; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "stored: $(find "$WORK/store/wal" -name '*.manifest.json' 2> /dev/null | wc -l) files," \
    "$(du -sm "$WORK/store" | cut -f1) MiB"

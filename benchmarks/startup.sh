#!/usr/bin/env bash
# Issue 13: the command line's start-up (docs/benchmarks.md, "Start-up"), measured in interleaved rounds, medians and
# spread of the wall clock and of the CPU time (user + system) of each row.
#
#   benchmarks/startup.sh [--rounds N] [--jar JAR] [--jar-b OLDJAR] [--work DIR] [--segment FILE]
#
# Rows, in this order in every round:
#   hello         java -cp WORK Hello                     (the JVM's own floor: an empty main)
#   version_jar   java -jar JAR --version                 (no class-data-sharing archive)
#   version       jiffoo-backup --version                 (the launcher next to JAR, with its archive)
#   list_jar      java -jar JAR list                      (a local store holding three small files backups)
#   list          jiffoo-backup list
#   version_b, list_b   java -jar OLDJAR ... (with --jar-b: an older build, e.g. before a change)
#   wal_push_jar  java -jar JAR wal-push --store file:WORK/walstore --key-file KEY SEGMENT   (archive_command)
#   wal_push      jiffoo-backup wal-push ...               (the launcher, as archive_command runs it)
#   wal_fetch     jiffoo-backup wal-fetch ... SEGMENT WORK/RECOVERYXLOG                  (restore_command)
# SEGMENT is a real 16 MiB WAL segment: --segment FILE, else a complete one read from the local server's pg_wal
# (psql -h 127.0.0.1 -U postgres, pg_read_binary_file). Each wal_push starts from an empty WAL store (emptied before
# the timed run). Nothing else here talks to a server; the stores are WORK/store and WORK/walstore.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
ROUNDS=10
JAR=$repo/backup-cli/target/jiffoo-backup.jar
JAR_B=
WORK=/var/tmp/jb-bench-startup
SEGMENT=
while [ $# -gt 0 ]; do
    case $1 in
        --rounds) ROUNDS=$2; shift 2 ;;
        --jar) JAR=$2; shift 2 ;;
        --jar-b) JAR_B=$2; shift 2 ;;
        --work) WORK=$2; shift 2 ;;
        --segment) SEGMENT=$2; shift 2 ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 0 ;;
        *) echo "unknown argument: $1 (try --help)" >&2; exit 2 ;;
    esac
done
LAUNCHER=$(dirname "$JAR")/jiffoo-backup
[ -x "$LAUNCHER" ] || { echo "no launcher next to $JAR: build with mvn package" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "missing /usr/bin/time (apt-get install time)" >&2; exit 1; }

rm -rf "$WORK"
mkdir -p "$WORK/store" "$WORK/tree"
printf 'public class Hello { public static void main(String[] a) { System.out.println("hello"); } }\n' \
    > "$WORK/Hello.java"
javac -d "$WORK" "$WORK/Hello.java"
export BACKUP_DIR=$WORK/store ENCRYPTION_KEY_FILE=$WORK/backup.key SOURCE_DIR=$WORK/tree
java -jar "$JAR" keygen "$ENCRYPTION_KEY_FILE" > /dev/null
head -c 100000 /dev/urandom > "$WORK/tree/a.bin"
for _ in 1 2 3; do java -jar "$JAR" backup files --quiet; sleep 1; done

mkdir -p "$WORK/walstore" "$WORK/pg_wal"
if [ -n "$SEGMENT" ]; then
    cp "$SEGMENT" "$WORK/pg_wal/"
    SEG_NAME=$(basename "$SEGMENT")
else
    SEG_NAME=$(psql -h 127.0.0.1 -U postgres -Atc "select name from pg_ls_waldir() where name ~ '^[0-9A-F]{24}$'
        and size = 16777216 order by modification desc offset 1 limit 1")
    psql -h 127.0.0.1 -U postgres -Atc "select encode(pg_read_binary_file('pg_wal/$SEG_NAME'), 'hex')" \
        | xxd -r -p > "$WORK/pg_wal/$SEG_NAME"
fi
[ "$(stat -c %s "$WORK/pg_wal/$SEG_NAME")" = 16777216 ] || { echo "no 16 MiB WAL segment" >&2; exit 1; }
WAL_OPTS="--store file:$WORK/walstore --key-file $ENCRYPTION_KEY_FILE"
# shellcheck disable=SC2086
"$LAUNCHER" wal-push $WAL_OPTS "$WORK/pg_wal/$SEG_NAME" # for wal_fetch

rows=(hello version_jar version list_jar list wal_push_jar wal_push wal_fetch)
[ -n "$JAR_B" ] && rows+=(version_b list_b)
# before a timed run: a WAL store without the segment, so that every wal_push archives it
pre() {
    case $1 in
        wal_push_jar|wal_push) rm -rf "$WORK/walstore/wal" ;;
        wal_fetch) rm -f "$WORK/RECOVERYXLOG" ;;
    esac
}
cmd() {
    case $1 in
        hello) echo java -cp "$WORK" Hello ;;
        version_jar) echo java -jar "$JAR" --version ;;
        version) echo "$LAUNCHER" --version ;;
        list_jar) echo java -jar "$JAR" list ;;
        list) echo "$LAUNCHER" list ;;
        wal_push_jar) echo java -jar "$JAR" wal-push $WAL_OPTS "$WORK/pg_wal/$SEG_NAME" ;;
        wal_push) echo "$LAUNCHER" wal-push $WAL_OPTS "$WORK/pg_wal/$SEG_NAME" ;;
        wal_fetch) echo "$LAUNCHER" wal-fetch $WAL_OPTS "$SEG_NAME" "$WORK/RECOVERYXLOG" ;;
        version_b) echo java -jar "$JAR_B" --version ;;
        list_b) echo java -jar "$JAR_B" list ;;
    esac
}
TSV=$WORK/rounds.tsv
: > "$TSV"
for r in $(seq 0 "$ROUNDS"); do
    for name in "${rows[@]}"; do
        pre "$name"
        # shellcheck disable=SC2046 # the paths have no spaces (WORK and the jars' directories)
        /usr/bin/time -f '%e %U %S' -o "$WORK/t" $(cmd "$name") > /dev/null 2>&1
        case $name in # a WAL row that failed would time nothing
            wal_push*) [ -n "$(find "$WORK/walstore/wal" -name '*.manifest.json')" ] ;;
            wal_fetch) cmp -s "$WORK/RECOVERYXLOG" "$WORK/pg_wal/$SEG_NAME" ;;
        esac || { echo "$name failed: $(cmd "$name")" >&2; exit 1; }
        # round 0 warms the page cache and is not counted
        [ "$r" -gt 0 ] && printf '%s\t%s\n' "$name" "$(tail -1 "$WORK/t")" >> "$TSV"
    done
done

echo "rounds: $ROUNDS, load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "| row | wall s, median (min–max) | CPU s (user+sys), median (min–max) |"
echo "|---|---|---|"
for name in "${rows[@]}"; do
    awk -F'\t' -v n="$name" '$1 == n { split($2, t, " "); print t[1], t[2] + t[3] }' "$TSV" | sort -n -k1,1 \
        | awk -v n="$name" '{ w[NR] = $1; c[NR] = $2 } END {
            m = int((NR + 1) / 2); asort(c, cs);
            printf "| %s | %.2f (%.2f–%.2f) | %.2f (%.2f–%.2f) |\n", n, w[m], w[1], w[NR], cs[m], cs[1], cs[NR] }'
done

#!/usr/bin/env bash
# Issue 13: the command line's start-up (docs/benchmarks.md, "Start-up"), measured in interleaved rounds, medians and
# spread of the wall clock and of the CPU time (user + system) of each row.
#
#   benchmarks/startup.sh [--rounds N] [--jar JAR] [--jar-b OLDJAR] [--work DIR]
#
# Rows, in this order in every round:
#   hello         java -cp WORK Hello                     (the JVM's own floor: an empty main)
#   version_jar   java -jar JAR --version                 (no class-data-sharing archive)
#   version       jiffoo-backup --version                 (the launcher next to JAR, with its archive)
#   list_jar      java -jar JAR list                      (a local store holding three small files backups)
#   list          jiffoo-backup list
#   version_b, list_b   java -jar OLDJAR ... (with --jar-b: an older build, e.g. before a change)
# Nothing here talks to a server; the store is WORK/store.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
ROUNDS=10
JAR=$repo/backup-cli/target/jiffoo-backup.jar
JAR_B=
WORK=/var/tmp/jb-bench-startup
while [ $# -gt 0 ]; do
    case $1 in
        --rounds) ROUNDS=$2; shift 2 ;;
        --jar) JAR=$2; shift 2 ;;
        --jar-b) JAR_B=$2; shift 2 ;;
        --work) WORK=$2; shift 2 ;;
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

rows=(hello version_jar version list_jar list)
[ -n "$JAR_B" ] && rows+=(version_b list_b)
cmd() {
    case $1 in
        hello) echo java -cp "$WORK" Hello ;;
        version_jar) echo java -jar "$JAR" --version ;;
        version) echo "$LAUNCHER" --version ;;
        list_jar) echo java -jar "$JAR" list ;;
        list) echo "$LAUNCHER" list ;;
        version_b) echo java -jar "$JAR_B" --version ;;
        list_b) echo java -jar "$JAR_B" list ;;
    esac
}
TSV=$WORK/rounds.tsv
: > "$TSV"
for r in $(seq 0 "$ROUNDS"); do
    for name in "${rows[@]}"; do
        # shellcheck disable=SC2046 # the paths have no spaces (WORK and the jars' directories)
        /usr/bin/time -f '%e %U %S' -o "$WORK/t" $(cmd "$name") > /dev/null 2>&1
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

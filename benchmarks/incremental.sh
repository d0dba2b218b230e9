#!/usr/bin/env bash
# Issue 17 (Performance): an incremental files backup after 1 % of the files changed, against a full backup of the
# same tree, side by side with restic's first and second backup of the same tree and the same change
# (docs/benchmarks.md, "Incremental files backups vs restic (issue 17)").
#
#   benchmarks/incremental.sh [--rounds N] [--mib MIB] [--work DIR] [--jar JAR] [--bench-jar JAR] [--no-build]
#                             [--cleanup]
#
# Every round, on the same tree (the run-all.sh bench tree: CompareRun tree, ~26,000 files at 1 GiB):
#   full         jiffoo-backup backup files --incremental TREE   (into an empty store: the chain's full backup)
#   restic-full  restic init; restic backup TREE                 (an empty repository, a password file)
#   (untimed)    1 % of the files (every 100th of the sorted list, a different offset every round) get new random
#                content of the same size
#   incr         jiffoo-backup backup files --incremental TREE   (an increment of the full backup)
#   restic-incr  restic backup TREE                              (restic's second backup: its parent snapshot)
# The two tools alternate their order from round to round (ours first in odd rounds), `sync` precedes every row.
# Per row: wall and CPU (user+sys of the process tree) and peak RSS from /usr/bin/time, the load average before the
# row, and the bytes the row added to its store. Ratios are taken per round, then their median.
#
# Environment (flags win): ROUNDS (3), MIB (1024), WORK (/var/tmp/jb-bench-incr), JAR (backup-cli/target/
# jiffoo-backup.jar), BENCH_JAR (benchmarks/target/benchmarks.jar, which builds the tree), JAVA_OPTS (the JVM
# options of our rows, default none), MVN_FLAGS (e.g. -o).
# Needs: java, restic (Debian: apt-get install restic; measured with 0.14), /usr/bin/time (apt-get install time).
# --cleanup removes WORK.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)

ROUNDS=${ROUNDS:-3}
MIB=${MIB:-1024}
WORK=${WORK:-/var/tmp/jb-bench-incr}
JAR=${JAR:-$repo/backup-cli/target/jiffoo-backup.jar}
BENCH_JAR=${BENCH_JAR:-$repo/benchmarks/target/benchmarks.jar}
JAVA_OPTS=${JAVA_OPTS:-}
MVN_FLAGS=${MVN_FLAGS:-}
BUILD=1
CLEANUP=0
while [ $# -gt 0 ]; do
    case $1 in
        --rounds) ROUNDS=$2; shift 2 ;;
        --mib) MIB=$2; shift 2 ;;
        --work) WORK=$2; shift 2 ;;
        --jar) JAR=$2; BUILD=0; shift 2 ;;
        --bench-jar) BENCH_JAR=$2; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        --cleanup) CLEANUP=1; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 0 ;;
        *) echo "unknown argument: $1 (try --help)" >&2; exit 2 ;;
    esac
done

log() { printf '%s  %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

if [ "$CLEANUP" = 1 ]; then
    rm -rf "$WORK"
    log "removed $WORK"
    exit 0
fi

for tool in java restic; do
    command -v "$tool" > /dev/null || { echo "missing $tool (apt-get install restic default-jre-headless)" >&2; exit 1; }
done
[ -x /usr/bin/time ] || { echo "missing /usr/bin/time (apt-get install time)" >&2; exit 1; }

if [ "$BUILD" = 1 ]; then
    log "building the jars"
    # shellcheck disable=SC2086 # MVN_FLAGS is a list of flags
    (cd "$repo" && ./mvnw -q -B -ntp $MVN_FLAGS -DskipTests package -pl backup-cli,benchmarks -am)
fi
[ -r "$JAR" ] || { echo "no jar at $JAR (build it, or pass --jar)" >&2; exit 1; }
[ -r "$BENCH_JAR" ] || { echo "no benchmarks jar at $BENCH_JAR (build it, or pass --bench-jar)" >&2; exit 1; }

TREE=$WORK/tree-$MIB
KEY=$WORK/backup.key
OUT=$WORK/out
LOGS=$WORK/logs
ROWS=$WORK/rounds-$MIB.tsv
mkdir -p "$WORK" "$LOGS"
if [ ! -s "$KEY" ]; then
    (umask 077 && head -c 32 /dev/urandom | base64 > "$KEY")
fi

# shellcheck disable=SC2086 # JAVA_OPTS is a list of flags
java $JAVA_OPTS -cp "$BENCH_JAR" com.jiffoo.backup.bench.CompareRun tree "$TREE" "$MIB" >&2
FILES=$(find "$TREE" -type f ! -name .jb-bench-tree | wc -l)
BYTES=$(find "$TREE" -type f ! -name .jb-bench-tree -printf '%s\n' | awk '{ s += $1 } END { print s }')
log "tree $TREE: $FILES files, $((BYTES / 1048576)) MiB"

# ---- the rows ------------------------------------------------------------------------------------------------------

# The command line as operators run it: the launcher next to the jar when there is one, else java -jar.
# shellcheck disable=SC2086 # JAVA_OPTS is a list of flags
jb() {
    if [ -x "$(dirname "$JAR")/jiffoo-backup" ]; then JAVA_OPTS="$JAVA_OPTS" "$(dirname "$JAR")/jiffoo-backup" "$@"
    else java $JAVA_OPTS -jar "$JAR" "$@"; fi
}
ours() { BACKUP_DIR="$OUT/store" ENCRYPTION_KEY_FILE="$KEY" jb -q backup files --incremental --json "$TREE"; }
rst() { RESTIC_PASSWORD_FILE=$KEY restic --repo "$OUT/restic" --cache-dir "$OUT/restic-cache" --quiet "$@"; }
row_full() { ours; }
row_incr() { ours; }
row_restic_full() { rst init > /dev/null && rst backup "$TREE"; }
row_restic_incr() { rst backup "$TREE"; }
export -f jb ours rst row_full row_incr row_restic_full row_restic_incr
export JAR JAVA_OPTS OUT KEY TREE

store_bytes() { du -sb "$1" 2> /dev/null | cut -f1 || echo 0; }

run_row() { # ROUND ROW STOREDIR
    local round=$1 row=$2 dir=$3 tf lf load before after wall user sys rss
    sync
    load=$(cut -d' ' -f1 /proc/loadavg)
    before=$(store_bytes "$dir")
    tf=$(mktemp)
    lf=$LOGS/r$round-$row.log
    if ! /usr/bin/time -f '%e %U %S %M' -o "$tf" bash -o pipefail -c "row_${row//-/_}" > "$lf" 2>&1; then
        log "FAILED: round $round $row (log: $lf)"
        tail -5 "$lf" >&2
        rm -f "$tf"
        exit 1
    fi
    after=$(store_bytes "$dir")
    read -r wall user sys rss < <(tail -1 "$tf")
    rm -f "$tf"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$row" "$wall" "$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')" \
        "$rss" "$load" "$((after - before))" >> "$ROWS"
    log "round $round $row: wall ${wall}s, CPU ${user}+${sys}s, load $load, +$((after - before)) bytes"
}

# New random content, same size, for every 100th file of the sorted list (offset ROUND): 1 % of the files.
change_one_percent() {
    local offset=$1 n=0 f size
    while IFS= read -r f; do
        size=$(stat -c %s "$f")
        head -c "$size" /dev/urandom > "$f.jb-new" && mv "$f.jb-new" "$f"
        n=$((n + 1))
    done < <(find "$TREE" -type f ! -name .jb-bench-tree | LC_ALL=C sort | awk -v o="$offset" 'NR % 100 == o')
    log "changed $n files (new content, same sizes)"
}

: > "$ROWS"
for ((round = 1; round <= ROUNDS; round++)); do
    rm -rf "$OUT" && mkdir -p "$OUT/store"
    if ((round % 2 == 1)); then order="ours restic"; else order="restic ours"; fi
    for tool in $order; do
        if [ "$tool" = ours ]; then run_row "$round" full "$OUT/store"; else run_row "$round" restic-full "$OUT/restic"; fi
    done
    change_one_percent "$((round % 100))"
    for tool in $order; do
        if [ "$tool" = ours ]; then run_row "$round" incr "$OUT/store"; else run_row "$round" restic-incr "$OUT/restic"; fi
    done
    grep -q '"incremental":true' "$LOGS/r$round-incr.log" \
        || { log "round $round: our second backup was not an increment (log: $LOGS/r$round-incr.log)"; exit 1; }
done

# ---- the table -----------------------------------------------------------------------------------------------------

awk -F'\t' -v files="$FILES" -v mib="$((BYTES / 1048576))" '
function median(a, n,   i, j, t) {
    for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
function stats(name, col,   n, i, a, lo, hi) {
    n = 0; lo = ""; hi = ""
    for (i = 1; i <= rounds; i++) if ((i, name) in v) {
        a[++n] = v[i, name, col]
        if (lo == "" || a[n] < lo) lo = a[n]
        if (hi == "" || a[n] > hi) hi = a[n]
    }
    return sprintf("%.2f (%.2f–%.2f)", median(a, n), lo, hi)
}
function ratio(x, y, col,   n, i, a, lo, hi) {
    n = 0; lo = ""; hi = ""
    for (i = 1; i <= rounds; i++) {
        a[++n] = v[i, x, col] / v[i, y, col]
        if (lo == "" || a[n] < lo) lo = a[n]
        if (hi == "" || a[n] > hi) hi = a[n]
    }
    return sprintf("%.3f (%.3f–%.3f)", median(a, n), lo, hi)
}
{ v[$1, $2] = 1; v[$1, $2, "wall"] = $3; v[$1, $2, "cpu"] = $4; v[$1, $2, "rss"] = $5; v[$1, $2, "load"] = $6
  v[$1, $2, "bytes"] = $7; if ($1 > rounds) rounds = $1 }
END {
    printf "Tree: %d files, %d MiB; %d rounds; 1 %% of the files changed (new content, same size) per round.\n\n", files, mib, rounds
    print "| row | wall s, median (min–max) | CPU s, median (min–max) | peak RSS MiB | load before | stored bytes |"
    print "|---|---|---|---|---|---|"
    split("full incr restic-full restic-incr", rows, " ")
    label["full"] = "jiffoo-backup backup files --incremental (full: empty store)"
    label["incr"] = "jiffoo-backup backup files --incremental (increment)"
    label["restic-full"] = "restic init + backup (first)"
    label["restic-incr"] = "restic backup (second)"
    for (r = 1; r <= 4; r++) {
        name = rows[r]; n = 0; delete a; loads = ""
        for (i = 1; i <= rounds; i++) { a[++n] = v[i, name, "rss"] / 1024; loads = loads (loads == "" ? "" : ", ") v[i, name, "load"] }
        printf "| %s | %s | %s | %.0f | %s | %.0f |\n", label[name], stats(name, "wall"), stats(name, "cpu"), median(a, n), loads, v[1, name, "bytes"]
    }
    print ""
    print "| ratio, per round, median (min–max) | wall | CPU |"
    print "|---|---|---|"
    printf "| ours: increment / full (target ≤ 0.10) | %s | %s |\n", ratio("incr", "full", "wall"), ratio("incr", "full", "cpu")
    printf "| restic: second / first | %s | %s |\n", ratio("restic-incr", "restic-full", "wall"), ratio("restic-incr", "restic-full", "cpu")
    printf "| increment: ours / restic second | %s | %s |\n", ratio("incr", "restic-incr", "wall"), ratio("incr", "restic-incr", "cpu")
    printf "| full: ours / restic first | %s | %s |\n", ratio("full", "restic-full", "wall"), ratio("full", "restic-full", "cpu")
}' "$ROWS" | tee "$WORK/results-$MIB.md"

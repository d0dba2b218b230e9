#!/usr/bin/env bash
# Issue 14: the cost of `wal-verify` on a local store holding N archived WAL files (docs/benchmarks.md,
# "wal-verify"). Builds the store once with benchmarks/MakeWalStore.java (N files of 8 KiB pushed by WalArchive, as
# wal-push does), then times `wal-verify --json` with each jar given, ROUNDS times, alternating the jars.
#
#   benchmarks/wal-verify.sh [--files N] [--rounds R] [--work DIR] [--deep] JAR...
#
# e.g. a build of main and one of a branch: benchmarks/wal-verify.sh /tmp/main.jar backup-cli/target/jiffoo-backup.jar
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
FILES=1000
ROUNDS=3
WORK=/var/tmp/jb-bench-wal-verify
DEEP=
while [ $# -gt 0 ]; do
    case $1 in
        --files) FILES=$2; shift 2 ;;
        --rounds) ROUNDS=$2; shift 2 ;;
        --work) WORK=$2; shift 2 ;;
        --deep) DEEP=--deep; shift ;;
        *) break ;;
    esac
done
[ $# -gt 0 ] || { echo "usage: $0 [--files N] [--rounds R] [--work DIR] [--deep] JAR..." >&2; exit 2; }
mkdir -p "$WORK"
if [ ! -f "$WORK/backup.key" ]; then
    java -jar "$1" keygen "$WORK/backup.key" >/dev/null
fi
if [ ! -d "$WORK/store/wal" ]; then
    java -cp "$1" "$repo/benchmarks/MakeWalStore.java" "$WORK/store" "$WORK/backup.key" "$FILES" 7300000000000000001 \
        >/dev/null 2>&1
fi
echo "files=$(find "$WORK/store/wal" -name '*.manifest.json' | wc -l) load=$(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq "$ROUNDS"); do
    for jar in "$@"; do
        start=$(date +%s.%N)
        rc=0
        java -jar "$jar" wal-verify $DEEP --store "file:$WORK/store" --key-file "$WORK/backup.key" --json \
            >/dev/null 2>&1 || rc=$?
        end=$(date +%s.%N)
        printf '%s round %s: exit %s, %.2f s\n' "$jar" "$round" "$rc" "$(echo "$end - $start" | bc)"
    done
done

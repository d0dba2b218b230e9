#!/usr/bin/env bash
# Issue 12: the command line (`jiffoo-backup.jar backup database` / `restore database --into`) against its anchors,
# measured in interleaved rounds, with medians and spread (docs/benchmarks.md, "The command line vs its anchors").
#
#   benchmarks/cli-ratios.sh [--size 300m|1g] [--rounds N] [--work DIR] [--jar JAR] [--rows LIST] [--no-build]
#                            [--cleanup]
#
# Rows, run in this order in every round (A B C D E, A B C D E, ...), so that load from other users of a shared
# machine falls on every row alike:
#   dump     pg_dump -Fc -Z9 DB > /dev/null                                  (anchor of the backup)
#   shell    pg_dump -Fc -Z9 DB | gpg --symmetric ... > f; sha256sum f        (the runbook's shell pipeline)
#   backup   jiffoo-backup backup database                                    (to a local BACKUP_DIR)
#   pgrest   createdb R; gpg -d f | pg_restore -d R                           (anchor of the restore)
#   restore  jiffoo-backup restore database --latest --into R2                (all its checks included)
#   (jiffoo-backup: the launcher next to JAR, with its class-data-sharing archive and JAVA_OPTS; else
#   java $JAVA_OPTS -jar JAR)
# --rows takes a comma-separated subset (default all five). With --jar-b JAR2 (A/B comparison of two builds, e.g.
# before and after a change) the rows backup_b and restore_b run JAR2 with JAVA_OPTS_B (default JAVA_OPTS) right
# next to backup and restore in every round (after them in odd rounds, before them in even ones); each jar restores
# a backup it made itself (its own store), so that two builds whose formats differ can be compared.
#
# Sizes: 300m = pgbench -s 10 + a 1,000,000-row orders table with jsonb (~340 MB, pg_database_size);
#        1g   = pgbench -s 50 + the same orders table (~1 GiB). Database bench_cli_SIZE, reused when present.
# Environment (flags win): SIZE (300m), ROUNDS (5), WORK (/var/tmp/jb-bench-cli), JAR (backup-cli/target/
# jiffoo-backup.jar), JAVA_OPTS (JVM options of the two jar rows, default none), ROWS,
# MVN_FLAGS (e.g. -o), and the libpq variables of the server (default 127.0.0.1:5432, user postgres).
#
# Per row and round: wall and CPU (user+sys of the whole process tree) from /usr/bin/time, and "backend CPU": the
# CPU of the server processes serving the row's database(s) and their parallel workers, sampled from /proc every
# 0.1 s (a process that ends between two samples loses at most its last 0.1 s; autovacuum, checkpointer and
# walwriter are not included). Output: one
# line per row and round in WORK/rounds-SIZE.tsv, then a Markdown table of medians, min–max spread and the ratios
# to the anchors, computed per round (row / anchor of the same round) and then their median.
# --cleanup drops bench_cli_* and the restore databases and removes WORK.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)

SIZE=${SIZE:-300m}
ROUNDS=${ROUNDS:-5}
WORK=${WORK:-/var/tmp/jb-bench-cli}
JAR=${JAR:-$repo/backup-cli/target/jiffoo-backup.jar}
JAVA_OPTS=${JAVA_OPTS:-}
ROWS=${ROWS:-dump,shell,backup,pgrest,restore}
MVN_FLAGS=${MVN_FLAGS:-}
JAR_B=${JAR_B:-}
BUILD=1
CLEANUP=0
while [ $# -gt 0 ]; do
    case $1 in
        --size) SIZE=$2; shift 2 ;;
        --rounds) ROUNDS=$2; shift 2 ;;
        --work) WORK=$2; shift 2 ;;
        --jar) JAR=$2; BUILD=0; shift 2 ;;
        --rows) ROWS=$2; shift 2 ;;
        --jar-b) JAR_B=$2; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        --cleanup) CLEANUP=1; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 0 ;;
        *) echo "unknown argument: $1 (try --help)" >&2; exit 2 ;;
    esac
done
JAVA_OPTS_B=${JAVA_OPTS_B:-$JAVA_OPTS}
if [ -n "$JAR_B" ]; then ROWS=${ROWS/backup/backup,backup_b}; ROWS=${ROWS/restore/restore,restore_b}; fi
case $SIZE in
    300m) PGBENCH_SCALE=10 ;;
    1g) PGBENCH_SCALE=50 ;;
    *) echo "SIZE must be 300m or 1g, not $SIZE" >&2; exit 2 ;;
esac

export PGHOST=${PGHOST:-127.0.0.1} PGPORT=${PGPORT:-5432} PGUSER=${PGUSER:-postgres}
unset PGDATABASE
DB=bench_cli_$SIZE
R_PLAIN=bench_cli_r_plain
R_OURS=bench_cli_r_ours
KEY=$WORK/backup.key
OUT=$WORK/out
TSV=$WORK/rounds-$SIZE.tsv
RESULT=$WORK/results-$SIZE.md
LOGS=$WORK/logs

log() { printf '%s  %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

if [ "$CLEANUP" = 1 ]; then
    for d in bench_cli_300m bench_cli_1g "$R_PLAIN" "$R_OURS"; do dropdb --if-exists "$d" 2> /dev/null; done
    rm -rf "$WORK"
    log "cleaned up"
    exit 0
fi

for tool in gpg sha256sum java pg_dump pg_restore pgbench psql; do
    command -v "$tool" > /dev/null || { echo "missing $tool" >&2; exit 1; }
done
[ -x /usr/bin/time ] || { echo "missing /usr/bin/time (apt-get install time)" >&2; exit 1; }

if [ "$BUILD" = 1 ]; then
    log "building $JAR"
    # shellcheck disable=SC2086 # MVN_FLAGS is a list of flags
    (cd "$repo" && ./mvnw -q -B -ntp $MVN_FLAGS -DskipTests package -pl backup-cli -am)
fi
[ -r "$JAR" ] || { echo "no jar at $JAR (build it, or pass --jar)" >&2; exit 1; }

mkdir -p "$WORK" "$LOGS" "$WORK/gnupg"
chmod 700 "$WORK/gnupg"
if [ ! -s "$KEY" ]; then
    (umask 077 && head -c 32 /dev/urandom | base64 > "$KEY")
fi

# ---- data ----------------------------------------------------------------------------------------------------------

SPEC="jb-bench-cli v1 pgbench -s $PGBENCH_SCALE + orders 1000000"
prepare_db() {
    if [ "$(psql -d "$DB" -Atc 'SELECT spec FROM jb_bench_meta' 2> /dev/null || true)" = "$SPEC" ]; then
        log "database $DB reused ($SPEC)"
        return
    fi
    log "generating $DB ($SPEC)"
    dropdb --if-exists "$DB" 2> /dev/null
    createdb "$DB"
    pgbench -i -q -s "$PGBENCH_SCALE" "$DB" 2>&1 | tail -1 >&2
    psql -q -v ON_ERROR_STOP=1 -d "$DB" -f "$repo/benchmarks/orders.sql"
    psql -q -v ON_ERROR_STOP=1 -d "$DB" -c 'VACUUM ANALYZE' \
        -c "CREATE TABLE jb_bench_meta AS SELECT '$SPEC'::text AS spec"
}
prepare_db
DB_BYTES=$(psql -d "$DB" -Atc 'SELECT pg_database_size(current_database())')
log "$DB: $((DB_BYTES / 1048576)) MiB"

# ---- measuring -----------------------------------------------------------------------------------------------------

clk_tck=$(getconf CLK_TCK)
PM=$(head -1 "$(psql -d postgres -Atc 'SHOW data_directory')/postmaster.pid" 2> /dev/null || true)
[ -n "$PM" ] || log "cannot read the postmaster's pid (not a superuser?): no backend CPU column"

# Samples the CPU ticks of the backends whose process title names one of the databases in $1 (comma-separated)
# until the file $2 disappears; prints the sum of each backend's last sample. One perl process reading /proc (perl is
# Essential in Debian): no process is started per sample, so the sampler takes ~3 % of a core from the rows it
# measures. (The bash loop before it, which forked ps, tr, sed and awk every 0.1 s, took ~19 % of a core on an idle
# server and more in rows with more backends: docs/benchmarks.md, "2026-12-03, 11:58-12:55".)
sample_backends() {
    perl -e '
        my ($pm, $dbs, $flag, $hz) = @ARGV;
        my %want = map { $_ => 1 } split /,/, $dbs;
        my %ticks;
        sub slurp { my $f = shift; open(my $h, "<", $f) or return undef; local $/; my $c = <$h>; close $h; $c }
        while (-e $flag) {
            opendir(my $d, "/proc") or die;
            for my $p (grep { /^\d+$/ } readdir $d) {
                my $st = slurp("/proc/$p/stat") // next;
                $st =~ s/^.*\) //s;
                my @f = split / /, $st; # state ppid ... utime (12th after the name) stime (13th)
                next unless $f[1] == $pm;
                my $title = slurp("/proc/$p/cmdline") // next;
                $title =~ tr/\0/ /;
                # "postgres: [cluster: ]user database host(port) activity"; a parallel worker names its leader
                my $hit = grep { index(" $title ", " $_ ") >= 0 } keys %want;
                $hit ||= ($title =~ /parallel worker for PID (\d+)/ && exists $ticks{$1});
                $ticks{$p} = $f[11] + $f[12] if $hit;
            }
            closedir $d;
            select(undef, undef, undef, 0.1);
        }
        my $t = 0; $t += $_ for values %ticks;
        printf "%.2f", $t / $hz;
    ' "$PM" "$1" "$2" "$clk_tck"
}

gpg_sym() { gpg --homedir "$WORK/gnupg" --batch --symmetric --cipher-algo AES256 --passphrase-file "$KEY" \
    --pinentry-mode loopback; }
gpg_dec() { gpg --homedir "$WORK/gnupg" --batch --quiet --decrypt --passphrase-file "$KEY" --pinentry-mode loopback; }
jar_env() { env DB_HOST="$PGHOST" DB_PORT="$PGPORT" DB_USER="$PGUSER" BACKUP_DIR="${STORE:-$OUT/store}" \
    ENCRYPTION_KEY_FILE="$KEY" "$@"; }
row_dump() { pg_dump -Fc -Z9 "$DB" > /dev/null; }
row_shell() {
    pg_dump -Fc -Z9 "$DB" | gpg_sym > "$OUT/shell.sql.gpg"
    sha256sum "$OUT/shell.sql.gpg" > "$OUT/shell.sql.gpg.sha256"
}
# The command line as operators run it: the launcher next to the jar (with its class-data-sharing archive) when
# there is one, else java -jar. jb OPTS JAR ARGS... (a function: jar_env's env runs it through bash -c)
# shellcheck disable=SC2086 # JAVA_OPTS is a list of flags
jb() {
    local opts=$1 jar=$2; shift 2
    if [ -x "$(dirname "$jar")/jiffoo-backup" ]; then JAVA_OPTS="$opts" "$(dirname "$jar")/jiffoo-backup" "$@"
    else java $opts -jar "$jar" "$@"; fi
}
row_backup() { jar_env DB_NAME="$DB" bash -c 'jb "$@"' jb "$JAVA_OPTS" "$JAR" backup database; }
row_pgrest() { createdb "$R_PLAIN" && gpg_dec < "$OUT/shell.sql.gpg" | pg_restore -d "$R_PLAIN"; }
row_restore() { jar_env DB_NAME="$DB" bash -c 'jb "$@"' jb "$JAVA_OPTS" "$JAR" restore database --latest --into "$R_OURS"; }
row_backup_b() { STORE=$OUT/store_b jar_env DB_NAME="$DB" bash -c 'jb "$@"' jb "$JAVA_OPTS_B" "$JAR_B" backup database; }
row_restore_b() { STORE=$OUT/store_b jar_env DB_NAME="$DB" bash -c 'jb "$@"' jb "$JAVA_OPTS_B" "$JAR_B" restore database --latest --into "$R_OURS"; }
export -f gpg_sym gpg_dec jar_env jb row_dump row_shell row_backup row_pgrest row_restore row_backup_b row_restore_b
export DB R_PLAIN R_OURS KEY OUT WORK JAR JAVA_OPTS JAR_B JAVA_OPTS_B PGHOST PGPORT PGUSER

before_row() {
    case $1 in
        backup|backup_b) local st=$OUT/store${1#backup}
                rm -rf "$st.old" && if [ -d "$st" ]; then mv "$st" "$st.old"; fi
                mkdir -p "$st"; rm -rf "$st.old" ;;
    esac
    # every row starts with the same databases on the server: no restored database of an earlier row is left
    dropdb --if-exists "$R_PLAIN" 2> /dev/null
    dropdb --if-exists "$R_OURS" 2> /dev/null
    # every row starts with no dirty pages of an earlier row's writes (a restore leaves 1 GiB of them)
    psql -d postgres -qc CHECKPOINT 2> /dev/null || true
    sync
}
row_dbs() { case $1 in pgrest) echo "$R_PLAIN" ;; restore*) echo "$DB,$R_OURS" ;; *) echo "$DB" ;; esac; }

run_row() { # ROUND ROW
    local round=$1 row=$2 tf lf flag srv_pid srv=- wall user sys rss
    before_row "$row"
    tf=$(mktemp) lf=$LOGS/$row-$round.log flag=$(mktemp)
    if [ -n "$PM" ]; then sample_backends "$(row_dbs "$row")" "$flag" > "$flag.out" & srv_pid=$!; fi
    if ! /usr/bin/time -f '%e %U %S %M' -o "$tf" bash -o pipefail -c "row_$row" > "$lf" 2>&1; then
        rm -f "$flag"; [ -z "${srv_pid:-}" ] || wait "$srv_pid" || true
        log "FAILED: $row round $round (log: $lf)"; tail -5 "$lf" >&2; rm -f "$tf" "$flag.out"; return 1
    fi
    rm -f "$flag"
    if [ -n "${srv_pid:-}" ]; then wait "$srv_pid"; srv=$(cat "$flag.out"); fi
    rm -f "$flag.out"
    read -r wall user sys rss < <(tail -1 "$tf")
    rm -f "$tf"
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$row" "$wall" "$(awk -v u="$user" -v s="$sys" \
        'BEGIN { printf "%.2f", u + s }')" "$srv" "$((rss / 1024))" >> "$TSV"
    log "round $round $row: wall $wall s, CPU $(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }') s," \
        "backends $srv s (load $(cut -d' ' -f1 /proc/loadavg))"
}

rm -rf "$OUT" && mkdir -p "$OUT/store" "$OUT/store_b"
log "warm-up (untimed): pg_dump -Z0 of $DB"
pg_dump -Fc -Z0 "$DB" > /dev/null
[[ ",$ROWS," != *",pgrest,"* || ",$ROWS," == *",shell,"* ]] || row_shell
[[ ",$ROWS," != *",restore,"* || ",$ROWS," == *",backup,"* ]] || { before_row backup; row_backup > /dev/null 2>&1; }
[[ ",$ROWS," != *",restore_b,"* || ",$ROWS," == *",backup_b,"* ]] || { before_row backup_b; row_backup_b > /dev/null 2>&1; }
: > "$TSV"
IFS=, read -r -a rows <<< "$ROWS"
for ((round = 1; round <= ROUNDS; round++)); do
    order=("${rows[@]}")
    if ((round % 2 == 0)); then # A/B pairs run B first in even rounds: neither always follows the other's writes
        for ((i = 0; i + 1 < ${#order[@]}; i++)); do
            if [ "${order[i + 1]}" = "${order[i]}_b" ]; then order[i]=${rows[i + 1]}; order[i + 1]=${rows[i]}; fi
        done
    fi
    for row in "${order[@]}"; do run_row "$round" "$row"; done
done
for d in "$R_PLAIN" "$R_OURS"; do dropdb --if-exists "$d" 2> /dev/null; done
rm -rf "$OUT"

# ---- the table -----------------------------------------------------------------------------------------------------

{
    echo "\`$SIZE\`: $DB, $((DB_BYTES / 1048576)) MiB; $ROUNDS interleaved rounds; $(date -u +%Y-%m-%d), $(nproc) CPUs," \
        "load average at the end $(cut -d' ' -f1-3 /proc/loadavg); $(java -version 2>&1 | sed -n 1p);" \
        "$(pg_dump --version); JAVA_OPTS='$JAVA_OPTS'"
    echo
    echo '| row | wall s, median (min–max) | CPU s, median | backend CPU s, median | × anchor, median of the rounds (min–max) |'
    echo '|---|---|---|---|---|'
    awk -F '\t' '
        function median(a, n,   i, j, t) {
            for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
            return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
        }
        { wall[$2, $1] = $3; cpu[$2, $1] = $4; srv[$2, $1] = $5; if (!($2 in seen)) { seen[$2] = 1; order[++nr] = $2 }
          if ($1 > rounds) rounds = $1 }
        END {
            anchor["shell"] = "dump"; anchor["backup"] = "dump"; anchor["restore"] = "pgrest"
            anchor["backup_b"] = "dump"; anchor["restore_b"] = "pgrest"
            label["backup_b"] = "jiffoo-backup backup database (jar B" jb ")"
            label["restore_b"] = "jiffoo-backup restore database --into (jar B" jb ")"
            label["dump"] = "pg_dump -Fc -Z9 > /dev/null (anchor)"
            label["shell"] = "pg_dump -Fc -Z9 | gpg --symmetric > f; sha256sum f (runbook)"
            label["backup"] = "jiffoo-backup backup database"
            label["pgrest"] = "createdb; gpg -d f | pg_restore -d (anchor)"
            label["restore"] = "jiffoo-backup restore database --into"
            for (k = 1; k <= nr; k++) {
                r = order[k]; n = 0; lo = ""; hi = ""
                delete w; delete c; delete s; delete q
                for (i = 1; i <= rounds; i++) if ((r, i) in wall) {
                    n++; w[n] = wall[r, i]; c[n] = cpu[r, i]; s[n] = srv[r, i]
                    if (lo == "" || w[n] < lo) lo = w[n]; if (hi == "" || w[n] > hi) hi = w[n]
                }
                ratio = "–"
                if (r in anchor) {
                    m = 0; qlo = ""; qhi = ""
                    for (i = 1; i <= rounds; i++) if ((r, i) in wall && (anchor[r], i) in wall) {
                        v = wall[r, i] / wall[anchor[r], i]; q[++m] = v
                        if (qlo == "" || v < qlo) qlo = v; if (qhi == "" || v > qhi) qhi = v
                    }
                    if (m > 0) ratio = sprintf("%.3f (%.3f–%.3f) × %s", median(q, m), qlo, qhi, anchor[r])
                    if (r ~ /^backup/ && ("shell", 1) in wall) {
                        m = 0; delete q
                        for (i = 1; i <= rounds; i++) if ((r, i) in wall && ("shell", i) in wall) q[++m] = wall[r, i] / wall["shell", i]
                        ratio = ratio sprintf("; %.3f × shell", median(q, m))
                    }
                }
                name = (r in label ? label[r] : r); gsub(/\|/, "\\|", name)
                printf "| %s | %.2f (%.2f–%.2f) | %.2f | %s | %s |\n", name, median(w, n), lo, hi,
                    median(c, n), (s[1] == "-" ? "–" : sprintf("%.2f", median(s, n))), ratio
            }
        }' jb="${JAR_B:+: $JAR_B${JAVA_OPTS_B:+ $JAVA_OPTS_B}}" "$TSV"
} > "$RESULT"
cat "$RESULT"
log "rounds in $TSV, table in $RESULT"

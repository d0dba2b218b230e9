package com.jiffoo.backup.monitor;

import com.jiffoo.backup.ClockSkew;
import com.jiffoo.backup.Sink;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A check of something in or around the store that is not a kind of backup — the WAL archive's continuity and lag,
 * a database server's archiver — contributed to a {@link BackupMonitor} by a module the monitor cannot depend on
 * ({@link BackupMonitor.Builder#storeCheck}). Its outcome is one section of the {@link HealthReport}
 * ({@link StoreCheckHealth}), counted in the report's status, its summary line and the alerts like any kind's.
 *
 * <p>The monitor runs every store check in both the full and the freshness-only check, after the kinds. A check that
 * throws an unchecked exception becomes one CRITICAL finding under its name: a check must never return no finding
 * when it could not look. Implementations must be thread-safe (one instance serves every run).
 */
public interface StoreCheck {
    /** The section's name in the report and the alerts, e.g. {@code wal}; also the default check name of findings. */
    String name();

    /**
     * Looks.
     *
     * @param store the monitor's store (not to be closed)
     * @param skew  the time of this run ({@link ClockSkew#now()}) and how far in the future a date may lie
     * @return what it found; no finding means OK
     */
    Outcome check(Sink store, ClockSkew skew);

    /**
     * Whether this check concerns every store that holds a copy of the backups, not only the store: then the monitor
     * also runs {@link #checkCopy} on each copy it could read ({@link BackupMonitor.Builder#copy}), and the outcome is
     * that copy's ({@link CopyHealth#checks()}). False by default (a check of the database server, of the drills).
     */
    default boolean checksCopies() {
        return false;
    }

    /**
     * Looks at a copy of the store, for a check that {@link #checksCopies() checks copies}; by default as at the
     * store, {@link #check check(copy, skew)}. A check may compare the copy with the store (what the store holds that
     * the copy lacks).
     *
     * @param copy  the copy (not to be closed)
     * @param store the monitor's store (not to be closed); it may be down
     * @param skew  as for {@link #check}
     */
    default Outcome checkCopy(Sink copy, Sink store, ClockSkew skew) {
        return check(copy, skew);
    }

    /**
     * What a store check found.
     *
     * @param summary  one line for the report, e.g. {@code newest segment 00000001000000000000000A, 2m old}
     * @param findings what is wrong, each with what to do; none: OK
     * @param facts    figures for the JSON report (string, number or boolean values; lists of them), in order
     */
    record Outcome(String summary, List<Finding> findings, Map<String, Object> facts) {
        /** Copies the lists. */
        public Outcome {
            Objects.requireNonNull(summary, "summary");
            findings = List.copyOf(findings);
            facts = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(facts));
        }
    }
}

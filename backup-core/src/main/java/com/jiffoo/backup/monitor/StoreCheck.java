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

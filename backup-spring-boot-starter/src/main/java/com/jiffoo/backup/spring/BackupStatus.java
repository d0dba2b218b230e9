package com.jiffoo.backup.spring;

import com.jiffoo.backup.BackupException;
import com.jiffoo.backup.monitor.BackupMonitor;
import com.jiffoo.backup.monitor.HealthReport;
import java.time.Duration;
import java.time.Instant;
import java.util.Objects;

/**
 * The monitor's view of the store, cached: the {@code backup} health indicator and the last-success gauges read it,
 * so that health requests and scrapes within {@code jiffoo.backup.health.cache-ttl} cost nothing and never start a
 * verification. A refresh runs the monitor's full health checks (listing, manifests, checksum files, the key check on
 * the first blocks of the newest backup), through a monitor that neither alerts nor records its reports. The facade's
 * operations {@linkplain #invalidate() invalidate} it. Thread-safe: one refresh at a time.
 */
public final class BackupStatus {
    private final BackupMonitor monitor;
    private final Duration ttl;
    private Snapshot cached; // guarded by this
    private long takenNanos; // guarded by this

    /**
     * A cache of {@code monitor}'s reports.
     *
     * @param monitor the monitor to ask; built without notifiers and with {@code recordReports(false)}
     * @param ttl     how long a report is reused
     */
    public BackupStatus(BackupMonitor monitor, Duration ttl) {
        this.monitor = Objects.requireNonNull(monitor, "monitor");
        this.ttl = Objects.requireNonNull(ttl, "ttl");
    }

    /** A report, or why there is none (the store could not be read), and when it was taken. */
    public record Snapshot(Instant takenAt, HealthReport report, BackupException error) {}

    /** The cached snapshot, refreshed first when it is older than the cache time. */
    public synchronized Snapshot current() {
        if (cached == null || System.nanoTime() - takenNanos >= ttl.toNanos()) {
            Instant now = Instant.now();
            try {
                cached = new Snapshot(now, monitor.runHealthChecks(), null);
            } catch (BackupException e) {
                cached = new Snapshot(now, null, e);
            }
            takenNanos = System.nanoTime();
        }
        return cached;
    }

    /** The cached snapshot if there is one, without refreshing it. */
    synchronized Snapshot peek() {
        return cached;
    }

    /** Drops the cached report: the next {@link #current()} asks the monitor. */
    public synchronized void invalidate() {
        cached = null;
    }
}

package com.jiffoo.backup.spring;

import com.jiffoo.backup.BackupException;
import com.jiffoo.backup.DrillHistory;
import com.jiffoo.backup.monitor.BackupMonitor;
import com.jiffoo.backup.monitor.HealthReport;
import java.time.Duration;
import java.time.Instant;
import java.util.Objects;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The monitor's view of the store, cached: the {@code backup} health indicator and the last-success gauges read it,
 * so that health requests and scrapes within {@code jiffoo.backup.health.cache-ttl} cost nothing and never start a
 * verification. A refresh runs the monitor's full health checks (listing, manifests, checksum files, the key check on
 * the first blocks of the newest backup), through a monitor that neither alerts nor records its reports. The facade's
 * operations {@linkplain #invalidate() invalidate} it. Thread-safe: one refresh at a time.
 */
public final class BackupStatus {
    private static final Logger log = LoggerFactory.getLogger(BackupStatus.class);

    private final BackupMonitor monitor;
    private final Duration ttl;
    private final Supplier<DrillHistory> drills;
    private Snapshot cached; // guarded by this
    private long takenNanos; // guarded by this

    /**
     * A cache of {@code monitor}'s reports.
     *
     * @param monitor the monitor to ask; built without notifiers and with {@code recordReports(false)}
     * @param ttl     how long a report is reused
     */
    public BackupStatus(BackupMonitor monitor, Duration ttl) {
        this(monitor, ttl, null);
    }

    /**
     * A cache of {@code monitor}'s reports and of the drill history.
     *
     * @param monitor the monitor to ask; built without notifiers and with {@code recordReports(false)}
     * @param ttl     how long a report is reused
     * @param drills  reads the drill reports of the store and its copies at each refresh, or null
     */
    public BackupStatus(BackupMonitor monitor, Duration ttl, Supplier<DrillHistory> drills) {
        this.monitor = Objects.requireNonNull(monitor, "monitor");
        this.ttl = Objects.requireNonNull(ttl, "ttl");
        this.drills = drills;
    }

    /**
     * A report, or why there is none (the store could not be read), and when it was taken; with the drill history
     * read then (null when it could not be read or is not asked for).
     */
    public record Snapshot(Instant takenAt, HealthReport report, BackupException error, DrillHistory drills) {}

    /** The cached snapshot, refreshed first when it is older than the cache time. */
    public synchronized Snapshot current() {
        if (cached == null || System.nanoTime() - takenNanos >= ttl.toNanos()) {
            Instant now = Instant.now();
            DrillHistory history = null;
            if (drills != null) {
                try {
                    history = drills.get();
                } catch (BackupException e) {
                    log.debug("the drill reports could not be read: {}", e.getMessage());
                }
            }
            try {
                cached = new Snapshot(now, monitor.runHealthChecks(), null, history);
            } catch (BackupException e) {
                cached = new Snapshot(now, null, e, history);
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

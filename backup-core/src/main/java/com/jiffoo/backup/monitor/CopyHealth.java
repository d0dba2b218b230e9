package com.jiffoo.backup.monitor;

import java.util.List;
import java.util.Objects;

/**
 * The health of one copy of the store ({@link BackupMonitor.Builder#copy}) in a {@link HealthReport}: per kind, the
 * cheap checks ({@code future-dates}, {@code trust}, {@code freshness} against the same limits as the store) and
 * {@code missing} (recent backups of the store that the copy lacks); and the {@link StoreCheck}s that
 * {@linkplain StoreCheck#checksCopies() check copies} (the WAL archive).
 *
 * @param store    the copy's location (no credentials)
 * @param findings what concerns the copy as a whole: {@code store} (CRITICAL) when it cannot be read, in which case
 *                 {@code kinds} holds only the kinds read before it failed
 * @param kinds    per kind, in the order the monitor watches them
 * @param checks   the store checks run on the copy, e.g. {@code wal} (none when it could not be read)
 */
public record CopyHealth(String store, List<Finding> findings, List<KindHealth> kinds, List<StoreCheckHealth> checks) {
    /** Copies the lists. */
    public CopyHealth {
        Objects.requireNonNull(store, "store");
        findings = List.copyOf(findings);
        kinds = List.copyOf(kinds);
        checks = List.copyOf(checks);
    }

    /** A copy's health without store checks. */
    public CopyHealth(String store, List<Finding> findings, List<KindHealth> kinds) {
        this(store, findings, kinds, List.of());
    }

    /**
     * The worst status of the copy's own findings, its kinds' and its store checks'; {@link HealthStatus#OK} when
     * there is none.
     */
    public HealthStatus status() {
        HealthStatus s = findings.stream().map(Finding::status).reduce(HealthStatus.OK, HealthStatus::worst);
        for (KindHealth k : kinds) {
            s = s.worst(k.status());
        }
        for (StoreCheckHealth c : checks) {
            s = s.worst(c.status());
        }
        return s;
    }
}

package com.jiffoo.backup.spring;

import com.jiffoo.backup.BackupManifest;
import com.jiffoo.backup.DrillHistory;
import com.jiffoo.backup.DrillReport;
import com.jiffoo.backup.VerificationRecord;
import com.jiffoo.backup.monitor.HealthReport;
import com.jiffoo.backup.monitor.KindHealth;
import com.jiffoo.backup.monitor.StoreCheckHealth;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.MeterBinder;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * The backups' Micrometer meters, named so that Prometheus shows them as
 *
 * <ul>
 *   <li>{@code jiffoo_backup_last_success_timestamp_seconds{operation="backup",kind,store}}: when the newest
 *       committed backup of a kind completed, in the store and in each copy, as the monitor sees it
 *       ({@link BackupStatus}: cached, refreshed by the facade's operations); NaN while there is none;</li>
 *   <li>the drills, from the drill reports in the store and its copies (as the command line's textfile names them,
 *       {@code operation="drill"}, {@code store} the configured store):
 *       {@code jiffoo_backup_last_success_timestamp_seconds} (the newest passed drill's end),
 *       {@code jiffoo_backup_last_run_timestamp_seconds} and {@code jiffoo_backup_last_exit_code} (0, 12 failed, 13
 *       over target) of the newest drill; {@code jiffoo_backup_drill_rto_seconds{kind}} (its measured RTO) and
 *       {@code jiffoo_backup_drill_rto_target_seconds{kind}};</li>
 *   <li>with the WAL check: {@code jiffoo_backup_wal_archive_lag_seconds{store}} (seconds since the newest archived
 *       WAL file was committed, at the scrape) and {@code jiffoo_backup_wal_last_archived_timestamp_seconds{store}},
 *       for the store and each copy;</li>
 *   <li>{@code jiffoo_backup_scheduled_runs_total{job,outcome}}: the scheduled jobs' runs, {@code skipped} when
 *       another replica held the lock;</li>
 *   <li>{@code jiffoo_backup_last_verification_timestamp_seconds{kind}}: the newest passed verification of a kind in
 *       the store, NaN while there is none;</li>
 *   <li>{@code jiffoo_backup_duration_seconds{kind,operation}} (count, sum, max of the operations that succeeded) and
 *       {@code jiffoo_backup_size_bytes{kind}} (stored size of each new backup): recorded by the facade's
 *       operations;</li>
 *   <li>{@code jiffoo_backup_failures_total{kind,code,operation}}: failed operations by
 *       {@link com.jiffoo.backup.ErrorCode} (a verification that found a backup bad counts too).</li>
 * </ul>
 *
 * <p>Bound to every registry by Spring Boot (a {@link MeterBinder}); thread-safe.
 */
public final class BackupMetrics implements MeterBinder, BackupOperationListener {
    private final BackupStatus status;
    private final List<String> kinds;
    private final BackupStores stores;
    private final List<MeterRegistry> registries = new CopyOnWriteArrayList<>();
    private final boolean wal;

    /**
     * Meters for the configured stores and kinds.
     *
     * @param status the cached monitor report the gauges read
     * @param kinds  the kinds watched
     * @param stores the store and its copies (a gauge each)
     */
    public BackupMetrics(BackupStatus status, List<String> kinds, BackupStores stores) {
        this(status, kinds, stores, false);
    }

    /**
     * Meters for the configured stores and kinds, with the WAL archive's gauges when {@code wal}.
     *
     * @param wal whether the WAL archive is checked (its lag gauges per store)
     */
    public BackupMetrics(BackupStatus status, List<String> kinds, BackupStores stores, boolean wal) {
        this.status = status;
        this.kinds = List.copyOf(kinds);
        this.stores = stores;
        this.wal = wal;
    }

    @Override
    public void bindTo(MeterRegistry registry) {
        registries.add(registry);
        for (String kind : kinds) {
            for (int i = 0; i < stores.all().size(); i++) {
                int index = i;
                Gauge.builder("jiffoo.backup.last.success.timestamp", this, m -> m.lastSuccess(kind, index))
                        .description("When the last successful backup (the newest committed one, as the monitor"
                                + " sees it) or restore drill of a kind ended")
                        .baseUnit("seconds")
                        .tags(
                                "operation",
                                "backup",
                                "kind",
                                kind,
                                "store",
                                stores.all().get(i).location())
                        .strongReference(true)
                        .register(registry);
            }
            Gauge.builder("jiffoo.backup.last.verification.timestamp", this, m -> m.lastVerification(kind))
                    .description("When a backup of a kind last passed a verification")
                    .baseUnit("seconds")
                    .tags("kind", kind)
                    .strongReference(true)
                    .register(registry);
            bindDrills(registry, kind);
        }
        if (wal) {
            for (int i = 0; i < stores.all().size(); i++) {
                int index = i;
                String store = stores.all().get(i).location();
                Gauge.builder("jiffoo.backup.wal.archive.lag", this, m -> m.walLag(index))
                        .description("Seconds since the newest archived WAL file was committed, per store (NaN while"
                                + " there is none)")
                        .baseUnit("seconds")
                        .tags("store", store)
                        .strongReference(true)
                        .register(registry);
                Gauge.builder("jiffoo.backup.wal.last.archived.timestamp", this, m -> m.walArchivedAt(index))
                        .description("When the newest archived WAL file was committed, per store")
                        .baseUnit("seconds")
                        .tags("store", store)
                        .strongReference(true)
                        .register(registry);
            }
        }
    }

    /** The drill gauges of one kind, from the drill reports in the store and its copies. */
    private void bindDrills(MeterRegistry registry, String kind) {
        String store = stores.store().location();
        Gauge.builder("jiffoo.backup.last.success.timestamp", this, m -> m.drill(kind, true, r -> ended(r)))
                .description("When the last successful backup (the newest committed one, as the monitor sees it) or"
                        + " restore drill of a kind ended")
                .baseUnit("seconds")
                .tags("operation", "drill", "kind", kind, "store", store)
                .strongReference(true)
                .register(registry);
        Gauge.builder("jiffoo.backup.last.run.timestamp", this, m -> m.drill(kind, false, r -> ended(r)))
                .description("When the newest restore drill of a kind ended, whatever its outcome")
                .baseUnit("seconds")
                .tags("operation", "drill", "kind", kind, "store", store)
                .strongReference(true)
                .register(registry);
        Gauge.builder(
                        "jiffoo.backup.last.exit.code",
                        this,
                        m -> m.drill(kind, false, r -> r.outcome().exitCode()))
                .description("The newest restore drill's outcome as the command line's drill exit code: 0 passed, 12"
                        + " failed, 13 over its RTO target")
                .tags("operation", "drill", "kind", kind, "store", store)
                .strongReference(true)
                .register(registry);
        Gauge.builder("jiffoo.backup.drill.rto", this, m -> m.drill(kind, false, r -> seconds(r.total())))
                .description("The measured recovery time (RTO) of the newest restore drill of a kind")
                .baseUnit("seconds")
                .tags("kind", kind)
                .strongReference(true)
                .register(registry);
        Gauge.builder("jiffoo.backup.drill.rto.target", this, m -> m.drill(kind, false, r -> seconds(r.rtoTarget())))
                .description("The RTO target the newest restore drill of a kind was judged against")
                .baseUnit("seconds")
                .tags("kind", kind)
                .strongReference(true)
                .register(registry);
    }

    private double drill(String kind, boolean passed, java.util.function.ToDoubleFunction<DrillReport> value) {
        DrillHistory h = status.current().drills();
        if (h == null) {
            return Double.NaN;
        }
        return (passed ? h.newestPassed(kind) : h.newest(kind))
                .map(value::applyAsDouble)
                .orElse(Double.NaN);
    }

    private static double ended(DrillReport r) {
        return r.startedAt().plus(r.total()).toEpochMilli() / 1000.0;
    }

    private static double seconds(Duration d) {
        return d.toMillis() / 1000.0;
    }

    /** When the newest archived WAL file was committed, from a {@code wal} check's facts; null when unknown. */
    static Instant walArchivedAt(StoreCheckHealth wal) {
        if (wal == null || !(wal.facts().get("newestArchivedAt") instanceof String at)) {
            return null;
        }
        try {
            return Instant.parse(at);
        } catch (java.time.format.DateTimeParseException e) {
            return null;
        }
    }

    private double walArchivedAt(int index) {
        Instant at = walArchivedAt(walCheck(status.current().report(), index));
        return at == null ? Double.NaN : at.toEpochMilli() / 1000.0;
    }

    private double walLag(int index) {
        Instant at = walArchivedAt(walCheck(status.current().report(), index));
        return at == null ? Double.NaN : Math.max(0, Instant.now().toEpochMilli() - at.toEpochMilli()) / 1000.0;
    }

    /** The {@code wal} check of the store ({@code index} 0) or of a copy in {@code r}, or null. */
    static StoreCheckHealth walCheck(HealthReport r, int index) {
        if (r == null) {
            return null;
        }
        List<StoreCheckHealth> checks = index == 0
                ? r.storeChecks()
                : r.copies().size() >= index ? r.copies().get(index - 1).checks() : List.of();
        return checks.stream().filter(c -> c.name().equals("wal")).findFirst().orElse(null);
    }

    private double lastSuccess(String kind, int storeIndex) {
        HealthReport r = status.current().report();
        if (r == null) {
            return Double.NaN;
        }
        List<KindHealth> of = storeIndex == 0
                ? r.kinds()
                : r.copies().size() >= storeIndex
                        ? r.copies().get(storeIndex - 1).kinds()
                        : List.of();
        return of.stream()
                .filter(k -> k.kind().equals(kind) && k.newest() != null)
                .mapToDouble(k -> k.newest().completedAt().toEpochMilli() / 1000.0)
                .findFirst()
                .orElse(Double.NaN);
    }

    private double lastVerification(String kind) {
        HealthReport r = status.current().report();
        if (r == null) {
            return Double.NaN;
        }
        return r.kinds().stream()
                .filter(k -> k.kind().equals(kind))
                .map(KindHealth::lastPassedVerification)
                .filter(v -> v != null)
                .mapToDouble((VerificationRecord v) -> v.verifiedAt().toEpochMilli() / 1000.0)
                .findFirst()
                .orElse(Double.NaN);
    }

    @Override
    public void succeeded(Operation operation, String kind, BackupManifest manifest, Duration elapsed) {
        String op = name(operation);
        for (MeterRegistry registry : registries) {
            timer(registry, kind, op).record(elapsed);
            if (operation == Operation.BACKUP) {
                DistributionSummary.builder("jiffoo.backup.size")
                        .description("Stored size of each new backup")
                        .baseUnit("bytes")
                        .tags("kind", kind)
                        .register(registry)
                        .record((double) manifest.objectSize());
            }
        }
    }

    @Override
    public void scheduled(String job, BackupJobs.Outcome outcome) {
        for (MeterRegistry registry : registries) {
            Counter.builder("jiffoo.backup.scheduled.runs")
                    .description("Runs of the scheduled backup jobs: ran, failed, skipped (another replica holds the"
                            + " job's lock), lock_failed (the lock could not be asked for)")
                    .tags("job", job, "outcome", outcome.label())
                    .register(registry)
                    .increment();
        }
    }

    @Override
    public void failed(Operation operation, String kind, String code, Duration elapsed) {
        String op = name(operation);
        for (MeterRegistry registry : registries) {
            Counter.builder("jiffoo.backup.failures")
                    .description("Failed backup operations by error code")
                    .tags("kind", kind, "code", code, "operation", op)
                    .register(registry)
                    .increment();
        }
    }

    private static Timer timer(MeterRegistry registry, String kind, String op) {
        return Timer.builder("jiffoo.backup.duration")
                .description("How long backup operations took")
                .tags("kind", kind, "operation", op)
                .register(registry);
    }

    private static String name(Operation operation) {
        return operation.name().toLowerCase(Locale.ROOT);
    }
}

package com.jiffoo.backup.spring;

import com.jiffoo.backup.BackupManifest;
import com.jiffoo.backup.VerificationRecord;
import com.jiffoo.backup.monitor.HealthReport;
import com.jiffoo.backup.monitor.KindHealth;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.MeterBinder;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * The backups' Micrometer meters, named so that Prometheus shows them as
 *
 * <ul>
 *   <li>{@code jiffoo_backup_last_success_timestamp_seconds{kind,store}}: when the newest committed backup of a kind
 *       completed, in the store and in each copy, as the monitor sees it ({@link BackupStatus}: cached, refreshed by
 *       the facade's operations); NaN while there is none;</li>
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

    /**
     * Meters for the configured stores and kinds.
     *
     * @param status the cached monitor report the gauges read
     * @param kinds  the kinds watched
     * @param stores the store and its copies (a gauge each)
     */
    public BackupMetrics(BackupStatus status, List<String> kinds, BackupStores stores) {
        this.status = status;
        this.kinds = List.copyOf(kinds);
        this.stores = stores;
    }

    @Override
    public void bindTo(MeterRegistry registry) {
        registries.add(registry);
        for (String kind : kinds) {
            for (int i = 0; i < stores.all().size(); i++) {
                int index = i;
                Gauge.builder("jiffoo.backup.last.success.timestamp", this, m -> m.lastSuccess(kind, index))
                        .description("When the newest committed backup of a kind completed (the monitor's view)")
                        .baseUnit("seconds")
                        .tags("kind", kind, "store", stores.all().get(i).location())
                        .strongReference(true)
                        .register(registry);
            }
            Gauge.builder("jiffoo.backup.last.verification.timestamp", this, m -> m.lastVerification(kind))
                    .description("When a backup of a kind last passed a verification")
                    .baseUnit("seconds")
                    .tags("kind", kind)
                    .strongReference(true)
                    .register(registry);
        }
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

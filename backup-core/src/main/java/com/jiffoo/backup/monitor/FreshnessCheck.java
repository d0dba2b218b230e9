package com.jiffoo.backup.monitor;

import com.jiffoo.backup.BackupManifest;
import java.time.Duration;
import java.util.Map;

/**
 * {@code freshness}: a committed backup dated in the past exists, and the newest completed within its kind's
 * maximum age (CRITICAL otherwise: the backup job has never succeeded here, or has stopped).
 */
final class FreshnessCheck extends HealthCheck {
    private final Duration maxAge;
    private final Map<String, Duration> maxAges;

    /** {@code maxAge} for every kind but those in {@code maxAges}. */
    FreshnessCheck(Duration maxAge, Map<String, Duration> maxAges) {
        super("freshness", When.ALWAYS);
        this.maxAge = maxAge;
        this.maxAges = Map.copyOf(maxAges);
    }

    @Override
    void check(KindInspection k) {
        BackupManifest newest = k.newest();
        if (newest == null) {
            k.find(
                    HealthStatus.CRITICAL,
                    "no " + k.kind() + " backup " + (k.all().isEmpty() ? "" : "dated in the" + " past ")
                            + (k.scan().refused().isEmpty() ? "" : "that can be trusted ") + "in "
                            + k.sink().location()
                            + ": the backup job has never succeeded here. Run it and read its log.");
            return;
        }
        Duration limit = maxAges.getOrDefault(k.kind(), maxAge);
        Duration age = Duration.between(newest.completedAt(), k.skew().now());
        if (age.compareTo(limit) > 0) {
            k.find(
                    HealthStatus.CRITICAL,
                    "the newest backup " + newest.id() + " completed " + HealthReport.human(age)
                            + " ago, more than the limit of " + HealthReport.human(limit) + ": backups have stopped."
                            + " Check the backup job (cron or CronJob) and its log, then run it by hand.");
        }
    }
}

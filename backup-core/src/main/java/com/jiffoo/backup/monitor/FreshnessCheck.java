package com.jiffoo.backup.monitor;

import com.jiffoo.backup.BackupManifest;
import java.time.Duration;
import java.util.Map;

/**
 * {@code freshness}: a committed backup dated in the past exists, and the newest completed within its kind's
 * maximum age (CRITICAL otherwise: the backup job has never succeeded here, or has stopped). In a copy the same
 * limit holds, whatever the store holds: a copy that lags is CRITICAL for that copy even when the store is fresh.
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

    /** The maximum age of {@code kind}'s newest backup. */
    Duration limit(String kind) {
        return maxAges.getOrDefault(kind, maxAge);
    }

    @Override
    void check(KindInspection k) {
        if (k.primary() != null) {
            checkCopy(k);
            return;
        }
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
        Duration limit = limit(k.kind());
        Duration age = Duration.between(newest.completedAt(), k.skew().now());
        if (age.compareTo(limit) > 0) {
            k.find(
                    HealthStatus.CRITICAL,
                    "the newest backup " + newest.id() + " completed " + HealthReport.human(age)
                            + " ago, more than the limit of " + HealthReport.human(limit) + ": backups have stopped."
                            + " Check the backup job (cron or CronJob) and its log, then run it by hand.");
        }
    }

    /** In a copy: the backups stopped reaching it (the job's exit 11 names it), which {@code copy} repairs. */
    private void checkCopy(KindInspection k) {
        BackupManifest newest = k.newest();
        KindInspection store = k.primary();
        String fix = " Look for `FAILED in the store " + k.sink().location() + "` in the backup job's log (exit 11),"
                + " make the copy reachable, then bring it up to date: `jiffoo-backup copy --from "
                + store.sink().location() + " --to " + k.sink().location() + "`.";
        String storeNewest = store.newest() == null
                ? ""
                : " (the store's newest is " + store.newest().id() + ", "
                        + HealthReport.human(Duration.between(
                                store.newest().completedAt(), k.skew().now())) + " old)";
        if (newest == null) {
            k.find(
                    HealthStatus.CRITICAL,
                    "no " + k.kind() + " backup " + (k.all().isEmpty() ? "" : "dated in the past ")
                            + (k.scan().refused().isEmpty() ? "" : "that can be trusted ") + "in the copy "
                            + k.sink().location() + storeNewest + ": no backup has reached it." + fix);
            return;
        }
        Duration limit = limit(k.kind());
        Duration age = Duration.between(newest.completedAt(), k.skew().now());
        if (age.compareTo(limit) > 0) {
            k.find(
                    HealthStatus.CRITICAL,
                    "the newest backup in the copy " + k.sink().location() + ", " + newest.id() + ", completed "
                            + HealthReport.human(age) + " ago, more than the limit of " + HealthReport.human(limit)
                            + storeNewest + ": backups are not reaching this copy." + fix);
        }
    }
}

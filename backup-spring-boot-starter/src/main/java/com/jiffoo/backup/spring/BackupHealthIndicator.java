package com.jiffoo.backup.spring;

import com.jiffoo.backup.BackupManifest;
import com.jiffoo.backup.DrillHistory;
import com.jiffoo.backup.VerificationRecord;
import com.jiffoo.backup.monitor.CopyHealth;
import com.jiffoo.backup.monitor.Finding;
import com.jiffoo.backup.monitor.HealthReport;
import com.jiffoo.backup.monitor.HealthStatus;
import com.jiffoo.backup.monitor.KindHealth;
import com.jiffoo.backup.monitor.StoreCheckHealth;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.HealthIndicator;
import org.springframework.boot.health.contributor.Status;

/**
 * The Actuator health component {@code backup}: the monitor's report ({@link BackupStatus}, cached) as
 * {@link Status#UP} (OK), {@link #WARNING} (needs a look soon) or {@link Status#DOWN} (CRITICAL, or the store could
 * not be read), with details per kind (the newest backup and its age, the last and the last passed verification, the
 * key check, the problems), per store check (drills, WAL archive) and per copy. Never verifies a backup itself.
 *
 * <p>WARNING is not one of Boot's statuses: add it to {@code management.endpoint.health.status.order} (e.g.
 * {@code DOWN,OUT_OF_SERVICE,WARNING,UP,UNKNOWN}) so that the overall status reflects it, and map it in
 * {@code management.endpoint.health.status.http-mapping} if a load balancer should see it (docs/spring-boot.md).
 */
public final class BackupHealthIndicator implements HealthIndicator {
    /** Backups are fresh, but something needs a look soon (the monitor's WARNING). */
    public static final Status WARNING = new Status("WARNING", "backups need a look soon");

    private final BackupStatus status;

    /**
     * A health indicator over the cached monitor report.
     *
     * @param status the cached report
     */
    public BackupHealthIndicator(BackupStatus status) {
        this.status = status;
    }

    @Override
    public Health health() {
        BackupStatus.Snapshot s = status.current();
        if (s.report() == null) {
            return Health.down()
                    .withDetail("checkedAt", s.takenAt().toString())
                    .withDetail("error", s.error().code().name())
                    .withDetail("message", s.error().getMessage())
                    .build();
        }
        HealthReport r = s.report();
        Health.Builder b = Health.status(map(r.status()))
                .withDetail("status", r.status().name())
                .withDetail("store", r.store())
                .withDetail("checkedAt", r.checkedAt().toString());
        Map<String, Object> kinds = new LinkedHashMap<>();
        r.kinds().forEach(k -> kinds.put(k.kind(), kind(k)));
        b.withDetail("kinds", kinds);
        if (!r.storeChecks().isEmpty()) {
            Map<String, Object> checks = new LinkedHashMap<>();
            for (StoreCheckHealth c : r.storeChecks()) {
                Map<String, Object> d = new LinkedHashMap<>();
                d.put("status", c.status().name());
                d.put("summary", c.summary());
                d.put("problems", messages(c.findings()));
                d.put("facts", c.facts());
                checks.put(c.name(), d);
            }
            b.withDetail("checks", checks);
        }
        Map<String, Object> wal = wal(r);
        if (!wal.isEmpty()) {
            b.withDetail("wal", wal);
        }
        Map<String, Object> drills = drills(s.drills());
        if (!drills.isEmpty()) {
            b.withDetail("drills", drills);
        }
        if (!r.copies().isEmpty()) {
            Map<String, Object> copies = new LinkedHashMap<>();
            for (CopyHealth c : r.copies()) {
                Map<String, Object> d = new LinkedHashMap<>();
                d.put("status", c.status().name());
                Map<String, Object> ck = new LinkedHashMap<>();
                c.kinds().forEach(k -> ck.put(k.kind(), kind(k)));
                d.put("kinds", ck);
                d.put("problems", messages(c.findings()));
                copies.put(c.store(), d);
            }
            b.withDetail("copies", copies);
        }
        return b.build();
    }

    /**
     * Per store (the store, then each copy) whose WAL archive was checked and holds WAL: the newest archived file,
     * when it was committed and the lag (seconds since then, at this request).
     */
    private static Map<String, Object> wal(HealthReport r) {
        Map<String, Object> out = new LinkedHashMap<>();
        for (int i = 0; i <= r.copies().size(); i++) {
            StoreCheckHealth c = BackupMetrics.walCheck(r, i);
            java.time.Instant at = BackupMetrics.walArchivedAt(c);
            if (c == null || at == null) {
                continue;
            }
            Map<String, Object> d = new LinkedHashMap<>();
            d.put("status", c.status().name());
            d.put("newestArchived", c.facts().get("newestArchived"));
            d.put("newestArchivedAt", at.toString());
            d.put(
                    "lagSeconds",
                    Math.max(0, Duration.between(at, java.time.Instant.now()).toSeconds()));
            d.put("maxLagSeconds", c.facts().get("maxLagSeconds"));
            out.put(i == 0 ? r.store() : r.copies().get(i - 1).store(), d);
        }
        return out;
    }

    /** Per kind drilled: the newest drill (when, outcome, measured RTO, target, backup) and the last passed one. */
    private static Map<String, Object> drills(DrillHistory h) {
        Map<String, Object> out = new LinkedHashMap<>();
        if (h == null) {
            return out;
        }
        for (String kind : h.kinds()) {
            Map<String, Object> d = new LinkedHashMap<>();
            h.newest(kind).ifPresent(n -> {
                d.put("at", n.startedAt().toString());
                d.put("outcome", n.outcome().label());
                d.put("rtoSeconds", n.total().toSeconds());
                d.put("rtoTargetSeconds", n.rtoTarget().toSeconds());
                d.put("backup", n.backupKey());
                d.put("store", n.store());
            });
            h.newestPassed(kind)
                    .ifPresent(pd -> d.put("lastPassedAt", pd.startedAt().toString()));
            out.put(kind, d);
        }
        return out;
    }

    /** UP, WARNING or DOWN for the monitor's OK, WARNING or CRITICAL. */
    static Status map(HealthStatus s) {
        return switch (s) {
            case OK -> Status.UP;
            case WARNING -> WARNING;
            case CRITICAL -> Status.DOWN;
        };
    }

    private static Map<String, Object> kind(KindHealth k) {
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("status", k.status().name());
        d.put("count", k.count());
        d.put("totalBytes", k.totalBytes());
        BackupManifest newest = k.newest();
        if (newest != null) {
            d.put("newest", newest.objectKey());
            d.put("newestCompletedAt", newest.completedAt().toString());
            d.put("newestAge", k.newestAge() == null ? null : age(k.newestAge()));
            d.put(
                    "newestAgeSeconds",
                    k.newestAge() == null ? null : k.newestAge().toSeconds());
        }
        d.put("lastVerification", verification(k.lastVerification()));
        d.put("lastPassedVerification", verification(k.lastPassedVerification()));
        d.put("keyCheck", k.keyCheck().name());
        d.put("problems", k.problems());
        return d;
    }

    private static Map<String, Object> verification(VerificationRecord v) {
        if (v == null) {
            return null;
        }
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("at", v.verifiedAt().toString());
        d.put("backup", v.objectKey());
        d.put("mode", v.deep() ? "deep" : "quick");
        d.put("passed", v.passed());
        if (v.errorCode() != null) {
            d.put("error", v.errorCode());
        }
        return d;
    }

    private static List<String> messages(List<Finding> findings) {
        return findings.stream().map(Finding::message).toList();
    }

    private static String age(Duration d) {
        return d.toString().substring(2).toLowerCase(java.util.Locale.ROOT);
    }
}

package com.jiffoo.backup.monitor;

import com.jiffoo.backup.BackupTrust;
import com.jiffoo.backup.ClockSkew;
import com.jiffoo.backup.DrillHistory;
import com.jiffoo.backup.DrillReport;
import com.jiffoo.backup.Sink;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * {@code drills}: the restore drills recorded in the store and its copies ({@link DrillHistory}: every report read,
 * ordered by the date signed inside it; only authenticated reports that record the store or one of its copies count). Drills are expected of a kind when it is {@linkplain BackupMonitor.Builder#drills required} or once
 * an authenticated drill report of that kind exists; then, per kind: the newest drill failed (or ran over its RTO
 * target): CRITICAL; no drill passed within the limit (default 35 days): WARNING. Reports that do not authenticate
 * are never counted and, when recent (within the limit), are a WARNING naming them; a report dated in the future is
 * CRITICAL and never counts; a copy whose reports cannot be listed is a WARNING. Nothing expected and no report: OK,
 * saying that drills are not required.
 */
final class DrillHistoryCheck implements StoreCheck {
    private final BackupTrust trust;
    private final Duration maxAge;
    private final List<String> required;
    private final List<Sink> copies;

    DrillHistoryCheck(BackupTrust trust, Duration maxAge, List<String> required, List<Sink> copies) {
        this.trust = trust;
        this.maxAge = maxAge;
        this.required = List.copyOf(required);
        this.copies = List.copyOf(copies);
    }

    @Override
    public String name() {
        return "drills";
    }

    @Override
    public Outcome check(Sink store, ClockSkew skew) {
        List<Sink> stores = new ArrayList<>();
        stores.add(store);
        stores.addAll(copies);
        // every report of the store and its copies, by the date signed inside it; one that records another store
        // (copied from elsewhere) does not count here
        DrillHistory h = DrillHistory.read(
                stores, stores.stream().map(Sink::location).toList(), trust, r -> skew.isFuture(r.startedAt()));
        List<Finding> findings = new ArrayList<>();
        List<String> future = h.excluded().stream()
                .map(r -> skew.describe("the " + r.kind() + " drill report of " + r.backupKey(), r.startedAt()))
                .toList();
        if (!future.isEmpty()) {
            findings.add(new Finding(
                    name(), HealthStatus.CRITICAL, skew.finding(future.size() + " drill report(s)", future)));
        }
        for (String u : h.unreadable()) {
            findings.add(new Finding(
                    name(),
                    HealthStatus.WARNING,
                    "cannot read the drill reports of " + u + "; drills recorded only there are not seen."));
        }
        Set<String> expected = new LinkedHashSet<>(required);
        expected.addAll(h.kinds());
        Map<String, Object> facts = new LinkedHashMap<>();
        List<String> summary = new ArrayList<>();
        for (String kind : expected) {
            DrillReport newest = h.newest(kind).orElse(null);
            DrillReport passed = h.newestPassed(kind).orElse(null);
            Map<String, Object> f = new LinkedHashMap<>();
            if (newest != null) {
                f.put("newest", newest.startedAt().toString());
                f.put("outcome", newest.outcome().label());
                f.put("backup", newest.backupKey());
                f.put("rtoSeconds", newest.total().toSeconds());
                f.put("rtoTargetSeconds", newest.rtoTarget().toSeconds());
            }
            if (passed != null) {
                f.put("lastPassed", passed.startedAt().toString());
            }
            facts.put(kind, f);
            if (newest == null) {
                summary.add(kind + " never drilled");
            } else {
                summary.add(kind + " " + newest.outcome().label() + " "
                        + HealthReport.human(Duration.between(newest.startedAt(), skew.now())) + " ago (RTO "
                        + DrillReport.human(newest.total()) + ")");
            }
            if (newest != null && !newest.passed()) {
                findings.add(new Finding(
                        name(),
                        HealthStatus.CRITICAL,
                        "the newest " + kind + " restore drill (" + newest.startedAt() + ", backup "
                                + newest.backupKey() + " from " + newest.store() + ") "
                                + (newest.outcome() == DrillReport.Outcome.OVER_TARGET
                                        ? "took " + DrillReport.human(newest.total()) + ", over its RTO target of "
                                                + DrillReport.human(newest.rtoTarget())
                                        : "FAILED: " + failedChecks(newest))
                                + ". Read its report (drill log, or " + "_drills/ in the store), fix the cause and run"
                                + " `drill " + kind + "` again; this stays CRITICAL until a drill of this kind"
                                + " passes."));
            }
            Duration since = passed == null ? null : Duration.between(passed.startedAt(), skew.now());
            if (since == null || since.compareTo(maxAge) > 0) {
                findings.add(new Finding(
                        name(),
                        HealthStatus.WARNING,
                        (since == null
                                        ? "no " + kind + " restore drill has passed"
                                                + (required.contains(kind) ? " (drills of it are required)" : "")
                                        : "the last passed " + kind + " restore drill was " + HealthReport.human(since)
                                                + " ago")
                                + " (limit " + HealthReport.human(maxAge) + "). Run `jiffoo-backup drill " + kind
                                + "`: a backup nobody has restored is not a backup."));
            }
        }
        List<String> recentAside = new ArrayList<>();
        for (DrillHistory.SetAside a : h.unauthenticated()) {
            java.time.Instant at =
                    com.jiffoo.backup.store.StoreLayout.drillReportTime(a.key()).orElse(null);
            if (at == null || Duration.between(at, skew.now()).compareTo(maxAge) <= 0) {
                recentAside.add(a.key() + " in " + a.store() + ": " + a.reason());
            }
        }
        if (!recentAside.isEmpty()) {
            findings.add(new Finding(
                    name(),
                    HealthStatus.WARNING,
                    recentAside.size() + " recent drill report(s) do not count (not authenticated, or recorded"
                            + " for another store): "
                            + String.join("; ", recentAside.subList(0, Math.min(3, recentAside.size())))
                            + (recentAside.size() > 3 ? "; …" : "")
                            + ". Give the drill host the key the backups are signed with, or find out who wrote"
                            + " them."));
        }
        facts.put("unauthenticated", h.setAsideCount());
        String line = expected.isEmpty()
                ? (h.unauthenticated().isEmpty()
                        ? "no drill report; drills not required (DRILL_REQUIRED)"
                        : "no authenticated drill report; " + h.setAsideCount() + " set aside")
                : String.join("; ", summary);
        return new Outcome(line, findings, facts);
    }

    private static String failedChecks(DrillReport r) {
        List<String> out = new ArrayList<>();
        for (DrillReport.Check c : r.checks()) {
            if (c.status() == DrillReport.Status.FAILED) {
                out.add(c.name() + ": " + c.detail());
            }
        }
        return out.isEmpty() ? "it could not run" : String.join("; ", out);
    }
}

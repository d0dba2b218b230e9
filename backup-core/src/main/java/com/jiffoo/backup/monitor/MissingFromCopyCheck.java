package com.jiffoo.backup.monitor;

import com.jiffoo.backup.BackupManifest;
import com.jiffoo.backup.store.StoreLayout;
import java.time.Duration;
import java.time.Instant;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * {@code missing}, in a copy only: every backup the store holds (committed and trusted there) that completed within
 * the kind's freshness limit, and more than a grace period ago, is in the copy too (a manifest under the same key,
 * trusted or not: an untrusted one is the {@code trust} check's finding). WARNING otherwise, naming the backups and
 * the copy.
 *
 * <p>The grace period (1 h by default) leaves a backup time to reach the copies — a backup streams to every store at
 * once, but {@code copy} catching a store up takes a while. Older backups are not compared: retention may prune a
 * copy on another schedule than the store, and a copy that stopped receiving backups is the {@code freshness}
 * check's finding (CRITICAL).
 */
final class MissingFromCopyCheck extends HealthCheck {
    /** How many missing backups a finding names; the rest are counted. */
    private static final int NAMED = 5;

    private final FreshnessCheck freshness;
    private final Duration grace;

    MissingFromCopyCheck(FreshnessCheck freshness, Duration grace) {
        super("missing", When.ALWAYS);
        this.freshness = freshness;
        this.grace = grace;
    }

    @Override
    void check(KindInspection k) {
        KindInspection store = k.primary();
        if (store == null || !store.readable()) {
            return; // the store's own finding (cannot read it) says why nothing is compared
        }
        Set<String> here = new HashSet<>();
        k.all().forEach(m -> here.add(m.objectKey()));
        k.scan().refused().forEach(r -> here.add(StoreLayout.dataKeyOf(r.key())));
        Instant now = k.skew().now();
        Instant from = now.minus(freshness.limit(k.kind()));
        Instant until = now.minus(grace);
        List<BackupManifest> missing = store.committed().stream()
                .filter(m -> !m.completedAt().isBefore(from) && !m.completedAt().isAfter(until))
                .filter(m -> !here.contains(m.objectKey()))
                .toList();
        if (missing.isEmpty()) {
            return;
        }
        StringBuilder b = new StringBuilder()
                .append(missing.size())
                .append(" ")
                .append(k.kind())
                .append(missing.size() == 1 ? " backup" : " backups")
                .append(" in the store ")
                .append(store.sink().location())
                .append(missing.size() == 1 ? " is" : " are")
                .append(" missing from the copy ")
                .append(k.sink().location())
                .append(": ");
        for (int i = 0; i < Math.min(NAMED, missing.size()); i++) {
            BackupManifest m = missing.get(i);
            b.append(i == 0 ? "" : ", ")
                    .append(m.objectKey())
                    .append(" (completed ")
                    .append(HealthReport.human(Duration.between(m.completedAt(), now)))
                    .append(" ago)");
        }
        if (missing.size() > NAMED) {
            b.append(" and ").append(missing.size() - NAMED).append(" more");
        }
        b.append(
                        ". The backup job could not write to the copy (it exited 11 naming it) or the backup was deleted there;")
                .append(" bring the copy up to date: `jiffoo-backup copy --from ")
                .append(store.sink().location())
                .append(" --to ")
                .append(k.sink().location())
                .append("`.");
        k.find(HealthStatus.WARNING, b.toString());
    }
}

package com.jiffoo.backup.monitor;

import java.util.List;

/**
 * {@code future-dates}: no backup's manifest is dated further in the future than the clock skew tolerance (CRITICAL
 * otherwise). Such a backup is never the newest for the other checks: time from the store is not trusted.
 */
final class FutureDatesCheck extends HealthCheck {
    FutureDatesCheck() {
        super("future-dates", When.ALWAYS);
    }

    @Override
    void check(KindInspection k) {
        List<String> future = k.all().stream()
                .filter(m -> k.skew().isFuture(m.completedAt()))
                .map(m -> k.skew().describe(m.manifestKey(), m.completedAt()))
                .toList();
        if (!future.isEmpty()) {
            k.find(HealthStatus.CRITICAL, k.skew().finding(future.size() + " " + k.kind() + " backup(s)", future));
        }
    }
}

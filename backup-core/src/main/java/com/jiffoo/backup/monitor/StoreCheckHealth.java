package com.jiffoo.backup.monitor;

import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The outcome of one {@link StoreCheck} in a {@link HealthReport}.
 *
 * @param name     the check's name, e.g. {@code wal}
 * @param summary  its one-line summary
 * @param findings what it found wrong (none: {@link HealthStatus#OK})
 * @param facts    its figures, as {@link StoreCheck.Outcome#facts()}
 */
public record StoreCheckHealth(String name, String summary, List<Finding> findings, Map<String, Object> facts) {
    /** Copies the lists. */
    public StoreCheckHealth {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(summary, "summary");
        findings = List.copyOf(findings);
        facts = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(facts));
    }

    /** The worst finding's status; {@link HealthStatus#OK} when there is none. */
    public HealthStatus status() {
        return findings.stream().map(Finding::status).reduce(HealthStatus.OK, HealthStatus::worst);
    }
}

package com.jiffoo.backup.monitor;

import java.util.Objects;

/**
 * Something a health check found wrong with one kind of backup.
 *
 * @param check   the check's name, e.g. {@code freshness}, {@code checksum-file}, {@code key} (listed in
 *                {@code docs/monitoring.md})
 * @param status  how bad: {@link HealthStatus#WARNING} or {@link HealthStatus#CRITICAL}
 * @param message what is wrong and what to do
 */
public record Finding(String check, HealthStatus status, String message) {
    /** Checks the fields: a finding is never OK. */
    public Finding {
        Objects.requireNonNull(check, "check");
        Objects.requireNonNull(message, "message");
        if (Objects.requireNonNull(status, "status") == HealthStatus.OK) {
            throw new IllegalArgumentException("a finding is WARNING or CRITICAL: " + message);
        }
    }
}

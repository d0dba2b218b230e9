package com.jiffoo.backup.monitor;

import java.util.List;
import java.util.Objects;

/**
 * One message for the {@link Notifier}s: a failed health check, a failed verification, or a recovery.
 *
 * @param status   the status being reported ({@link HealthStatus#OK} for a recovery)
 * @param recovery true when the backups are healthy again after an alert
 * @param title    one line, e.g. {@code jiffoo-backup CRITICAL: s3://shop-backups/prod}
 * @param lines    one line per finding, each saying what is wrong and what to do
 * @param report   the health report behind the alert, {@code null} for a single verification
 */
public record Alert(HealthStatus status, boolean recovery, String title, List<String> lines, HealthReport report) {
    /** Copies the lines. */
    public Alert {
        Objects.requireNonNull(status, "status");
        Objects.requireNonNull(title, "title");
        lines = List.copyOf(lines);
    }

    /** The title and the lines as plain text. */
    public String text() {
        StringBuilder b = new StringBuilder(title);
        for (String line : lines) {
            b.append('\n').append("- ").append(line);
        }
        return b.toString();
    }
}

package com.jiffoo.backup.monitor;

/**
 * How healthy the backups are, from best to worst. What each status means and what to do is in
 * {@code docs/monitoring.md}.
 */
public enum HealthStatus {
    /** Fresh backups exist, the newest passed its cheap checks, the key opens it, and verifications pass. */
    OK(0),
    /** Backups are fresh, but something needs a look soon (no recent passed verification, an older damaged backup). */
    WARNING(1),
    /** Act now: no backup, a stale backup, a damaged newest backup, a key that cannot open it, or an unreadable store. */
    CRITICAL(2);

    private final int exitCode;

    HealthStatus(int exitCode) {
        this.exitCode = exitCode;
    }

    /**
     * The exit code of a Nagios-style check for this status: 0, 1, 2. (The {@code jiffoo-backup monitor} command
     * uses 0, 9 and 10 instead, apart from its error codes 1-8.)
     */
    public int nagiosExitCode() {
        return exitCode;
    }

    /** The worse of this status and {@code other}. */
    public HealthStatus worst(HealthStatus other) {
        return other.ordinal() > ordinal() ? other : this;
    }
}

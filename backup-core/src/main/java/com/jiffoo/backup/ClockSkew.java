package com.jiffoo.backup;

import com.jiffoo.backup.internal.Support;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Objects;

/**
 * Time from the store is not trusted: a manifest's {@code completedAt} or a verification record's {@code verifiedAt}
 * that lies further in the future than a tolerance (a clock a little ahead is normal) is a finding — one run on a
 * host with a wrong clock, or a hand edit — never freshness. The monitor reports such objects CRITICAL, retention keeps
 * them but lets them satisfy no keep rule, and the pruner refuses to delete while they exist unless allowed.
 *
 * <pre>{@code
 * ClockSkew skew = ClockSkew.of(clock, ClockSkew.DEFAULT_TOLERANCE);
 * if (skew.isFuture(manifest.completedAt())) { ... skew.describe(manifest.manifestKey(), manifest.completedAt()) ... }
 * }</pre>
 *
 * <p>Immutable; one instance holds one reading of the clock, so every judgement of one run uses the same "now".
 */
public final class ClockSkew {
    /** How far ahead of this host's clock a date from the store may be before it is a finding: 5 minutes. */
    public static final Duration DEFAULT_TOLERANCE = Duration.ofMinutes(5);

    private final Instant now;
    private final Duration tolerance;

    private ClockSkew(Instant now, Duration tolerance) {
        this.now = now;
        this.tolerance = tolerance;
    }

    /** Judges dates against {@code clock}'s current instant (read once) with {@code tolerance}. */
    public static ClockSkew of(Clock clock, Duration tolerance) {
        return at(Objects.requireNonNull(clock, "clock").instant(), tolerance);
    }

    /** Judges dates against {@code now} with {@code tolerance}. */
    public static ClockSkew at(Instant now, Duration tolerance) {
        return new ClockSkew(Objects.requireNonNull(now, "now"), checkTolerance(tolerance));
    }

    /**
     * Checks a tolerance given to a builder.
     *
     * @return the tolerance
     * @throws IllegalArgumentException when it is negative
     */
    public static Duration checkTolerance(Duration tolerance) {
        Objects.requireNonNull(tolerance, "tolerance");
        if (tolerance.isNegative()) {
            throw new IllegalArgumentException("the clock skew tolerance must not be negative, got " + tolerance);
        }
        return tolerance;
    }

    /** The instant judged against. */
    public Instant now() {
        return now;
    }

    /** The tolerance. */
    public Duration tolerance() {
        return tolerance;
    }

    /** True when {@code at} lies further in the future than the tolerance. */
    public boolean isFuture(Instant at) {
        return at.isAfter(now.plus(tolerance));
    }

    /**
     * Names a future-dated object for a finding, e.g.
     * {@code database/x.sql.gpg.manifest.json (dated 2026-01-22T12:00:00Z, 2d 0h ahead of this host's clock)}.
     */
    public String describe(String key, Instant at) {
        return key + " (dated " + at + ", " + human(Duration.between(now, at)) + " ahead of this host's clock)";
    }

    /**
     * The finding, for the monitor's and the pruner's messages: {@code "<what> dated in the future: <objects>. <what
     * to do>"}.
     *
     * @param what    e.g. {@code "2 database backups"}
     * @param objects each from {@link #describe}
     */
    public String finding(String what, List<String> objects) {
        return what + " dated in the future: " + String.join("; ", objects) + ". " + advice();
    }

    private String advice() {
        return "A date in the future comes from a host with a wrong clock or from a hand edit: check the clocks"
                + " (timedatectl, chronyc tracking) of the hosts that back up and verify, and of this one. Such a"
                + " backup is never counted as fresh nor kept by a retention rule; once the clocks are right,"
                + " deep-verify it and delete it (manifest first) or keep it until its date has passed. Tolerance: "
                + human(tolerance) + ".";
    }

    private static String human(Duration d) {
        return Support.humanDuration(d);
    }
}

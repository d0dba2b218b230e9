package com.jiffoo.backup.s3;

import com.jiffoo.backup.ConfigurationException;
import java.time.Duration;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import software.amazon.awssdk.services.s3.model.ObjectLockMode;

/**
 * S3 Object Lock on write: every object an {@link S3Sink} writes (data, sidecars, manifests, signatures, multipart
 * uploads too) carries {@code x-amz-object-lock-mode} and {@code x-amz-object-lock-retain-until-date} (now plus
 * {@link #period()}), with the {@code Content-MD5} the API requires for such requests, so that nobody, not even the
 * backup host's credentials, can delete or overwrite it before then ({@code COMPLIANCE}), or only credentials allowed
 * {@code s3:BypassGovernanceRetention} can ({@code GOVERNANCE}). The bucket must have Object Lock enabled; the sink
 * checks that when a write starts. {@link #NONE} (the default) sends no lock. Immutable.
 */
public final class S3ObjectLock {
    /** No lock sent: the bucket's default retention, if any, applies. */
    public static final S3ObjectLock NONE = new S3ObjectLock(null, Duration.ZERO);

    private final ObjectLockMode mode;
    private final Duration period;

    private S3ObjectLock(ObjectLockMode mode, Duration period) {
        this.mode = mode;
        this.period = period;
    }

    /** COMPLIANCE mode: no one can delete the objects (nor shorten the lock) before {@code period} has passed. */
    public static S3ObjectLock compliance(Duration period) {
        return new S3ObjectLock(ObjectLockMode.COMPLIANCE, check(period));
    }

    /**
     * GOVERNANCE mode: only credentials with {@code s3:BypassGovernanceRetention} can delete the objects before
     * {@code period} has passed (and only when they ask to bypass it, which this library never does).
     */
    public static S3ObjectLock governance(Duration period) {
        return new S3ObjectLock(ObjectLockMode.GOVERNANCE, check(period));
    }

    /**
     * A lock from the settings' spelling: {@code mode} {@code compliance} or {@code governance} (any case), and a
     * number of days.
     *
     * @throws ConfigurationException for another mode or fewer than 1 day, naming the settings
     */
    public static S3ObjectLock parse(String mode, long days) {
        if (days < 1) {
            throw new ConfigurationException("S3_OBJECT_LOCK_DAYS is " + days
                    + "; set it to the number of days each object stays locked (at least RETENTION_DAYS plus one"
                    + " backup interval).");
        }
        return switch (mode.trim().toLowerCase(Locale.ROOT)) {
            case "compliance" -> compliance(Duration.ofDays(days));
            case "governance" -> governance(Duration.ofDays(days));
            default ->
                throw new ConfigurationException("S3_OBJECT_LOCK is '" + mode
                        + "'; set it to compliance or governance (or leave it unset for no Object Lock).");
        };
    }

    private static Duration check(Duration period) {
        Objects.requireNonNull(period, "period");
        if (period.compareTo(Duration.ofDays(1)) < 0) {
            throw new IllegalArgumentException("an object lock period must be at least 1 day, got " + period);
        }
        return period;
    }

    /** The mode, empty for {@link #NONE}. */
    Optional<ObjectLockMode> mode() {
        return Optional.ofNullable(mode);
    }

    /** Whether objects are locked on write. */
    public boolean enabled() {
        return mode != null;
    }

    /** How long each object stays locked after it is written; zero for {@link #NONE}. */
    public Duration period() {
        return period;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof S3ObjectLock l && Objects.equals(mode, l.mode) && period.equals(l.period);
    }

    @Override
    public int hashCode() {
        return Objects.hash(mode, period);
    }

    @Override
    public String toString() {
        return mode == null ? "none" : mode + " for " + period.toDays() + " days";
    }
}

package com.jiffoo.backup.testing;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.Objects;

/**
 * A {@link Clock} that a test sets and advances, for retention and freshness checks that take a clock.
 *
 * <pre>{@code
 * MutableClock clock = MutableClock.at(Instant.parse("2026-01-01T02:00:00Z"));
 * clock.advance(Duration.ofHours(27));
 * }</pre>
 *
 * <p>Thread-safe. Always UTC.
 */
public final class MutableClock extends Clock {
    private volatile Instant now;

    private MutableClock(Instant now) {
        this.now = Objects.requireNonNull(now, "now");
    }

    /** A clock standing at {@code now}. */
    public static MutableClock at(Instant now) {
        return new MutableClock(now);
    }

    /** Moves the clock to {@code instant} (also backwards). */
    public MutableClock set(Instant instant) {
        this.now = Objects.requireNonNull(instant, "instant");
        return this;
    }

    /** Moves the clock forward by {@code d}. */
    public synchronized MutableClock advance(Duration d) {
        this.now = now.plus(d);
        return this;
    }

    @Override
    public Instant instant() {
        return now;
    }

    @Override
    public ZoneId getZone() {
        return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(ZoneId zone) {
        if (!ZoneOffset.UTC.equals(zone)) {
            throw new UnsupportedOperationException("a MutableClock is always UTC");
        }
        return this;
    }

    @Override
    public String toString() {
        return "MutableClock[" + now + "]";
    }
}

package com.jiffoo.backup;

import java.time.Duration;

/**
 * How far an operation has come.
 *
 * @param key            the stored object concerned
 * @param plaintextBytes bytes of the source's content processed so far (before encoding)
 * @param storedBytes    bytes written to or read from the store so far (after encoding)
 * @param expectedBytes  the total of {@code storedBytes} when known (restores, verifications), else -1
 * @param elapsed        time since the operation started
 */
public record Progress(String key, long plaintextBytes, long storedBytes, long expectedBytes, Duration elapsed) {

    /** Bytes per second of {@code storedBytes}, or 0 before any time has passed. */
    public double storedBytesPerSecond() {
        long nanos = elapsed.toNanos();
        return nanos <= 0 ? 0 : storedBytes * 1e9 / nanos;
    }
}

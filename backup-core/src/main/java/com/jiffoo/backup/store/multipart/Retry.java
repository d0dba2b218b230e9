package com.jiffoo.backup.store.multipart;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Retries one request whose input is replayable (a part in memory, a head, a listing) with exponential backoff and
 * jitter. Only transient failures are retried: HTTP 5xx and 429, throttling and timeout codes, and no answer at all
 * (a connection refused or reset). Other answers (4xx: credentials, a missing bucket or key, a refused condition) and
 * local failures fail at once. Not public API.
 */
final class Retry {
    private static final Logger log = LoggerFactory.getLogger(Retry.class);
    private static final Set<String> RETRYABLE_CODES = Set.of(
            "SlowDown",
            "Throttling",
            "ThrottlingException",
            "RequestTimeout",
            "InternalError",
            "ServiceUnavailable",
            "XMinioServerNotInitialized",
            "ConditionalRequestConflict");

    private final int maxAttempts;
    private final Duration baseDelay;
    private final Duration maxDelay;

    Retry(int maxAttempts, Duration baseDelay, Duration maxDelay) {
        this.maxAttempts = maxAttempts;
        this.baseDelay = baseDelay;
        this.maxDelay = maxDelay;
    }

    int maxAttempts() {
        return maxAttempts;
    }

    /** Runs {@code call}, retrying transient failures; throws the last failure. */
    <T> T run(String what, ObjectStoreSink.Request<T> call) throws IOException {
        for (int attempt = 1; ; attempt++) {
            try {
                return call.send();
            } catch (IOException e) {
                if (attempt >= maxAttempts || !retryable(e)) {
                    throw e;
                }
                long cap = Math.min(maxDelay.toMillis(), baseDelay.toMillis() << Math.min(attempt - 1, 20));
                long sleep = ThreadLocalRandom.current().nextLong(cap / 2, cap + 1);
                log.warn(
                        "{} failed (attempt {} of {}), retrying in {} ms: {}",
                        what,
                        attempt,
                        maxAttempts,
                        sleep,
                        e instanceof StoreFailure f ? f.describe() : e.toString());
                try {
                    Thread.sleep(sleep);
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    throw new InterruptedIOException("interrupted while waiting to retry " + what);
                }
            }
        }
    }

    /** True for failures worth another attempt: 5xx, 429, throttling, no answer or an unreadable one. */
    static boolean retryable(IOException e) {
        if (e instanceof StoreFailure f) {
            return f.status() >= 500
                    || f.status() == 429
                    || f.status() == 0
                    || (f.code() != null && RETRYABLE_CODES.contains(f.code()));
        }
        return !(e instanceof InterruptedIOException) || e instanceof SocketTimeoutException;
    }
}

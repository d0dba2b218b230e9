package com.jiffoo.backup.minio;

import io.minio.errors.ErrorResponseException;
import io.minio.errors.InvalidResponseException;
import io.minio.errors.ServerException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Retries one request whose input is replayable (a buffered part, a stat, a listing page) with exponential backoff
 * and full jitter. Only transient failures are retried: HTTP 5xx, throttling ({@code SlowDown},
 * {@code RequestTimeout}, ...) and I/O failures such as connection resets. Client errors (4xx: bad credentials,
 * missing bucket, missing key) fail at once. Not public API.
 */
final class Retry {
    private static final Logger log = LoggerFactory.getLogger(Retry.class);
    private static final Set<String> RETRYABLE_CODES = Set.of("SlowDown", "Throttling", "ThrottlingException",
            "RequestTimeout", "InternalError", "ServiceUnavailable", "XMinioServerNotInitialized",
            "ConditionalRequestConflict");

    /** A request. */
    interface Call<T> {
        T call() throws Exception;
    }

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

    Duration baseDelay() {
        return baseDelay;
    }

    Duration maxDelay() {
        return maxDelay;
    }

    /**
     * Runs {@code call}, retrying transient failures. Throws the last failure, unwrapped from
     * {@link ExecutionException}/{@link CompletionException}.
     */
    <T> T run(String what, Call<T> call) throws Exception {
        for (int attempt = 1; ; attempt++) {
            try {
                return call.call();
            } catch (Exception e) {
                Exception cause = unwrap(e);
                if (cause instanceof InterruptedException) {
                    Thread.currentThread().interrupt();
                    throw new InterruptedIOException("interrupted while trying to " + what);
                }
                if (attempt >= maxAttempts || !retryable(cause)) {
                    throw cause;
                }
                long cap = Math.min(maxDelay.toMillis(), baseDelay.toMillis() << Math.min(attempt - 1, 20));
                long sleep = ThreadLocalRandom.current().nextLong(cap / 2, cap + 1);
                log.warn("{} failed (attempt {} of {}), retrying in {} ms: {}", what, attempt, maxAttempts, sleep,
                        describe(cause));
                try {
                    Thread.sleep(sleep);
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    throw new InterruptedIOException("interrupted while waiting to retry " + what);
                }
            }
        }
    }

    /** The failure inside {@link ExecutionException} and {@link CompletionException} wrappers. */
    static Exception unwrap(Throwable t) {
        Throwable c = t;
        while ((c instanceof ExecutionException || c instanceof CompletionException) && c.getCause() != null) {
            c = c.getCause();
        }
        if (c instanceof Exception e) {
            return e;
        }
        if (c instanceof Error err) {
            throw err;
        }
        return new IOException(c);
    }

    /** True for failures worth another attempt: 5xx, throttling, timeouts, connection resets. */
    static boolean retryable(Throwable t) {
        if (t instanceof ErrorResponseException e) {
            String code = e.errorResponse() == null ? null : e.errorResponse().code();
            int status = e.response() == null ? 0 : e.response().code();
            return status >= 500 || status == 429 || (code != null && RETRYABLE_CODES.contains(code));
        }
        if (t instanceof ServerException e) {
            return e.statusCode() >= 500 || e.statusCode() == 429;
        }
        if (t instanceof InvalidResponseException) {
            return true; // a garbled response, e.g. an HTML error page from a proxy
        }
        if (t instanceof InterruptedIOException && !(t instanceof java.net.SocketTimeoutException)) {
            return false;
        }
        return t instanceof IOException;
    }

    /** A one-line description of a failure without HTTP traces. */
    static String describe(Throwable t) {
        if (t instanceof ErrorResponseException e && e.errorResponse() != null) {
            int status = e.response() == null ? 0 : e.response().code();
            return "HTTP " + status + " " + e.errorResponse().code() + ": " + e.errorResponse().message();
        }
        if (t instanceof ServerException e) {
            return "HTTP " + e.statusCode() + " from the server";
        }
        return t.toString();
    }
}

package com.jiffoo.backup.minio;

import io.minio.errors.ErrorResponseException;
import io.minio.errors.ServerException;
import io.minio.messages.ErrorResponse;
import okhttp3.Protocol;
import okhttp3.Request;
import okhttp3.Response;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.SocketException;
import java.time.Duration;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class RetryTest {
    private final Retry retry = new Retry(4, Duration.ofMillis(1), Duration.ofMillis(4));

    private static ErrorResponseException error(int status, String code) {
        Response response = new Response.Builder().request(new Request.Builder().url("http://127.0.0.1/b/k").build())
                .protocol(Protocol.HTTP_1_1).code(status).message(code).build();
        return new ErrorResponseException(new ErrorResponse(code, code + " message", "b", "k", null, null, null),
                response, null);
    }

    @Test
    void retriesServerErrorsThrottlingAndConnectionResetsThenSucceeds() throws Exception {
        AtomicInteger calls = new AtomicInteger();
        String result = retry.run("test", () -> switch (calls.incrementAndGet()) {
            case 1 -> throw new ExecutionException(new ServerException("bad gateway", 502, null));
            case 2 -> throw new CompletionException(error(503, "SlowDown"));
            case 3 -> throw new SocketException("Connection reset");
            default -> "done";
        });
        assertThat(result).isEqualTo("done");
        assertThat(calls).hasValue(4);
    }

    @Test
    void givesUpAfterTheLastAttemptWithTheLastFailure() {
        AtomicInteger calls = new AtomicInteger();
        assertThatThrownBy(() -> retry.run("test", () -> {
            calls.incrementAndGet();
            throw new ExecutionException(error(500, "InternalError"));
        })).isInstanceOf(ErrorResponseException.class);
        assertThat(calls).hasValue(4);
    }

    /** A skewed clock on this host stays skewed between attempts: fail at once, naming this host's clock. */
    @Test
    void requestTimeTooSkewedFailsAtOnceAndTellsToFixThisHostsClock() {
        AtomicInteger calls = new AtomicInteger();
        assertThatThrownBy(() -> retry.run("test", () -> {
            calls.incrementAndGet();
            throw new ExecutionException(error(403, "RequestTimeTooSkewed"));
        })).isInstanceOf(ErrorResponseException.class);
        assertThat(calls).hasValue(1);
        try (MinioSink sink = MinioSink.builder().endpoint("http://127.0.0.1:9").bucket("backups")
                .credentials("access", "secret-not-shown").build()) {
            RuntimeException e = sink.translate(error(403, "RequestTimeTooSkewed"), "upload", "database/x.gpg");
            assertThat(e).isInstanceOf(com.jiffoo.backup.StorageException.class);
            assertThat(e.getMessage()).contains("this host's clock", "timedatectl", "NTP",
                    "The server's clock is not the one to change").doesNotContain("Access denied")
                    .doesNotContain("secret-not-shown");
        }
    }

    @Test
    void clientErrorsFailAtOnce() {
        for (String code : new String[] {"NoSuchKey", "NoSuchBucket", "AccessDenied", "SignatureDoesNotMatch"}) {
            AtomicInteger calls = new AtomicInteger();
            assertThatThrownBy(() -> retry.run("test", () -> {
                calls.incrementAndGet();
                throw new ExecutionException(error(code.equals("NoSuchKey") || code.equals("NoSuchBucket") ? 404 : 403,
                        code));
            })).as(code).isInstanceOf(ErrorResponseException.class);
            assertThat(calls).as(code).hasValue(1);
        }
        assertThat(Retry.retryable(new IOException("reset"))).isTrue();
        assertThat(Retry.retryable(new IllegalStateException())).isFalse();
    }
}

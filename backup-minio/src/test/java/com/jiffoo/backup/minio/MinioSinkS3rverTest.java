package com.jiffoo.backup.minio;

import static org.assertj.core.api.Assertions.assertThat;

import com.jiffoo.backup.BackupPipeline;
import com.jiffoo.backup.StoredObject;
import com.jiffoo.backup.testing.s3.S3rverServer;
import com.jiffoo.backup.testutil.GeneratedSource;
import java.util.concurrent.atomic.AtomicInteger;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okio.Buffer;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * MinioSink against s3rver, an S3 server written independently of S3Proxy. The MinIO client sends plain bodies, so
 * backups round-trip; when something on the way wraps the bodies in aws-chunked framing (what the server
 * stored), the pipeline's check after the upload catches it through this sink too.
 */
class MinioSinkS3rverTest {
    private static final long MIB = 1 << 20;
    private static final AtomicInteger RUN = new AtomicInteger();

    @RegisterExtension
    static final S3rverServer.PerClass S3RVER = S3rverServer.perClass();

    static MinioSink.Builder sinkAt(S3rverServer server, String prefix) {
        return MinioSinkContractTest.sinkAt(server, prefix);
    }

    @ParameterizedTest
    @ValueSource(longs = {100_000, 12 * MIB + 7})
    void bodiesWrappedInAwsChunkedFramingOnTheWayAreCaughtAndNothingIsCommitted(long size) throws Exception {
        String prefix = "bad" + RUN.incrementAndGet();
        OkHttpClient framing = new OkHttpClient.Builder()
                .addNetworkInterceptor(chain -> {
                    Request r = chain.request();
                    if (!"PUT".equals(r.method())
                            || r.body() == null
                            || r.body().contentLength() <= 0) {
                        return chain.proceed(r);
                    }
                    Buffer body = new Buffer();
                    r.body().writeTo(body);
                    Buffer framed = new Buffer().writeUtf8(Long.toHexString(body.size()) + "\r\n");
                    framed.writeAll(body);
                    framed.writeUtf8("\r\n0\r\n\r\n");
                    RequestBody changed =
                            RequestBody.create(framed.readByteArray(), MediaType.get("application/octet-stream"));
                    return chain.proceed(r.newBuilder()
                            .method("PUT", changed)
                            .header("Content-Length", Long.toString(changed.contentLength()))
                            .build());
                })
                .build();
        try (MinioSink sink =
                sinkAt(S3RVER.server(), prefix).httpClient(framing).build()) {
            BackupPipeline pipeline = BackupPipeline.builder()
                    .source(new GeneratedSource("files", size, 6))
                    .unencrypted()
                    .sink(sink)
                    .build();
            S3RVER.server()
                    .assertStoredFramingIsCaught(pipeline, size, prefix, "The MinIO client sends plain request bodies");
        }
        try (MinioSink sink = sinkAt(S3RVER.server(), prefix).build()) {
            assertThat(sink.list("")).extracting(StoredObject::key).isEmpty();
        }
    }
}

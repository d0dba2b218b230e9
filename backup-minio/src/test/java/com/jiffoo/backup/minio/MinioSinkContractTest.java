package com.jiffoo.backup.minio;

import com.jiffoo.backup.Sink;
import com.jiffoo.backup.testing.S3ProxyServer;
import com.jiffoo.backup.testing.SinkContractTest;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/** MinioSink passes the contract every sink passes, on the shared in-process S3Proxy. */
class MinioSinkContractTest extends SinkContractTest {
    private static S3ProxyServer server;
    private static final AtomicInteger RUN = new AtomicInteger();
    private String prefix;

    @BeforeAll
    static void startServer() throws Exception {
        server = S3ProxyServer.startTransient();
    }

    @AfterAll
    static void stopServer() throws Exception {
        server.close();
    }

    @Override
    protected Sink createSink() {
        prefix = "contract/run" + RUN.incrementAndGet();
        return MinioSink.builder()
                .endpoint(server.endpoint().toString())
                .bucket(server.bucket())
                .prefix(prefix)
                .credentials(server.accessKey(), server.secretKey())
                .partSize(MinioSink.MIN_PART_SIZE)
                .build();
    }

    @Override
    protected long partSize() {
        return MinioSink.MIN_PART_SIZE;
    }

    @Override
    protected List<String> openUploads() {
        return server.openMultipartUploads().stream().filter(k -> k.startsWith(prefix + "/")).toList();
    }
}

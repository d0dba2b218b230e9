package com.jiffoo.backup.minio;

import com.jiffoo.backup.Sink;
import com.jiffoo.backup.testing.S3ProxyServer;
import com.jiffoo.backup.testing.StoreHealthContractTest;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

import java.util.concurrent.atomic.AtomicInteger;

/** Retention, verification records and the monitor on MinioSink against the in-process S3Proxy. */
class MinioStoreHealthTest extends StoreHealthContractTest {
    private static S3ProxyServer server;
    private static final AtomicInteger RUN = new AtomicInteger();

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
        return MinioSink.builder()
                .endpoint(server.endpoint().toString())
                .bucket(server.bucket())
                .prefix("health/run" + RUN.incrementAndGet())
                .credentials(server.accessKey(), server.secretKey())
                .build();
    }
}

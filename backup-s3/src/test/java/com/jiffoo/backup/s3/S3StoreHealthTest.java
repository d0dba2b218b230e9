package com.jiffoo.backup.s3;

import com.jiffoo.backup.Sink;
import com.jiffoo.backup.testing.S3ProxyServer;
import com.jiffoo.backup.testing.StoreHealthContractTest;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;

import java.util.concurrent.atomic.AtomicInteger;

/** Retention, verification records and the monitor on S3Sink against the in-process S3Proxy. */
class S3StoreHealthTest extends StoreHealthContractTest {
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
        return S3Sink.builder()
                .uri("s3://" + server.bucket() + "/health/run" + RUN.incrementAndGet())
                .endpointOverride(server.endpoint())
                .pathStyleAccess(true)
                .credentialsProvider(StaticCredentialsProvider.create(
                        AwsBasicCredentials.create(server.accessKey(), server.secretKey())))
                .build();
    }
}

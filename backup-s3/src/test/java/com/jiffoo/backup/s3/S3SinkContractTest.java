package com.jiffoo.backup.s3;

import com.jiffoo.backup.Sink;
import com.jiffoo.backup.testing.S3ProxyServer;
import com.jiffoo.backup.testing.SinkContractTest;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;

import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

class S3SinkContractTest extends SinkContractTest {
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
        return S3Sink.builder()
                .uri("s3://" + server.bucket() + "/" + prefix)
                .endpointOverride(server.endpoint())
                .pathStyleAccess(true)
                .credentialsProvider(StaticCredentialsProvider.create(
                        AwsBasicCredentials.create(server.accessKey(), server.secretKey())))
                .partSize(S3Sink.MIN_PART_SIZE)
                .build();
    }

    @Override
    protected long partSize() {
        return S3Sink.MIN_PART_SIZE;
    }

    @Override
    protected List<String> openUploads() {
        return server.openMultipartUploads().stream().filter(k -> k.startsWith(prefix + "/")).toList();
    }
}

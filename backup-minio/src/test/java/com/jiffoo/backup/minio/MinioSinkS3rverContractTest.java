package com.jiffoo.backup.minio;

import com.jiffoo.backup.Sink;
import com.jiffoo.backup.testing.S3rverServer;
import com.jiffoo.backup.testing.SinkContractTest;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;

/** MinioSink keeps the Sink contract on s3rver, a second S3 implementation besides S3Proxy. */
class MinioSinkS3rverContractTest extends SinkContractTest {
    private static final AtomicInteger RUN = new AtomicInteger();
    @TempDir
    static Path data;
    private static S3rverServer server;

    @BeforeAll
    static void start() throws Exception {
        S3rverServer.assumeAvailable();
        server = S3rverServer.start(data);
    }

    @AfterAll
    static void stop() throws Exception {
        if (server != null) {
            server.close();
        }
    }

    @Override
    protected Sink createSink() {
        return MinioSinkS3rverTest.sinkAt(server, "contract/run" + RUN.incrementAndGet()).build();
    }

    @Override
    protected long partSize() {
        return MinioSink.MIN_PART_SIZE;
    }

    @Override
    protected int manyKeys() {
        return 1_010;
    }
}

package com.jiffoo.backup.s3;

import com.jiffoo.backup.Sink;
import com.jiffoo.backup.testing.S3rverServer;
import com.jiffoo.backup.testing.SinkContractTest;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;

/** S3Sink, with the settings an endpoint override gets by default, keeps the Sink contract on s3rver. */
class S3SinkS3rverContractTest extends SinkContractTest {
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
        return S3SinkS3rverTest.sinkAt(server, "contract/run" + RUN.incrementAndGet()).build();
    }

    @Override
    protected long partSize() {
        return S3Sink.MIN_PART_SIZE;
    }
}

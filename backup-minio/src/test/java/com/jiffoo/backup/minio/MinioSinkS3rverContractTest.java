package com.jiffoo.backup.minio;

import com.jiffoo.backup.Sink;
import com.jiffoo.backup.testing.S3rverServer;
import com.jiffoo.backup.testing.SinkContractTest;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.util.concurrent.atomic.AtomicInteger;

/** MinioSink keeps the Sink contract on s3rver, a second S3 implementation besides S3Proxy. */
class MinioSinkS3rverContractTest extends SinkContractTest {
    private static final AtomicInteger RUN = new AtomicInteger();
    @RegisterExtension
    static final S3rverServer.PerClass S3RVER = S3rverServer.perClass();

    @Override
    protected Sink createSink() {
        return MinioSinkS3rverTest.sinkAt(S3RVER.server(), "contract/run" + RUN.incrementAndGet()).build();
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

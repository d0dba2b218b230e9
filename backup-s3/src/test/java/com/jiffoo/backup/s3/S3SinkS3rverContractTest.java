package com.jiffoo.backup.s3;

import com.jiffoo.backup.Sink;
import com.jiffoo.backup.testing.S3rverServer;
import com.jiffoo.backup.testing.SinkContractTest;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.util.concurrent.atomic.AtomicInteger;

/** S3Sink, with the settings an endpoint override gets by default, keeps the Sink contract on s3rver. */
class S3SinkS3rverContractTest extends SinkContractTest {
    private static final AtomicInteger RUN = new AtomicInteger();
    @RegisterExtension
    static final S3rverServer.PerClass S3RVER = S3rverServer.perClass();

    @Override
    protected Sink createSink() {
        return S3SinkS3rverTest.sinkAt(S3RVER.server(), "contract/run" + RUN.incrementAndGet()).build();
    }

    @Override
    protected long partSize() {
        return S3Sink.MIN_PART_SIZE;
    }
}

package com.jiffoo.backup.minio;

import com.jiffoo.backup.Sink;
import com.jiffoo.backup.testing.s3.S3Endpoint;
import com.jiffoo.backup.testing.s3.S3rverContractTest;

/** MinioSink keeps the Sink contract on s3rver, a second S3 implementation besides S3Proxy. */
class MinioSinkS3rverContractTest extends S3rverContractTest {
    @Override
    protected Sink createSink(S3Endpoint server, String prefix) {
        return MinioSinkContractTest.sinkAt(server, prefix).build();
    }
}

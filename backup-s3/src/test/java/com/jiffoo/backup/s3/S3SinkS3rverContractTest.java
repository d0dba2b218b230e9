package com.jiffoo.backup.s3;

import com.jiffoo.backup.Sink;
import com.jiffoo.backup.testing.s3.S3Endpoint;
import com.jiffoo.backup.testing.s3.S3rverContractTest;

/** S3Sink, with the settings an endpoint override gets by default, keeps the Sink contract on s3rver. */
class S3SinkS3rverContractTest extends S3rverContractTest {
    @Override
    protected Sink createSink(S3Endpoint server, String prefix) {
        return S3SinkContractTest.sinkAt(server, prefix).build();
    }
}

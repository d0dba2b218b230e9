package com.jiffoo.backup.minio;

import com.jiffoo.backup.Sink;
import com.jiffoo.backup.testing.s3.S3Endpoint;
import com.jiffoo.backup.testing.s3.S3ProxyContractTest;

/** MinioSink keeps the Sink contract and the store-health suite on the in-process S3Proxy. */
class MinioSinkContractTest extends S3ProxyContractTest {

    /** A MinioSink on a test server under {@code prefix}, with 5 MiB parts. */
    static MinioSink.Builder sinkAt(S3Endpoint server, String prefix) {
        return MinioSink.builder()
                .endpoint(server.endpoint().toString())
                .bucket(server.bucket())
                .prefix(prefix)
                .credentials(server.accessKey(), server.secretKey())
                .partSize(MinioSink.MIN_PART_SIZE);
    }

    @Override
    protected Sink createSink(S3Endpoint server, String prefix) {
        return sinkAt(server, prefix).build();
    }
}

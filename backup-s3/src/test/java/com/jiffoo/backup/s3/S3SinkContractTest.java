package com.jiffoo.backup.s3;

import com.jiffoo.backup.Sink;
import com.jiffoo.backup.testing.s3.S3Endpoint;
import com.jiffoo.backup.testing.s3.S3ProxyContractTest;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;

/** S3Sink keeps the Sink contract and the store-health suite on the in-process S3Proxy. */
class S3SinkContractTest extends S3ProxyContractTest {

    /** An S3Sink on a test server under {@code prefix}, path-style, with 5 MiB parts. */
    static S3Sink.Builder sinkAt(S3Endpoint server, String prefix) {
        return S3Sink.builder()
                .uri("s3://" + server.bucket() + "/" + prefix)
                .endpointOverride(server.endpoint())
                .pathStyleAccess(true)
                .credentialsProvider(StaticCredentialsProvider.create(
                        AwsBasicCredentials.create(server.accessKey(), server.secretKey())))
                .partSize(S3Sink.MIN_PART_SIZE);
    }

    @Override
    protected Sink createSink(S3Endpoint server, String prefix) {
        return sinkAt(server, prefix).build();
    }
}

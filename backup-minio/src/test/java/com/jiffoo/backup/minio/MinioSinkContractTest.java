package com.jiffoo.backup.minio;

import com.jiffoo.backup.Sink;
import com.jiffoo.backup.testing.s3.S3Endpoint;
import com.jiffoo.backup.testing.s3.S3ProxyContractTest;
import io.minio.MinioAsyncClient;
import io.minio.messages.Upload;
import java.util.List;

/** MinioSink keeps the Sink contract and the store-health suite on the in-process S3Proxy. */
class MinioSinkContractTest extends S3ProxyContractTest {

    /** A MinioSink on a test server under {@code prefix}, with 5 MiB parts. */
    static MinioSink.Builder sinkAt(S3Endpoint server, String prefix) {
        return sinkIn(server, server.bucket()).prefix(prefix);
    }

    /** A MinioSink on a test server in {@code bucket}, with 5 MiB parts. */
    static MinioSink.Builder sinkIn(S3Endpoint server, String bucket) {
        return MinioSink.builder()
                .endpoint(server.endpoint().toString())
                .bucket(bucket)
                .credentials(server.accessKey(), server.secretKey())
                .partSize(MinioSink.MIN_PART_SIZE);
    }

    /** The multipart uploads open in {@code bucket}, asked through the S3 API (ListMultipartUploads). */
    static List<Upload> openUploads(S3Endpoint server, String bucket) throws Exception {
        try (MinioAsyncClient client = MinioAsyncClient.builder()
                .endpoint(server.endpoint().toString())
                .region("us-east-1")
                .credentials(server.accessKey(), server.secretKey())
                .build()) {
            client.disableVirtualStyleEndpoint();
            return client.listMultipartUploadsAsync(bucket, null, null, null, null, 1000, null, null, null, null)
                    .get()
                    .result()
                    .uploads();
        }
    }

    @Override
    protected Sink createSink(S3Endpoint server, String prefix) {
        return sinkAt(server, prefix).build();
    }
}

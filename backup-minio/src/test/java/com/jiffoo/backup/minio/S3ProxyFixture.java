package com.jiffoo.backup.minio;

import io.minio.MinioAsyncClient;
import io.minio.messages.Upload;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.gaul.s3proxy.S3Proxy;
import org.gaul.s3proxy.auth.AuthenticationType;
import org.gaul.s3proxy.blobstore.BlobStore;
import org.gaul.s3proxy.blobstore.ForwardingBlobStore;
import org.gaul.s3proxy.blobstore.domain.MultipartUpload;
import org.gaul.s3proxy.nio2blob.TransientNio2BlobStore;
import software.amazon.awssdk.awscore.exception.AwsErrorDetails;
import software.amazon.awssdk.services.s3.model.HeadObjectRequest;
import software.amazon.awssdk.services.s3.model.HeadObjectResponse;
import software.amazon.awssdk.services.s3.model.PutObjectRequest;
import software.amazon.awssdk.services.s3.model.S3Exception;
import software.amazon.awssdk.services.s3.model.UploadPartRequest;
import software.amazon.awssdk.services.s3.model.UploadPartResponse;

/**
 * An S3Proxy server on 127.0.0.1 (a free port) with an in-memory ({@code transient-nio2}) blob store and AWS
 * Signature V4 authentication, for tests against a real S3 protocol server without Docker.
 *
 * <pre>{@code
 * try (S3ProxyFixture s3 = S3ProxyFixture.start()) {
 *     String bucket = s3.createBucket();
 *     MinioSink sink = s3.sink(bucket).build();
 * }
 * }</pre>
 */
final class S3ProxyFixture implements AutoCloseable {
    static final String ACCESS_KEY = "jiffoo-test-access";
    static final String SECRET_KEY = "jiffoo-test-secret-3f9a1c";
    private static final AtomicInteger BUCKETS = new AtomicInteger();

    private final AtomicInteger failingParts = new AtomicInteger();
    private final AtomicReference<String[]> intruder = new AtomicReference<>();
    private final BlobStore blobStore;
    private final S3Proxy proxy;
    private final MinioAsyncClient client;

    private S3ProxyFixture() throws Exception {
        blobStore = new ForwardingBlobStore(new TransientNio2BlobStore()) {
            @Override
            public UploadPartResponse uploadMultipartPart(
                    MultipartUpload upload, UploadPartRequest request, InputStream in) {
                if (failingParts.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
                    throw S3Exception.builder()
                            .statusCode(503)
                            .message("injected failure")
                            .awsErrorDetails(AwsErrorDetails.builder()
                                    .errorCode("ServiceUnavailable")
                                    .errorMessage("injected failure")
                                    .build())
                            .build();
                }
                return super.uploadMultipartPart(upload, request, in);
            }

            @Override
            public HeadObjectResponse blobMetadata(HeadObjectRequest request) {
                try {
                    return super.blobMetadata(request);
                } finally {
                    intrude(request.bucket(), request.key());
                }
            }

            @Override
            public HeadObjectResponse blobMetadataIfPresent(HeadObjectRequest request) {
                try {
                    return super.blobMetadataIfPresent(request);
                } finally {
                    intrude(request.bucket(), request.key());
                }
            }

            /** Writes the armed intruder right after a writer looked the key up: the race of two writers. */
            private void intrude(String bucket, String key) {
                String[] armed = intruder.get();
                if (armed != null
                        && armed[0].equals(bucket)
                        && armed[1].equals(key)
                        && intruder.compareAndSet(armed, null)) {
                    byte[] data = armed[2].getBytes(StandardCharsets.UTF_8);
                    delegate()
                            .putBlob(
                                    PutObjectRequest.builder()
                                            .bucket(bucket)
                                            .key(key)
                                            .contentLength((long) data.length)
                                            .build(),
                                    new ByteArrayInputStream(data));
                }
            }
        };
        proxy = S3Proxy.builder()
                .blobStore(blobStore)
                .endpoint(URI.create("http://127.0.0.1:0"))
                .awsAuthentication(AuthenticationType.AWS_V2_OR_V4, ACCESS_KEY, SECRET_KEY)
                .ignoreUnknownHeaders(true)
                .build();
        proxy.start();
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (!"STARTED".equals(proxy.getState())) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("S3Proxy did not start: " + proxy.getState());
            }
            Thread.sleep(10);
        }
        client = MinioAsyncClient.builder()
                .endpoint(endpoint())
                .region("us-east-1")
                .credentials(ACCESS_KEY, SECRET_KEY)
                .build();
        client.disableVirtualStyleEndpoint();
    }

    /** Starts a server. */
    static S3ProxyFixture start() throws Exception {
        return new S3ProxyFixture();
    }

    /** {@code http://127.0.0.1:PORT}. */
    String endpoint() {
        return "http://127.0.0.1:" + proxy.getPort();
    }

    /** Creates a fresh bucket and returns its name. */
    String createBucket() {
        String name = "bucket-" + BUCKETS.incrementAndGet();
        blobStore.createContainer(name);
        return name;
    }

    /** A sink builder for {@code bucket} with the server's endpoint and credentials and the minimum part size. */
    MinioSink.Builder sink(String bucket) {
        return MinioSink.builder()
                .endpoint(endpoint())
                .bucket(bucket)
                .credentials(ACCESS_KEY, SECRET_KEY.toCharArray())
                .partSize(MinioSink.MIN_PART_SIZE);
    }

    /** Makes the next {@code count} part uploads fail with a 503. */
    void failNextPartUploads(int count) {
        failingParts.set(count);
    }

    /**
     * Arms a race: right after the next lookup of {@code objectName} in {@code bucket} (a writer's existence check),
     * another "writer" stores {@code content} under it.
     */
    void writeRightAfterNextLookup(String bucket, String objectName, String content) {
        intruder.set(new String[] {bucket, objectName, content});
    }

    /** How many injected part failures are still to come. */
    int pendingPartFailures() {
        return failingParts.get();
    }

    /** The response headers of a HEAD of {@code objectName} in {@code bucket}, e.g. the SSE the server reports. */
    okhttp3.Headers head(String bucket, String objectName) throws Exception {
        return client.statObject(io.minio.StatObjectArgs.builder()
                        .bucket(bucket)
                        .object(objectName)
                        .build())
                .get()
                .headers();
    }

    /** The multipart uploads still open in {@code bucket}, through the S3 API (ListMultipartUploads). */
    List<Upload> openUploads(String bucket) throws Exception {
        return client.listMultipartUploadsAsync(bucket, null, null, null, null, 1000, null, null, null, null)
                .get()
                .result()
                .uploads();
    }

    /** The multipart uploads still open in {@code bucket}, asked of the blob store behind the server. */
    List<?> openUploadsInBlobStore(String bucket) {
        return blobStore.listMultipartUploads(bucket);
    }

    @Override
    public void close() throws Exception {
        try {
            client.close();
        } finally {
            proxy.stop();
        }
    }
}

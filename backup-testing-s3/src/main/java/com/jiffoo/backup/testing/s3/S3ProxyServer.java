package com.jiffoo.backup.testing.s3;

import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.gaul.s3proxy.S3Proxy;
import org.gaul.s3proxy.auth.AuthenticationType;
import org.gaul.s3proxy.blobstore.BlobStore;
import org.gaul.s3proxy.blobstore.ForwardingBlobStore;
import org.gaul.s3proxy.nio2blob.FilesystemNio2BlobStore;
import org.gaul.s3proxy.nio2blob.TransientNio2BlobStore;
import software.amazon.awssdk.awscore.exception.AwsErrorDetails;
import software.amazon.awssdk.services.s3.model.HeadObjectRequest;
import software.amazon.awssdk.services.s3.model.HeadObjectResponse;
import software.amazon.awssdk.services.s3.model.MultipartUpload;
import software.amazon.awssdk.services.s3.model.PutObjectRequest;
import software.amazon.awssdk.services.s3.model.S3Exception;
import software.amazon.awssdk.services.s3.model.UploadPartRequest;
import software.amazon.awssdk.services.s3.model.UploadPartResponse;

/**
 * An S3Proxy server started in-process on {@code 127.0.0.1} on a free port, for tests of S3 and S3-compatible sinks:
 * AWS SigV4 authentication with random credentials, an in-memory ({@link #startTransient()}) or file-system
 * ({@link #startFilesystem(Path)}) blob store, unknown request headers ignored (the AWS SDK's multipart completion
 * sends {@code x-amz-mp-object-size}, which S3Proxy otherwise answers with 501), and one bucket created.
 * Clients must use path-style access. Faults for tests of retries and races are injected at the blob store, behind
 * the S3 protocol: {@link #failNextPartUploads(int)}, {@link #writeRightAfterNextLookup(String, String, String)}.
 *
 * <pre>{@code
 * try (S3ProxyServer s3 = S3ProxyServer.startTransient()) {
 *     URI endpoint = s3.endpoint();   // http://127.0.0.1:PORT
 *     ... s3.accessKey(), s3.secretKey(), s3.bucket()
 * }
 * }</pre>
 *
 * <p>Thread-safe. {@link #close()} stops the server; an in-memory store's content is gone then.
 */
public final class S3ProxyServer implements S3Endpoint, AutoCloseable {
    private static final SecureRandom RANDOM = new SecureRandom();

    private final AtomicInteger failingParts = new AtomicInteger();
    private final AtomicReference<String[]> intruder = new AtomicReference<>();
    private final AtomicInteger buckets = new AtomicInteger();
    private final S3Proxy proxy;
    private final BlobStore blobStore;
    private final String accessKey;
    private final String secretKey;
    private final String bucket;
    private final URI endpoint;
    private boolean closed;

    private S3ProxyServer(BlobStore store) throws Exception {
        this(store, "AK" + hex(8).toUpperCase(java.util.Locale.ROOT), hex(20), "jiffoo-test-" + hex(4), 0);
    }

    private S3ProxyServer(BlobStore store, String accessKey, String secretKey, String bucket, int port)
            throws Exception {
        this.blobStore = new FaultyBlobStore(store);
        this.accessKey = accessKey;
        this.secretKey = secretKey;
        this.bucket = bucket;
        this.proxy = S3Proxy.builder()
                .blobStore(blobStore)
                .endpoint(URI.create("http://127.0.0.1:" + port))
                .awsAuthentication(AuthenticationType.AWS_V4, accessKey, secretKey)
                .ignoreUnknownHeaders(true)
                .stopTimeout(0)
                .build();
        proxy.start();
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (!"STARTED".equals(proxy.getState())) {
            if (System.nanoTime() > deadline) {
                proxy.stop();
                throw new IllegalStateException("S3Proxy did not start within 30 s, state " + proxy.getState());
            }
            Thread.sleep(10);
        }
        this.endpoint = URI.create("http://127.0.0.1:" + proxy.getPort());
        if (!blobStore.containerExists(bucket)) { // a restart keeps it
            blobStore.createContainer(bucket);
        }
    }

    /** Starts a server whose objects live in memory. */
    public static S3ProxyServer startTransient() throws Exception {
        return new S3ProxyServer(new TransientNio2BlobStore());
    }

    /** Starts a server whose objects live as files under {@code baseDir} (created when missing). */
    public static S3ProxyServer startFilesystem(Path baseDir) throws Exception {
        Objects.requireNonNull(baseDir, "baseDir");
        Files.createDirectories(baseDir);
        return new S3ProxyServer(
                new FilesystemNio2BlobStore(baseDir.toAbsolutePath().toString()));
    }

    /**
     * Starts a server whose objects live as files under {@code baseDir} again, as {@code stopped} did (closed, with
     * the same {@code baseDir}): the same port, credentials and bucket, so that clients configured for it reach it
     * again — a region back after an outage.
     */
    public static S3ProxyServer restartFilesystem(Path baseDir, S3ProxyServer stopped) throws Exception {
        Objects.requireNonNull(stopped, "stopped");
        return new S3ProxyServer(
                new FilesystemNio2BlobStore(baseDir.toAbsolutePath().toString()),
                stopped.accessKey,
                stopped.secretKey,
                stopped.bucket,
                stopped.endpoint.getPort());
    }

    /** The server's base URI, {@code http://127.0.0.1:PORT}. */
    public URI endpoint() {
        return endpoint;
    }

    /** The access key id the server accepts. */
    public String accessKey() {
        return accessKey;
    }

    /** The secret key the server accepts. */
    public String secretKey() {
        return secretKey;
    }

    /** The bucket created at start. */
    public String bucket() {
        return bucket;
    }

    /** Creates another bucket. */
    public void createBucket(String name) {
        blobStore.createContainer(name);
    }

    /** Creates another bucket, with a name not used before on this server, and returns the name. */
    public String createBucket() {
        String name = bucket + "-" + buckets.incrementAndGet();
        createBucket(name);
        return name;
    }

    /** The keys of multipart uploads started in {@link #bucket()} and neither completed nor aborted. */
    public List<String> openMultipartUploads() {
        return openMultipartUploads(bucket);
    }

    /**
     * The keys of multipart uploads started in {@code bucket} and neither completed nor aborted, asked of the blob
     * store behind the server (not through the S3 API).
     */
    public List<String> openMultipartUploads(String bucket) {
        return blobStore.listMultipartUploads(bucket).stream()
                .map(MultipartUpload::key)
                .toList();
    }

    /** Makes the next {@code count} part uploads (to any bucket) fail with a 503 {@code ServiceUnavailable}. */
    public void failNextPartUploads(int count) {
        failingParts.set(count);
    }

    /** How many of the part upload failures {@link #failNextPartUploads(int)} asked for are still to come. */
    public int pendingPartFailures() {
        return failingParts.get();
    }

    /**
     * Arms a race, once: right after the next lookup of {@code key} in {@code bucket} (a writer's existence check,
     * HEAD), another "writer" stores {@code content} (UTF-8) under it.
     */
    public void writeRightAfterNextLookup(String bucket, String key, String content) {
        intruder.set(new String[] {bucket, key, content});
    }

    /** Stops the server. Idempotent. */
    @Override
    public synchronized void close() throws Exception {
        if (closed) {
            return;
        }
        closed = true;
        try {
            proxy.stop();
        } finally {
            blobStore.close();
        }
    }

    /** One in-memory server for the test class that registers it; see {@link PerClass}. */
    public static PerClass perClass() {
        return new PerClass();
    }

    /**
     * A JUnit 5 extension ({@code @RegisterExtension static}) that starts one in-memory server before the class's
     * tests and stops it after them.
     */
    public static final class PerClass
            implements org.junit.jupiter.api.extension.BeforeAllCallback,
                    org.junit.jupiter.api.extension.AfterAllCallback {
        private S3ProxyServer server;

        private PerClass() {}

        /** The running server. */
        public S3ProxyServer server() {
            if (server == null) {
                throw new IllegalStateException("S3Proxy is not running: register PerClass as a static extension");
            }
            return server;
        }

        @Override
        public void beforeAll(org.junit.jupiter.api.extension.ExtensionContext context) throws Exception {
            if (server == null) { // a @Nested class runs inside its outer class's server
                server = startTransient();
            }
        }

        @Override
        public void afterAll(org.junit.jupiter.api.extension.ExtensionContext context) throws Exception {
            if (server != null
                    && context.getTestClass()
                            .map(c -> c.getEnclosingClass() == null
                                    || !c.isAnnotationPresent(org.junit.jupiter.api.Nested.class))
                            .orElse(true)) {
                server.close();
                server = null;
            }
        }
    }

    @Override
    public String toString() {
        return "S3ProxyServer{" + endpoint + ", bucket " + bucket + "}";
    }

    /** The blob store behind the server, with the faults that are armed injected. */
    private final class FaultyBlobStore extends ForwardingBlobStore {
        FaultyBlobStore(BlobStore delegate) {
            super(delegate);
        }

        @Override
        public UploadPartResponse uploadMultipartPart(
                org.gaul.s3proxy.blobstore.domain.MultipartUpload upload, UploadPartRequest request, InputStream in) {
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

        /** Every lookup (BlobStore's {@code blobMetadataIfPresent} too) comes here. */
        @Override
        public HeadObjectResponse blobMetadata(HeadObjectRequest request) {
            try {
                return super.blobMetadata(request);
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
    }

    private static String hex(int bytes) {
        byte[] b = new byte[bytes];
        RANDOM.nextBytes(b);
        return HexFormat.of().formatHex(b);
    }
}

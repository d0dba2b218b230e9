package com.jiffoo.backup.minio;

import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.StorageException;
import com.jiffoo.backup.internal.Keys;
import com.jiffoo.backup.store.multipart.ObjectStoreSink;
import io.minio.BucketExistsArgs;
import io.minio.MinioAsyncClient;
import io.minio.ServerSideEncryption;
import io.minio.ServerSideEncryptionKms;
import io.minio.ServerSideEncryptionS3;
import java.time.Duration;
import java.util.Arrays;
import java.util.Map;
import java.util.Objects;
import okhttp3.HttpUrl;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An {@link ObjectStoreSink} in a MinIO (or other S3-compatible) bucket, through the MinIO Java client. An object
 * {@code a/b} is stored under {@code prefix/a/b} in the bucket. Part sizes, the memory bound
 * ({@code partSize x partsInFlight} per writer), retries, write-once ({@code HEAD} and {@code If-None-Match: *}), the
 * lost-answer rule and the error messages are {@link ObjectStoreSink}'s, the same as {@code S3Sink}'s. The client
 * sends plain bodies (no {@code aws-chunked} framing), signed with AWS Signature V4: the secret key never travels and
 * no message contains it.
 *
 * <pre>{@code
 * try (MinioSink sink = MinioSink.builder()
 *         .endpoint("https://minio.internal:9000")
 *         .bucket("backups").prefix("prod")
 *         .credentials(System.getenv("MINIO_ACCESS_KEY"), System.getenv("MINIO_SECRET_KEY").toCharArray())
 *         .serverSideEncryptionS3()
 *         .build()) {
 *     BackupPipeline.builder().source(source).encryption(pgp).sink(sink).build().run();
 * }
 * }</pre>
 *
 * <p>Thread-safe; each output is for one writer. {@link #close()} stops the upload threads and the HTTP client and
 * is idempotent; outputs still open are not committed.
 */
public final class MinioSink extends ObjectStoreSink {
    private static final Logger log = LoggerFactory.getLogger(MinioSink.class);

    private final Builder config;
    private final HttpUrl endpoint;
    private final MinioAsyncClient client;
    private final MinioObjects objects;

    private MinioSink(Builder b, HttpUrl url, MinioAsyncClient client, MinioObjects objects) {
        super(
                b,
                objects,
                "MinIO",
                url.scheme() + "://" + url.host() + ":" + url.port(),
                locationOf(url, b),
                b.bucket,
                b.prefix.isEmpty() ? "" : b.prefix + "/");
        this.config = b;
        this.endpoint = url;
        this.client = client;
        this.objects = objects;
    }

    private static String locationOf(HttpUrl url, Builder b) {
        return "minio://" + url.host() + ":" + url.port() + "/" + b.bucket + (b.prefix.isEmpty() ? "" : "/" + b.prefix);
    }

    private static MinioSink create(Builder b) {
        if (b.endpoint == null || b.endpoint.isBlank()) {
            throw new ConfigurationException("No MinIO endpoint set: call endpoint(\"https://host:9000\").");
        }
        HttpUrl url = HttpUrl.parse(b.endpoint);
        if (url == null) {
            throw new ConfigurationException("The MinIO endpoint '" + b.endpoint
                    + "' is not an http(s) URL; set e.g. https://minio.example.com:9000.");
        }
        if (b.bucket == null || b.bucket.isBlank()) {
            throw new ConfigurationException("No bucket set for the MinIO store at " + url.host() + ":" + url.port()
                    + ": call bucket(\"name\").");
        }
        if (b.accessKey == null || b.accessKey.isBlank() || b.secretKey == null || b.secretKey.length == 0) {
            throw new ConfigurationException("No credentials set for the MinIO store at " + url.host() + ":"
                    + url.port() + ": call credentials(accessKey, secretKey) with the access key and secret key of "
                    + "a user that may write to bucket '" + b.bucket + "'.");
        }
        if (b.sseKmsKeyId != null && !url.isHttps()) {
            throw new ConfigurationException("SSE-KMS needs an https endpoint (the key id must not travel in "
                    + "clear text, and the MinIO client refuses it), but the endpoint is " + url.scheme()
                    + "://" + url.host() + ":" + url.port() + ".");
        }
        ServerSideEncryption sse =
                b.sseKmsKeyId != null ? kms(b.sseKmsKeyId) : b.sseS3 ? new ServerSideEncryptionS3() : null;
        MinioAsyncClient.Builder cb = MinioAsyncClient.builder()
                .endpoint(url)
                .region(b.region)
                .credentials(b.accessKey, new String(b.secretKey));
        if (b.httpClient != null) {
            cb.httpClient(b.httpClient);
        }
        MinioAsyncClient client = cb.build();
        client.disableVirtualStyleEndpoint();
        client.setTimeout(b.connectTimeout.toMillis(), b.requestTimeout.toMillis(), b.requestTimeout.toMillis());
        return new MinioSink(b, url, client, new MinioObjects(client, b.bucket, b.region, sse, locationOf(url, b)));
    }

    /** A builder with the defaults: 8 MiB parts, 4 in flight, region us-east-1, no SSE, 5 attempts a request. */
    public static Builder builder() {
        return new Builder();
    }

    /** A builder holding this sink's settings (including its credentials). */
    public Builder toBuilder() {
        return config.copy();
    }

    /**
     * Checks that the endpoint answers, the credentials are accepted and the bucket exists, for a clear error at
     * start-up rather than at the first write.
     *
     * @throws ConfigurationException for rejected credentials or a missing bucket
     * @throws StorageException when the endpoint cannot be reached
     */
    public void checkBucket() {
        String bucket = config.bucket;
        if (!call(
                "check of the bucket",
                null,
                () -> MinioObjects.minio(() -> client.bucketExists(
                                BucketExistsArgs.builder().bucket(bucket).build())
                        .get()))) {
            throw missingBucket();
        }
    }

    /** The user metadata of a committed object ({@code x-amz-meta-*} names without the prefix, lower case). */
    public Map<String, String> metadataOf(String key) {
        String name = name(key);
        return call("metadata read of", key, () -> objects.metadataOf(name));
    }

    /**
     * The MinIO client sends plain bodies (no {@code aws-chunked} framing, no checksum trailers), so a mismatch
     * points at the server or a proxy in between.
     */
    @Override
    public String mismatchAdvice() {
        return "The MinIO client sends plain request bodies, so the server at " + endpoint.host() + ":"
                + endpoint.port() + " or a proxy in front of it changed the object: check the proxy (it must pass"
                + " request bodies through unchanged) and the server's logs, and run `list` and `verify` on the store.";
    }

    /** The client (tests trace its requests). */
    MinioAsyncClient client() {
        return client;
    }

    @Override
    protected void closeClient() {
        try {
            client.close();
        } catch (Exception e) {
            log.debug("closing the MinIO client of {} failed: {}", location(), e.toString());
        }
    }

    @Override
    public String toString() {
        return "MinioSink{" + location() + ", partSize=" + partSize() + ", partsInFlight=" + partsInFlight() + "}";
    }

    private static ServerSideEncryption kms(String keyId) {
        try {
            return new ServerSideEncryptionKms(keyId, null);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new ConfigurationException("Cannot use the KMS key id for SSE-KMS: " + e.getMessage(), e);
        }
    }

    /**
     * Builds a {@link MinioSink}. Setters check their arguments; {@link #build()} checks that the endpoint, bucket
     * and credentials are set. Not thread-safe. {@link #toString()} never shows the secret key.
     */
    public static final class Builder extends ObjectStoreSink.Builder<Builder> {
        private String endpoint;
        private String bucket;
        private String prefix = "";
        private String accessKey;
        private char[] secretKey;
        private String region = "us-east-1";
        private boolean sseS3;
        private String sseKmsKeyId;
        private Duration connectTimeout = Duration.ofSeconds(10);
        private Duration requestTimeout = Duration.ofMinutes(5);
        private okhttp3.OkHttpClient httpClient;

        private Builder() {}

        @Override
        public Builder copy() {
            Builder b = super.copy();
            b.secretKey = secretKey == null ? null : secretKey.clone();
            return b;
        }

        /** The server, e.g. {@code https://minio.example.com:9000}. Requests use path-style URLs. */
        public Builder endpoint(String endpoint) {
            this.endpoint = Objects.requireNonNull(endpoint, "endpoint").trim();
            return this;
        }

        /** The bucket (it must exist; see {@link MinioSink#checkBucket()}). */
        public Builder bucket(String bucket) {
            Objects.requireNonNull(bucket, "bucket");
            if (!bucket.matches("[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")) {
                throw new IllegalArgumentException(
                        "not a valid bucket name (3-63 lower-case letters, digits, " + "'.' and '-'): " + bucket);
            }
            this.bucket = bucket;
            return this;
        }

        /** A prefix in the bucket, e.g. {@code prod/jiffoo}; {@code ""} (the default) for none. */
        public Builder prefix(String prefix) {
            Objects.requireNonNull(prefix, "prefix");
            String p = prefix;
            while (p.endsWith("/")) {
                p = p.substring(0, p.length() - 1);
            }
            if (!p.isEmpty()) {
                Keys.check(p);
            }
            this.prefix = p;
            return this;
        }

        /**
         * The access key and secret key. The secret is copied (clear your array when done) and never appears in
         * {@code toString()}, logs or exceptions.
         */
        public Builder credentials(String accessKey, char[] secretKey) {
            Objects.requireNonNull(accessKey, "accessKey");
            Objects.requireNonNull(secretKey, "secretKey");
            this.accessKey = accessKey;
            this.secretKey = secretKey.clone();
            return this;
        }

        /** Like {@link #credentials(String, char[])}, for a secret held in a {@code String}. */
        public Builder credentials(String accessKey, String secretKey) {
            return credentials(
                    accessKey, Objects.requireNonNull(secretKey, "secretKey").toCharArray());
        }

        /** The region the bucket lives in; {@code us-east-1} by default (MinIO's default). */
        public Builder region(String region) {
            this.region = Objects.requireNonNull(region, "region");
            return this;
        }

        /** Asks the server to encrypt objects with its own keys (SSE-S3, {@code AES256}). */
        public Builder serverSideEncryptionS3() {
            this.sseS3 = true;
            this.sseKmsKeyId = null;
            return this;
        }

        /** Asks the server to encrypt objects with a KMS key (SSE-KMS); needs an https endpoint. */
        public Builder serverSideEncryptionKms(String keyId) {
            Objects.requireNonNull(keyId, "keyId");
            if (keyId.isBlank()) {
                throw new IllegalArgumentException("the KMS key id is empty");
            }
            this.sseKmsKeyId = keyId;
            this.sseS3 = false;
            return this;
        }

        /** No server-side encryption requested (the default; the bucket's default encryption still applies). */
        public Builder noServerSideEncryption() {
            this.sseS3 = false;
            this.sseKmsKeyId = null;
            return this;
        }

        /** Connection timeout (10 s) and read/write timeout of one request (5 min). */
        public Builder timeouts(Duration connect, Duration request) {
            if (connect.isNegative() || connect.isZero() || request.isNegative() || request.isZero()) {
                throw new IllegalArgumentException("timeouts must be positive");
            }
            this.connectTimeout = connect;
            this.requestTimeout = request;
            return this;
        }

        /** The HTTP client to use (tests stage failures with interceptors); the sink's own by default. */
        Builder httpClient(okhttp3.OkHttpClient client) {
            this.httpClient = Objects.requireNonNull(client, "client");
            return this;
        }

        /** Builds the sink. No request is sent; call {@link MinioSink#checkBucket()} to check the settings. */
        public MinioSink build() {
            return create(copy());
        }

        @Override
        public String toString() {
            return "MinioSink.Builder{endpoint=" + endpoint + ", bucket=" + bucket + ", prefix=" + prefix
                    + ", accessKey=" + accessKey + ", secretKey=" + (secretKey == null ? "unset" : "***")
                    + ", region=" + region + ", " + describeSettings() + ", sse="
                    + (sseKmsKeyId != null ? "kms" : sseS3 ? "s3" : "none") + "}";
        }

        /** Clears the secret key held by this builder. */
        public void clearSecret() {
            if (secretKey != null) {
                Arrays.fill(secretKey, '\0');
            }
        }
    }
}

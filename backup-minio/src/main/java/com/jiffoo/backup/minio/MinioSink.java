package com.jiffoo.backup.minio;

import com.google.common.collect.HashMultimap;
import com.google.common.collect.Multimap;
import com.jiffoo.backup.BackupException;
import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.NotFoundException;
import com.jiffoo.backup.ObjectExistsException;
import com.jiffoo.backup.Sink;
import com.jiffoo.backup.SinkOutput;
import com.jiffoo.backup.StorageException;
import com.jiffoo.backup.StoredObject;
import com.jiffoo.backup.internal.Keys;
import io.minio.BucketExistsArgs;
import io.minio.GetObjectArgs;
import io.minio.ListObjectsArgs;
import io.minio.MinioAsyncClient;
import io.minio.RemoveObjectArgs;
import io.minio.RemoveObjectsArgs;
import io.minio.Result;
import io.minio.ServerSideEncryption;
import io.minio.ServerSideEncryptionKms;
import io.minio.ServerSideEncryptionS3;
import io.minio.StatObjectArgs;
import io.minio.StatObjectResponse;
import io.minio.errors.ErrorResponseException;
import io.minio.messages.DeleteError;
import io.minio.messages.DeleteObject;
import io.minio.messages.Item;
import io.minio.messages.ListMultipartUploadsResult;
import io.minio.messages.Upload;
import okhttp3.HttpUrl;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.ConnectException;
import java.net.NoRouteToHostException;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A {@link Sink} in a MinIO (or other S3-compatible) bucket, through the MinIO Java client. An object {@code a/b}
 * is stored under {@code prefix/a/b} in the bucket.
 *
 * <h2>Writing</h2>
 * {@link #create} returns a stream that buffers one part in memory. An object that fits in one part is sent with a
 * single PUT when {@link SinkOutput#commit()} is called. A larger object becomes a multipart upload: each full part
 * is uploaded in the background while the next one fills, at most {@link Builder#partsInFlight} at a time (the
 * writer blocks when that many are on their way), so memory is bounded by part size &times; (parts in flight + 1),
 * whatever the object's size. The part size doubles every 900 parts (see {@code PartSizes}) so that an object of
 * up to 5 TiB stays under S3's limit of 10,000 parts. {@code commit()} waits for the parts and completes the
 * upload; any failure, and a {@code close()} without {@code commit()}, aborts it, so no parts are left behind.
 * Each request is retried with exponential backoff on 5xx, throttling and connection failures (a part is replayable
 * because it is held in memory); client errors fail at once.
 *
 * <p><b>Write-once.</b> {@code commit()} asks for the key ({@code HEAD}) right before the PUT or the completion and
 * throws {@link ObjectExistsException} if it exists. That alone is check-then-act: two writers committing the same
 * key at the same instant could both pass it. So the PUT and the CompleteMultipartUpload also carry the conditional
 * header {@code If-None-Match: *} ({@link Builder#conditionalWrites}, on by default), which makes the server refuse
 * ({@code 412}) to create a key that exists: atomic on servers that honour it (AWS S3 since 2024, recent MinIO,
 * S3Proxy 4.1). A server that ignores the header leaves only the check; one that rejects it fails the write with
 * a message saying to turn conditional writes off.
 *
 * <h2>Reading, listing, deleting</h2>
 * {@link #open} streams the object ({@code GET}); a missing key is a {@link NotFoundException}. {@link #list}
 * walks the prefix recursively, page by page (1,000 keys a page), and returns only committed objects: parts of
 * unfinished multipart uploads are never listed. {@link #deleteAll} deletes in batches of up to 1,000 keys.
 *
 * <h2>Errors</h2>
 * Bad credentials, a missing bucket and an unreachable endpoint are reported as {@link ConfigurationException} or
 * {@link StorageException} with what to do; other store failures as {@link StorageException}. No message contains
 * the secret key (it is never sent over the wire either: requests are signed with AWS Signature V4).
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
 * <p>Thread-safe; each {@link SinkOutput} is for one writer. {@link #close()} stops the upload threads and the HTTP
 * client and is idempotent; outputs still open are not committed.
 */
public final class MinioSink implements Sink, AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(MinioSink.class);
    /** Default part size: 8 MiB. */
    public static final long DEFAULT_PART_SIZE = 8L * 1024 * 1024;
    /** Smallest part size S3 accepts: 5 MiB. */
    public static final long MIN_PART_SIZE = PartSizes.MIN_PART_SIZE;
    /** Default number of parts uploaded at the same time by one writer: 4. */
    public static final int DEFAULT_PARTS_IN_FLIGHT = 4;
    /** S3's maximum number of keys in one batched delete. */
    static final int DELETE_BATCH = 1000;
    /** Keys asked for per listing request (S3's maximum). */
    static final int LIST_PAGE = 1000;
    private static final AtomicInteger POOL = new AtomicInteger();

    private final Builder config;
    private final HttpUrl endpoint;
    private final String bucket;
    /** The prefix in the bucket, {@code ""} or ending with {@code /}. */
    private final String root;
    private final String region;
    private final ServerSideEncryption sse;
    private final Map<String, String> metadata;
    private final Retry retry;
    private final MinioAsyncClient client;
    private final ExecutorService uploads;
    private volatile boolean closed;

    private MinioSink(Builder b) {
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
        this.config = b.copy();
        this.endpoint = url;
        this.bucket = b.bucket;
        this.root = b.prefix.isEmpty() ? "" : b.prefix + "/";
        this.region = b.region;
        this.sse = b.sseKmsKeyId != null ? kms(b.sseKmsKeyId) : b.sseS3 ? new ServerSideEncryptionS3() : null;
        this.metadata = Map.copyOf(b.metadata);
        this.retry = new Retry(b.maxAttempts, b.retryBaseDelay, b.retryMaxDelay);
        MinioAsyncClient.Builder cb = MinioAsyncClient.builder()
                .endpoint(url)
                .region(region)
                .credentials(b.accessKey, new String(b.secretKey));
        if (b.httpClient != null) {
            cb.httpClient(b.httpClient);
        }
        this.client = cb.build();
        this.client.disableVirtualStyleEndpoint();
        this.client.setTimeout(b.connectTimeout.toMillis(), b.requestTimeout.toMillis(), b.requestTimeout.toMillis());
        int pool = POOL.incrementAndGet();
        AtomicInteger thread = new AtomicInteger();
        ThreadFactory tf = r -> {
            Thread t = new Thread(r, "minio-sink-" + pool + "-upload-" + thread.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
        // unbounded threads, but each writer holds at most partsInFlight tasks (a semaphore), so the total is
        // bounded by the number of concurrent writers x partsInFlight
        this.uploads = Executors.newCachedThreadPool(tf);
    }

    /** A builder with the defaults: 8 MiB parts, 4 in flight, region us-east-1, no SSE, 4 attempts a request. */
    public static Builder builder() {
        return new Builder();
    }

    /** A builder holding this sink's settings (including its credentials). */
    public Builder toBuilder() {
        return config.copy();
    }

    /** {@code minio://host:port/bucket/prefix}: no credentials. */
    @Override
    public String location() {
        String p = root.isEmpty() ? "" : "/" + root.substring(0, root.length() - 1);
        return "minio://" + endpoint.host() + ":" + endpoint.port() + "/" + bucket + p;
    }

    /** The bucket. */
    public String bucket() {
        return bucket;
    }

    /** The prefix in the bucket under which keys are stored, {@code ""} for none (no trailing {@code /}). */
    public String prefix() {
        return root.isEmpty() ? "" : root.substring(0, root.length() - 1);
    }

    /** Whether writes carry {@code If-None-Match: *} (see {@link Builder#conditionalWrites}). */
    public boolean conditionalWrites() {
        return config.conditionalWrites;
    }

    /** The configured (first) part size in bytes. */
    public long partSize() {
        return config.partSize;
    }

    /** How many parts one writer uploads at the same time. */
    public int partsInFlight() {
        return config.partsInFlight;
    }

    /**
     * Checks that the endpoint answers, the credentials are accepted and the bucket exists, for a clear error at
     * start-up rather than at the first write.
     *
     * @throws ConfigurationException for rejected credentials or a missing bucket
     * @throws StorageException when the endpoint cannot be reached
     */
    public void checkBucket() {
        boolean exists;
        try {
            exists = retry.run("check bucket " + bucket, () ->
                    client.bucketExists(BucketExistsArgs.builder().bucket(bucket).build()).get());
        } catch (Exception e) {
            throw translate(e, "check the bucket", null);
        }
        if (!exists) {
            throw missingBucket(null, null);
        }
    }

    @Override
    public SinkOutput create(String key) throws IOException {
        return create(key, Map.of());
    }

    /**
     * Like {@link #create(String)}, with user metadata for this object (stored as {@code x-amz-meta-*} headers,
     * added to the sink's {@link Builder#metadata}), e.g. the backup id. Metadata is sent when the upload starts, so
     * it cannot hold a digest of the data being written; the SHA-256 lives in the {@code .sha256} object and the
     * manifest.
     */
    @Override
    public SinkOutput create(String key, Map<String, String> objectMetadata) throws IOException {
        ensureOpen();
        String name = objectName(key);
        Map<String, String> meta = new LinkedHashMap<>(metadata);
        meta.putAll(checkMetadata(objectMetadata));
        return new MinioOutput(this, key, name, Map.copyOf(meta));
    }

    @Override
    public InputStream open(String key) throws IOException {
        ensureOpen();
        String name = objectName(key);
        InputStream in;
        try {
            in = retry.run("open " + key, () -> client.getObject(GetObjectArgs.builder()
                    .bucket(bucket).region(region).object(name).build()).get());
        } catch (Exception e) {
            throw translate(e, "open", key);
        }
        return new FilterInputStream(in) {
            @Override
            public int read() throws IOException {
                try {
                    return super.read();
                } catch (IOException e) {
                    throw readFailure(key, e);
                }
            }

            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                try {
                    return super.read(b, off, len);
                } catch (IOException e) {
                    throw readFailure(key, e);
                }
            }
        };
    }

    /** A ranged {@code GET}: only the bytes of the range are downloaded. */
    @Override
    public InputStream open(String key, long offset, long length) throws IOException {
        if (offset < 0 || length < 0) {
            throw new IllegalArgumentException("offset and length must not be negative: " + offset + ", " + length);
        }
        ensureOpen();
        if (length == 0) {
            return InputStream.nullInputStream();
        }
        String name = objectName(key);
        try {
            return retry.run("open " + key, () -> client.getObject(GetObjectArgs.builder().bucket(bucket)
                    .region(region).object(name).offset(offset).length(length).build()).get());
        } catch (Exception e) {
            throw translate(e, "open", key);
        }
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

    private IOException readFailure(String key, IOException e) {
        return new IOException("Reading " + key + " from " + location() + " failed: " + e
                + ". Check the network and run the restore again.", e);
    }

    /** The user metadata of a committed object ({@code x-amz-meta-*} names without the prefix, lower case). */
    public Map<String, String> metadataOf(String key) throws IOException {
        ensureOpen();
        String name = objectName(key);
        try {
            StatObjectResponse r = retry.run("stat " + key, () -> client.statObject(StatObjectArgs.builder()
                    .bucket(bucket).region(region).object(name).build()).get());
            return Map.copyOf(r.userMetadata());
        } catch (Exception e) {
            throw translate(e, "read the metadata of", key);
        }
    }

    @Override
    public List<StoredObject> list(String prefix) throws IOException {
        Objects.requireNonNull(prefix, "prefix");
        ensureOpen();
        List<StoredObject> out;
        try {
            // the client fetches the pages (1,000 keys each) lazily while iterating; a failed page restarts the
            // listing, which is idempotent
            out = retry.run("list '" + prefix + "'", () -> {
                List<StoredObject> objects = new ArrayList<>();
                for (Result<Item> r : client.listObjects(ListObjectsArgs.builder().bucket(bucket).region(region)
                        .prefix(root + prefix).recursive(true).maxKeys(LIST_PAGE).build())) {
                    Item item = r.get();
                    if (item.isDir() || !item.objectName().startsWith(root)) {
                        continue;
                    }
                    objects.add(new StoredObject(item.objectName().substring(root.length()), item.size(),
                            item.lastModified().toInstant()));
                }
                return objects;
            });
        } catch (Exception e) {
            throw translate(e, "list '" + prefix + "' in", null);
        }
        out.sort(Comparator.comparing(StoredObject::key));
        return out;
    }

    /**
     * The multipart uploads under this sink's root whose key starts with {@code prefix} and that were neither
     * completed nor aborted ({@code ListMultipartUploads}, paged): the id is the upload id, the last activity its
     * initiation time.
     */
    @Override
    public List<PartialWrite> partialWrites(String prefix) throws IOException {
        Objects.requireNonNull(prefix, "prefix");
        ensureOpen();
        try {
            return retry.run("list the open uploads of '" + prefix + "'", () -> {
                List<PartialWrite> out = new ArrayList<>();
                String keyMarker = null;
                String uploadIdMarker = null;
                ListMultipartUploadsResult page;
                do {
                    page = client.listMultipartUploadsAsync(bucket, region, null, null, keyMarker, LIST_PAGE,
                            root + prefix, uploadIdMarker, null, null).get().result();
                    for (Upload u : page.uploads()) {
                        if (u.objectName().startsWith(root)) {
                            out.add(new PartialWrite(u.objectName().substring(root.length()), u.uploadId(),
                                    u.initiated() != null ? u.initiated().toInstant() : java.time.Instant.EPOCH));
                        }
                    }
                    keyMarker = page.nextKeyMarker();
                    uploadIdMarker = page.nextUploadIdMarker();
                } while (page.isTruncated());
                return out;
            });
        } catch (Exception e) {
            if (Retry.unwrap(e) instanceof ErrorResponseException r && r.errorResponse() != null
                    && "NotImplemented".equals(r.errorResponse().code())) {
                log.warn("{} does not list open multipart uploads (ListMultipartUploads: NotImplemented); uploads "
                        + "left by killed runs cannot be found and discarded here: a bucket lifecycle rule that "
                        + "aborts incomplete uploads removes them", location());
                return List.of();
            }
            throw translate(e, "list the open uploads of '" + prefix + "' in", null);
        }
    }

    /** Aborts the multipart upload; one that is already gone is not an error. */
    @Override
    public void discard(PartialWrite write) throws IOException {
        ensureOpen();
        String name = objectName(write.key());
        try {
            retry.run("abort the upload of " + write.key(), () -> client.abortMultipartUploadAsync(bucket, region, name,
                    write.id(), null, null).get());
        } catch (Exception e) {
            if (Retry.unwrap(e) instanceof ErrorResponseException r && "NoSuchUpload".equals(r.errorResponse().code())) {
                return;
            }
            throw translate(e, "abort the upload " + write.id() + " of", write.key());
        }
    }

    @Override
    public void delete(String key) throws IOException {
        ensureOpen();
        String name = objectName(key);
        try {
            retry.run("delete " + key, () -> client.removeObject(RemoveObjectArgs.builder()
                    .bucket(bucket).region(region).object(name).build()).get());
        } catch (Exception e) {
            throw translate(e, "delete", key);
        }
    }

    /**
     * Deletes many objects with batched requests (up to 1,000 keys each). Absent keys are not an error.
     *
     * @throws StorageException naming the keys the store refused to delete (the others are deleted)
     */
    public void deleteAll(Collection<String> keys) throws IOException {
        ensureOpen();
        List<String> all = List.copyOf(keys);
        List<String> failed = new ArrayList<>();
        String firstError = null;
        for (int from = 0; from < all.size(); from += DELETE_BATCH) {
            List<DeleteObject> batch = new ArrayList<>();
            for (String key : all.subList(from, Math.min(all.size(), from + DELETE_BATCH))) {
                batch.add(new DeleteObject(objectName(key)));
            }
            // removeObjects is lazy: the request is sent while the result iterator is consumed
            Iterable<Result<DeleteError>> results = client.removeObjects(RemoveObjectsArgs.builder()
                    .bucket(bucket).region(region).objects(batch).build());
            try {
                for (Result<DeleteError> r : results) {
                    DeleteError err = r.get();
                    failed.add(err.objectName().substring(Math.min(root.length(), err.objectName().length())));
                    if (firstError == null) {
                        firstError = err.code() + ": " + err.message();
                    }
                }
            } catch (Exception e) {
                throw translate(e, "delete " + batch.size() + " objects from", null);
            }
        }
        if (!failed.isEmpty()) {
            throw new StorageException("The store refused to delete " + failed.size() + " of " + all.size()
                    + " objects in " + location() + " (first: " + failed.get(0) + ", " + firstError
                    + "). Check the user's delete permission and run the deletion again.", failed.get(0),
                    location(), null);
        }
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        uploads.shutdown();
        try {
            client.close();
        } catch (Exception e) {
            log.debug("closing the MinIO client of {} failed: {}", location(), e.toString());
        }
    }

    @Override
    public String toString() {
        return "MinioSink{" + location() + ", partSize=" + config.partSize + ", partsInFlight="
                + config.partsInFlight + "}";
    }

    // ---- used by MinioOutput ----

    MinioAsyncClient client() {
        return client;
    }

    Retry retry() {
        return retry;
    }

    ExecutorService uploads() {
        return uploads;
    }

    String region() {
        return region;
    }

    Optional<ServerSideEncryption> sse() {
        return Optional.ofNullable(sse);
    }

    /** Headers that start an upload: content type, SSE, user metadata. */
    Multimap<String, String> writeHeaders(Map<String, String> objectMetadata) {
        Multimap<String, String> h = HashMultimap.create();
        h.put("Content-Type", "application/octet-stream");
        if (sse != null) {
            sse.headers().forEach(h::put);
        }
        objectMetadata.forEach((k, v) -> h.put("x-amz-meta-" + k, v));
        return h;
    }

    /** True when a committed object has this name ({@code HEAD}); retried like any request. */
    boolean exists(String key, String name) throws Exception {
        try {
            retry.run("check whether " + key + " exists", () -> client.statObject(StatObjectArgs.builder()
                    .bucket(bucket).region(region).object(name).build()).get());
            return true;
        } catch (ErrorResponseException e) {
            String code = e.errorResponse() == null ? "" : e.errorResponse().code();
            if ("NoSuchKey".equals(code) || "NoSuchObject".equals(code)
                    || (e.response() != null && e.response().code() == 404 && !"NoSuchBucket".equals(code))) {
                return false;
            }
            throw e;
        }
    }

    void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("the MinIO sink for " + location() + " is closed");
        }
    }

    String objectName(String key) {
        Keys.check(key);
        return root + key;
    }

    /**
     * A {@link BackupException} (or {@link ObjectExistsException} passed through) that says what failed, where and
     * what to do, without the HTTP trace.
     */
    RuntimeException translate(Throwable failure, String action, String key) {
        Exception e = Retry.unwrap(failure);
        if (e instanceof BackupException be) {
            return be;
        }
        String what = key == null ? action + " " + location() : action + " " + key + " in " + location();
        if (e instanceof ErrorResponseException er && er.errorResponse() != null) {
            String code = er.errorResponse().code();
            switch (code == null ? "" : code) {
                case "NoSuchKey", "NoSuchObject" -> {
                    return new NotFoundException("No object '" + key + "' in " + location()
                            + ". List the store to see which backups exist.", key, location(), e);
                }
                case "NoSuchBucket" -> {
                    return missingBucket(key, e);
                }
                case "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken" -> {
                    return new ConfigurationException("The MinIO server at " + endpoint.host() + ":" + endpoint.port()
                            + " rejected the credentials (" + code + ") when trying to " + what
                            + ". Check the access key and the secret key.", key, location(), e);
                }
                case "RequestTimeTooSkewed" -> {
                    return new StorageException("The server at " + endpoint.host() + ":" + endpoint.port()
                            + " refused to " + what + " because this host's clock differs from the server's by more"
                            + " than 15 minutes (RequestTimeTooSkewed). "
                            + com.jiffoo.backup.internal.Support.HOST_CLOCK_ADVICE, key, location(), e);
                }
                case "NotImplemented" -> {
                    return new StorageException("The server at " + endpoint.host() + ":" + endpoint.port()
                            + " does not implement a request needed to " + what + " (" + Retry.describe(e)
                            + "). If it rejects conditional writes (If-None-Match), build the sink with "
                            + "conditionalWrites(false).", key, location(), e);
                }
                case "AccessDenied" -> {
                    return new ConfigurationException("Access denied when trying to " + what
                            + ". Check the credentials and that the user may read, write, list and delete in bucket '"
                            + bucket + "'.", key, location(), e);
                }
                default -> {
                    return new StorageException("Failed to " + what + ": " + Retry.describe(e)
                            + ". Check the MinIO server and run again.", key, location(), e);
                }
            }
        }
        if (e instanceof ConnectException || e instanceof UnknownHostException
                || e instanceof NoRouteToHostException || e instanceof SocketTimeoutException) {
            return new StorageException("Cannot reach the MinIO endpoint " + endpoint.scheme() + "://"
                    + endpoint.host() + ":" + endpoint.port() + " to " + what + " (" + e
                    + " after " + retry.maxAttempts() + " attempts). Check the endpoint URL, the network and that "
                    + "the server runs.", key, location(), e);
        }
        return new StorageException("Failed to " + what + ": " + Retry.describe(e)
                + ". Check the MinIO server and the network, and run again.", key, location(), e);
    }

    /** True for a 412 answer to {@code If-None-Match: *}: the key exists. */
    static boolean preconditionFailed(Throwable failure) {
        Exception e = Retry.unwrap(failure);
        return e instanceof ErrorResponseException er
                && ((er.response() != null && er.response().code() == 412)
                || (er.errorResponse() != null && "PreconditionFailed".equals(er.errorResponse().code())));
    }

    private static ServerSideEncryption kms(String keyId) {
        try {
            return new ServerSideEncryptionKms(keyId, null);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new ConfigurationException("Cannot use the KMS key id for SSE-KMS: " + e.getMessage(), e);
        }
    }

    private ConfigurationException missingBucket(String key, Throwable cause) {
        return new ConfigurationException("The bucket '" + bucket + "' does not exist at " + endpoint.scheme()
                + "://" + endpoint.host() + ":" + endpoint.port() + ". Create it (mc mb ALIAS/" + bucket
                + ") or fix the bucket name.", key, location(), cause);
    }

    private static Map<String, String> checkMetadata(Map<String, String> m) {
        Map<String, String> out = new LinkedHashMap<>();
        m.forEach((k, v) -> {
            Objects.requireNonNull(k, "metadata name");
            Objects.requireNonNull(v, "metadata value of " + k);
            if (!k.matches("[A-Za-z0-9][A-Za-z0-9-]*")) {
                throw new ConfigurationException("The metadata name '" + k
                        + "' is not allowed; use letters, digits and '-', e.g. backup-id.");
            }
            for (int i = 0; i < v.length(); i++) {
                char c = v.charAt(i);
                if (c < 0x20 || c > 0x7e) {
                    throw new ConfigurationException("The value of metadata '" + k
                            + "' must be printable ASCII (HTTP headers carry it).");
                }
            }
            out.put(k.toLowerCase(Locale.ROOT), v);
        });
        return out;
    }

    /**
     * Builds a {@link MinioSink}. Setters check their arguments; {@link #build()} checks that the endpoint, bucket
     * and credentials are set. Not thread-safe. {@link #toString()} never shows the secret key.
     */
    public static final class Builder {
        private String endpoint;
        private String bucket;
        private String prefix = "";
        private String accessKey;
        private char[] secretKey;
        private String region = "us-east-1";
        private long partSize = DEFAULT_PART_SIZE;
        private int partsInFlight = DEFAULT_PARTS_IN_FLIGHT;
        private boolean sseS3;
        private String sseKmsKeyId;
        private Map<String, String> metadata = Map.of();
        private int maxAttempts = 4;
        private Duration retryBaseDelay = Duration.ofMillis(200);
        private Duration retryMaxDelay = Duration.ofSeconds(10);
        private Duration connectTimeout = Duration.ofSeconds(10);
        private Duration requestTimeout = Duration.ofMinutes(5);
        private boolean conditionalWrites = true;
        private okhttp3.OkHttpClient httpClient;

        private Builder() {
        }

        private Builder copy() {
            Builder b = new Builder();
            b.endpoint = endpoint;
            b.bucket = bucket;
            b.prefix = prefix;
            b.accessKey = accessKey;
            b.secretKey = secretKey == null ? null : secretKey.clone();
            b.region = region;
            b.partSize = partSize;
            b.partsInFlight = partsInFlight;
            b.sseS3 = sseS3;
            b.sseKmsKeyId = sseKmsKeyId;
            b.metadata = metadata;
            b.maxAttempts = maxAttempts;
            b.retryBaseDelay = retryBaseDelay;
            b.retryMaxDelay = retryMaxDelay;
            b.connectTimeout = connectTimeout;
            b.requestTimeout = requestTimeout;
            b.conditionalWrites = conditionalWrites;
            b.httpClient = httpClient;
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
                throw new IllegalArgumentException("not a valid bucket name (3-63 lower-case letters, digits, "
                        + "'.' and '-'): " + bucket);
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
            return credentials(accessKey, Objects.requireNonNull(secretKey, "secretKey").toCharArray());
        }

        /** The region the bucket lives in; {@code us-east-1} by default (MinIO's default). */
        public Builder region(String region) {
            this.region = Objects.requireNonNull(region, "region");
            return this;
        }

        /**
         * The size of the first parts, and of the largest object sent with a single PUT: 8 MiB by default, at least
         * 5 MiB, at most 2047 MiB (one Java array). Memory per writer is at most this &times; (parts in flight + 1) until the object
         * passes 900 parts (then parts double).
         */
        public Builder partSize(long bytes) {
            if (bytes < PartSizes.MIN_PART_SIZE || bytes > PartSizes.MAX_PART_SIZE) {
                throw new IllegalArgumentException("part size must be between 5 MiB and 2047 MiB, got " + bytes);
            }
            this.partSize = bytes;
            return this;
        }

        /** How many parts one writer uploads at the same time: 4 by default, 1 to 64. */
        public Builder partsInFlight(int parts) {
            if (parts < 1 || parts > 64) {
                throw new IllegalArgumentException("parts in flight must be between 1 and 64, got " + parts);
            }
            this.partsInFlight = parts;
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

        /**
         * User metadata added to every object, e.g. {@code host}; names are letters, digits and {@code -}, values
         * printable ASCII. Never put secrets here.
         */
        public Builder metadata(Map<String, String> metadata) {
            this.metadata = Map.copyOf(checkMetadata(Objects.requireNonNull(metadata, "metadata")));
            return this;
        }

        /**
         * How often one request is tried in all (4 by default; 1 disables retries), and the backoff: the delay
         * before attempt n is random between half and all of {@code min(maxDelay, baseDelay * 2^(n-2))}.
         */
        public Builder retries(int maxAttempts, Duration baseDelay, Duration maxDelay) {
            if (maxAttempts < 1) {
                throw new IllegalArgumentException("maxAttempts must be at least 1, got " + maxAttempts);
            }
            if (baseDelay.isNegative() || maxDelay.compareTo(baseDelay) < 0) {
                throw new IllegalArgumentException("need 0 <= baseDelay <= maxDelay");
            }
            this.maxAttempts = maxAttempts;
            this.retryBaseDelay = baseDelay;
            this.retryMaxDelay = maxDelay;
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

        /**
         * Whether a commit sends {@code If-None-Match: *} so that the server itself refuses to replace an existing
         * key (on by default). Turn it off only for a server that rejects the header; write-once then rests on the
         * {@code HEAD} check alone (check-then-act, not atomic).
         */
        public Builder conditionalWrites(boolean enabled) {
            this.conditionalWrites = enabled;
            return this;
        }

        /** The HTTP client to use (tests stage failures with interceptors); the sink's own by default. */
        Builder httpClient(okhttp3.OkHttpClient client) {
            this.httpClient = Objects.requireNonNull(client, "client");
            return this;
        }

        /** Builds the sink. No request is sent; call {@link MinioSink#checkBucket()} to check the settings. */
        public MinioSink build() {
            return new MinioSink(this);
        }

        @Override
        public String toString() {
            return "MinioSink.Builder{endpoint=" + endpoint + ", bucket=" + bucket + ", prefix=" + prefix
                    + ", accessKey=" + accessKey + ", secretKey=" + (secretKey == null ? "unset" : "***")
                    + ", region=" + region + ", partSize=" + partSize + ", partsInFlight=" + partsInFlight
                    + ", sse=" + (sseKmsKeyId != null ? "kms" : sseS3 ? "s3" : "none") + "}";
        }

        /** Clears the secret key held by this builder. */
        public void clearSecret() {
            if (secretKey != null) {
                Arrays.fill(secretKey, '\0');
            }
        }
    }
}

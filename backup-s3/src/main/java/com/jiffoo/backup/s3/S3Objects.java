package com.jiffoo.backup.s3;

import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.Sink;
import com.jiffoo.backup.Sink.PartialWrite;
import com.jiffoo.backup.StoredObject;
import com.jiffoo.backup.store.multipart.ObjectStore;
import com.jiffoo.backup.store.multipart.PartBuffer;
import com.jiffoo.backup.store.multipart.StoreFailure;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;
import software.amazon.awssdk.core.ResponseInputStream;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.CompletedPart;
import software.amazon.awssdk.services.s3.model.CreateMultipartUploadRequest;
import software.amazon.awssdk.services.s3.model.Delete;
import software.amazon.awssdk.services.s3.model.HeadObjectResponse;
import software.amazon.awssdk.services.s3.model.MultipartUpload;
import software.amazon.awssdk.services.s3.model.ObjectIdentifier;
import software.amazon.awssdk.services.s3.model.ObjectLockEnabled;
import software.amazon.awssdk.services.s3.model.PutObjectRequest;
import software.amazon.awssdk.services.s3.model.S3Exception;
import software.amazon.awssdk.services.s3.model.S3Object;
import software.amazon.awssdk.services.s3.model.UploadPartResponse;

/** The S3 requests of an {@link S3Sink}, through the AWS SDK for Java v2. */
record S3Objects(
        S3Client s3,
        String bucket,
        String location,
        ServerSideEncryption sse,
        String storageClass,
        S3ObjectLock objectLock,
        AtomicReference<String> bucketLockState)
        implements ObjectStore {
    static final String NO_CREDENTIALS_HELP = "Unable to locate credentials for %s. Set AWS_ACCESS_KEY_ID and "
            + "AWS_SECRET_ACCESS_KEY, or AWS_PROFILE with a profile in ~/.aws/credentials, or run with an IAM role "
            + "(EC2 instance profile, ECS task role, EKS IRSA / pod identity).";
    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(S3Objects.class);
    private static final String OCTETS = "application/octet-stream";
    private static final String LOCK_ON = "on";
    private static final String LOCK_OFF = "off";
    private static final String LOCK_UNKNOWN = "unknown";

    S3Objects(
            S3Client s3,
            String bucket,
            String location,
            ServerSideEncryption sse,
            String storageClass,
            S3ObjectLock objectLock) {
        this(s3, bucket, location, sse, storageClass, objectLock, new AtomicReference<>());
    }

    @Override
    public String startUpload(String name, Map<String, String> metadata) throws IOException {
        CreateMultipartUploadRequest.Builder r = CreateMultipartUploadRequest.builder()
                .bucket(bucket)
                .key(name)
                .metadata(metadata)
                .contentType(OCTETS)
                .storageClass(storageClass);
        sse.mode().ifPresent(r::serverSideEncryption);
        sse.kmsKeyId().ifPresent(r::ssekmsKeyId);
        if (objectLock.enabled()) {
            checkBucketLock();
            r.objectLockMode(objectLock.mode().orElseThrow()).objectLockRetainUntilDate(retainUntil());
        }
        return sdk(() -> s3.createMultipartUpload(r.build()).uploadId());
    }

    @Override
    public UploadedPart uploadPart(String name, String uploadId, int number, PartBuffer part) throws IOException {
        String md5 = objectLock.enabled() ? contentMd5(part) : null;
        UploadPartResponse r = sdk(() -> s3.uploadPart(
                p -> p.bucket(bucket)
                        .key(name)
                        .uploadId(uploadId)
                        .partNumber(number)
                        .contentLength(part.size())
                        .contentMD5(md5),
                body(part)));
        Map<String, String> sums = new LinkedHashMap<>();
        putIfSet(sums, "CRC32", r.checksumCRC32());
        putIfSet(sums, "CRC32C", r.checksumCRC32C());
        putIfSet(sums, "CRC64NVME", r.checksumCRC64NVME());
        putIfSet(sums, "SHA1", r.checksumSHA1());
        putIfSet(sums, "SHA256", r.checksumSHA256());
        return new UploadedPart(number, r.eTag(), sums);
    }

    private static void putIfSet(Map<String, String> m, String k, String v) {
        if (v != null) {
            m.put(k, v);
        }
    }

    @Override
    public void completeUpload(String name, String uploadId, List<UploadedPart> parts, boolean ifNoneMatch)
            throws IOException {
        List<CompletedPart> done = parts.stream()
                .map(p -> CompletedPart.builder()
                        .partNumber(p.number())
                        .eTag(p.eTag())
                        .checksumCRC32(p.checksums().get("CRC32"))
                        .checksumCRC32C(p.checksums().get("CRC32C"))
                        .checksumCRC64NVME(p.checksums().get("CRC64NVME"))
                        .checksumSHA1(p.checksums().get("SHA1"))
                        .checksumSHA256(p.checksums().get("SHA256"))
                        .build())
                .toList();
        String version = sdk(() -> s3.completeMultipartUpload(r -> r.bucket(bucket)
                        .key(name)
                        .uploadId(uploadId)
                        .ifNoneMatch(ifNoneMatch ? "*" : null)
                        .multipartUpload(u -> u.parts(done))))
                .versionId();
        if (objectLock.enabled()) {
            // Ceph's RADOS Gateway (16) ignores the lock headers of CreateMultipartUpload and leaves the completed
            // object unlocked: set the retention on the version just made. Its date is now plus the period, never
            // before the one asked for at the start, so where the server did apply the headers this only extends
            // the lock, which S3 allows in both modes without further rights.
            Instant until = retainUntil();
            sdk(() -> s3.putObjectRetention(r -> r.bucket(bucket)
                    .key(name)
                    .versionId(version)
                    .retention(t ->
                            t.mode(objectLock.mode().orElseThrow().toString()).retainUntilDate(until))));
        }
    }

    @Override
    public void abortUpload(String name, String uploadId) throws IOException {
        sdk(() -> s3.abortMultipartUpload(r -> r.bucket(bucket).key(name).uploadId(uploadId)));
    }

    @Override
    public void put(String name, PartBuffer data, Map<String, String> metadata, boolean ifNoneMatch)
            throws IOException {
        PutObjectRequest.Builder r = PutObjectRequest.builder()
                .bucket(bucket)
                .key(name)
                .ifNoneMatch(ifNoneMatch ? "*" : null)
                .metadata(metadata)
                .contentType(OCTETS)
                .contentLength(data.size())
                .storageClass(storageClass);
        sse.mode().ifPresent(r::serverSideEncryption);
        sse.kmsKeyId().ifPresent(r::ssekmsKeyId);
        if (objectLock.enabled()) {
            checkBucketLock();
            r.objectLockMode(objectLock.mode().orElseThrow())
                    .objectLockRetainUntilDate(retainUntil())
                    .contentMD5(contentMd5(data));
        }
        sdk(() -> s3.putObject(r.build(), data.size() == 0 ? RequestBody.empty() : body(data)));
    }

    /** When a lock set now ends: now plus the lock's period, to the second. */
    private Instant retainUntil() {
        return Instant.now().plus(objectLock.period()).truncatedTo(ChronoUnit.SECONDS);
    }

    /**
     * The {@code Content-MD5} of a part or object (base64), which S3 requires on a write with Object Lock parameters
     * (PutObject) and on each part of an upload that has them, whatever the SDK's checksum settings.
     */
    private static String contentMd5(PartBuffer data) throws IOException {
        MessageDigest md5;
        try {
            md5 = MessageDigest.getInstance("MD5");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("this JVM has no MD5", e);
        }
        try (InputStream in = data.newInputStream()) {
            byte[] buffer = new byte[64 * 1024];
            for (int n; (n = in.read(buffer)) > 0; ) {
                md5.update(buffer, 0, n);
            }
        }
        return Base64.getEncoder().encodeToString(md5.digest());
    }

    /** With a lock asked for: that the bucket has Object Lock enabled, before the first write starts. */
    @Override
    public void checkWrites() throws IOException {
        if (objectLock.enabled()) {
            checkBucketLock();
        }
    }

    /**
     * Refuses to write with a lock into a bucket without Object Lock (S3 would refuse each write, or an
     * S3-compatible server might store the objects unlocked): asked once, before the sink's first write.
     */
    private void checkBucketLock() throws IOException {
        String state = bucketLockState.get();
        if (state == null || LOCK_UNKNOWN.equals(state)) {
            state = readBucketLock();
        }
        if (LOCK_ON.equals(state)) {
            return;
        }
        throw new ConfigurationException(
                LOCK_OFF.equals(state)
                        ? "Object Lock is asked for (" + objectLock + ", S3_OBJECT_LOCK) but the bucket '" + bucket
                                + "' does not have Object Lock enabled, so its objects could be deleted by anyone"
                                + " holding these credentials. Enable it on the bucket (aws s3api"
                                + " put-object-lock-configuration --bucket " + bucket
                                + " --object-lock-configuration ObjectLockEnabled=Enabled, or create the bucket with"
                                + " --object-lock-enabled-for-bucket), or unset S3_OBJECT_LOCK. Nothing was written."
                        : "Object Lock is asked for (" + objectLock + ", S3_OBJECT_LOCK) but these credentials may"
                                + " not read the Object Lock configuration of the bucket '" + bucket
                                + "' (access denied). Allow s3:GetBucketObjectLockConfiguration on it. Nothing was"
                                + " written.",
                null,
                location,
                null);
    }

    /** Reads whether the bucket has Object Lock enabled: on, off, or unknown (access denied); remembers it. */
    private String readBucketLock() throws IOException {
        String state;
        try {
            var c = sdk(() -> s3.getObjectLockConfiguration(g -> g.bucket(bucket)))
                    .objectLockConfiguration();
            state = c != null && c.objectLockEnabled() == ObjectLockEnabled.ENABLED ? LOCK_ON : LOCK_OFF;
        } catch (StoreFailure f) {
            // AWS: 404 ObjectLockConfigurationNotFoundError; S3Mock: 400 InvalidRequest "Bucket is missing Object
            // Lock Configuration"; S3Proxy: 501 NotImplemented (no Object Lock at all)
            if (f.status() == 403) {
                state = LOCK_UNKNOWN;
            } else if (!f.is("NoSuchBucket")
                    && ((f.status() >= 400 && f.status() < 500) || f.status() == 501 || f.is("NotImplemented"))) {
                state = LOCK_OFF;
            } else {
                throw f;
            }
        }
        bucketLockState.set(state);
        return state;
    }

    /**
     * The object's Object Lock retention (GetObjectRetention), when the bucket has Object Lock enabled (asked once;
     * when that may not be read, each object is asked). A legal hold is not read.
     */
    @Override
    public Optional<Sink.ObjectLock> lock(String name) throws IOException {
        String state = bucketLockState.get();
        if (state == null) {
            state = readBucketLock();
        }
        if (LOCK_OFF.equals(state)) {
            return Optional.empty();
        }
        try {
            var r = sdk(() -> s3.getObjectRetention(g -> g.bucket(bucket).key(name)))
                    .retention();
            if (r == null || r.mode() == null || r.retainUntilDate() == null) {
                return Optional.empty();
            }
            return Optional.of(new Sink.ObjectLock(r.modeAsString(), r.retainUntilDate()));
        } catch (StoreFailure f) {
            if (f.status() == 404
                    || f.status() == 501
                    || f.is("NoSuchObjectLockConfiguration")
                    || f.is("InvalidRequest")) {
                return Optional.empty(); // no such object, or no retention on it
            }
            if (f.status() == 403 && LOCK_UNKNOWN.equals(state)) {
                // neither the bucket's configuration nor the object's retention may be read: the credentials of a
                // prune written before Object Lock; go on as without locks rather than fail every prune
                log.warn(
                        "cannot tell whether objects in {} are locked: these credentials may read neither the bucket's"
                                + " Object Lock configuration nor an object's retention ({}); pruning as if nothing"
                                + " were locked. On a bucket with Object Lock, allow s3:GetBucketObjectLockConfiguration"
                                + " and s3:GetObjectRetention to the credentials that prune.",
                        location,
                        f.describe());
                bucketLockState.set(LOCK_OFF);
                return Optional.empty();
            }
            if (f.status() == 403) {
                throw new ConfigurationException(
                        "Cannot read the Object Lock retention of " + name + " in the bucket '" + bucket
                                + "', which has Object Lock enabled (access denied: " + f.describe()
                                + "), so a prune cannot tell whether it is locked. Allow s3:GetObjectRetention to the"
                                + " credentials that prune.",
                        name,
                        location,
                        f);
            }
            throw f;
        }
    }

    private static RequestBody body(PartBuffer part) {
        return RequestBody.fromContentProvider(part::newInputStream, part.size(), OCTETS);
    }

    @Override
    public Optional<ObjectHead> head(String name) throws IOException {
        try {
            HeadObjectResponse r = sdk(() -> s3.headObject(h -> h.bucket(bucket).key(name)));
            return Optional.of(new ObjectHead(r.contentLength(), r.eTag()));
        } catch (StoreFailure f) {
            if (f.status() == 404) {
                return Optional.empty();
            }
            throw f;
        }
    }

    @Override
    public InputStream get(String name, long offset, long length) throws IOException {
        String range = length < 0
                ? (offset == 0 ? null : "bytes=" + offset + "-")
                : "bytes=" + offset + "-" + (offset + length - 1);
        return new AbortingStream(
                sdk(() -> s3.getObject(r -> r.bucket(bucket).key(name).range(range))));
    }

    @Override
    public List<StoredObject> list(String prefix) throws IOException {
        return sdk(() -> s3.listObjectsV2Paginator(r -> r.bucket(bucket).prefix(prefix)).contents().stream()
                .map((S3Object o) -> new StoredObject(o.key(), o.size(), o.lastModified()))
                .toList());
    }

    @Override
    public List<PartialWrite> listUploads(String prefix) throws IOException {
        return sdk(() -> s3.listMultipartUploadsPaginator(r -> r.bucket(bucket).prefix(prefix)).uploads().stream()
                .map((MultipartUpload u) ->
                        new PartialWrite(u.key(), u.uploadId(), u.initiated() != null ? u.initiated() : Instant.EPOCH))
                .toList());
    }

    @Override
    public void delete(String name) throws IOException {
        sdk(() -> s3.deleteObject(r -> r.bucket(bucket).key(name)));
    }

    @Override
    public List<String> deleteBatch(List<String> names) throws IOException {
        List<ObjectIdentifier> ids = names.stream()
                .map(n -> ObjectIdentifier.builder().key(n).build())
                .toList();
        return sdk(() -> s3
                .deleteObjects(d -> d.bucket(bucket)
                        .delete(Delete.builder().objects(ids).quiet(true).build()))
                .errors()
                .stream()
                .map(e -> e.key() + " (" + e.code() + ": " + e.message() + ")")
                .toList());
    }

    /** Runs an SDK call, turning its failures into an {@link ObjectStore}'s. */
    private <T> T sdk(Supplier<T> call) throws IOException {
        try {
            return call.get();
        } catch (SdkException e) {
            throw failure(e, location);
        }
    }

    /** An S3 answer as a {@link StoreFailure}; no answer as an IOException; missing settings as configuration. */
    static IOException failure(SdkException e, String location) {
        if (e instanceof S3Exception s) {
            var details = s.awsErrorDetails();
            return new StoreFailure(
                    s.statusCode(),
                    details == null ? null : details.errorCode(),
                    details != null && details.errorMessage() != null
                            ? details.errorMessage()
                            : String.valueOf(s.getMessage()),
                    s.requestId(),
                    s);
        }
        String message = String.valueOf(e.getMessage());
        if (message.contains("Unable to load credentials") || message.contains("Unable to locate credentials")) {
            throw new ConfigurationException(String.format(NO_CREDENTIALS_HELP, location), null, location, e);
        }
        if (message.contains("Unable to load region")) {
            throw new ConfigurationException(
                    "No AWS region for " + location + ". Set AWS_REGION, a region in "
                            + "the profile, or the sink's region.",
                    null,
                    location,
                    e);
        }
        return new IOException(message, e);
    }

    /**
     * Closing an SDK response stream before its end reads (downloads) the rest of the object so the connection can
     * be reused; a reader that stops early (the monitor's key check reads 64 KiB, a restore that fails) must not
     * download gigabytes, so closing before the end aborts the connection instead.
     */
    static final class AbortingStream extends FilterInputStream {
        private final ResponseInputStream<?> response;
        private boolean ended;

        AbortingStream(ResponseInputStream<?> response) {
            super(response);
            this.response = response;
        }

        @Override
        public int read() throws IOException {
            int b = super.read();
            ended |= b < 0;
            return b;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            int n = super.read(b, off, len);
            ended |= n < 0;
            return n;
        }

        @Override
        public void close() throws IOException {
            if (!ended) {
                response.abort();
            }
            super.close();
        }
    }
}

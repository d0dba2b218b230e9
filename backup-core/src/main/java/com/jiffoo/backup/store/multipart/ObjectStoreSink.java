package com.jiffoo.backup.store.multipart;

import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.Sink;
import com.jiffoo.backup.SinkOutput;
import com.jiffoo.backup.StorageException;
import com.jiffoo.backup.StoredObject;
import com.jiffoo.backup.internal.Keys;
import com.jiffoo.backup.internal.Support;
import java.io.IOException;
import java.io.InputStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A {@link Sink} in a bucket of an S3-like store, written once over an {@link ObjectStore} that a store module
 * implements with its client (S3, MinIO). An object {@code a/b} is the object {@code prefix/a/b} in the bucket.
 *
 * <p><b>Writes</b> take a stream of unknown length. Bytes are buffered in memory one part at a time; a stream that
 * ends within the first part is stored with one {@code PutObject} at {@link SinkOutput#commit()}, a longer one as a
 * multipart upload whose parts upload in the background while the next part fills.
 * <ul>
 * <li><b>Memory:</b> one writer holds at most {@code partSize x partsInFlight} bytes of parts, the part being filled
 *     included (so up to {@code partsInFlight - 1} parts upload while the next fills); the writer waits when that is
 *     taken, whatever the object's size.
 * <li><b>Part sizes:</b> parts keep the configured size up to part 1,000, then double every 1,000 parts up to S3's
 *     5 GiB part limit, so a stream up to S3's 5 TiB object limit never needs more than S3's 10,000 parts; a part
 *     larger than the memory bound (past {@code 1,000 x partSize} bytes) is then buffered alone.
 * <li><b>Retries:</b> each request is tried up to {@link Builder#maxAttempts} times with exponential backoff and
 *     jitter on 5xx, 429, throttling and connection failures (a part is in memory, so a retry re-sends it); other
 *     answers fail at once.
 * <li><b>Write-once:</b> {@code commit()} asks for the key ({@code HeadObject}) right before the {@code PutObject}
 *     or {@code CompleteMultipartUpload} and sends that request with {@code If-None-Match: *}
 *     ({@link Builder#conditionalWrites}, on by default), so a server that honours it refuses (412) atomically to
 *     replace an object; either way {@link com.jiffoo.backup.ObjectExistsException} is thrown.
 * <li><b>A lost answer:</b> when a retry of the {@code PutObject} or the completion is refused (412, or
 *     {@code NoSuchUpload}) because the first attempt worked but its answer was lost, the object is accepted only if
 *     its {@code HeadObject} shows our size and our ETag (the MD5 of our bytes, or of our parts' MD5s {@code -N}).
 * <li><b>Failures:</b> any failure and a {@code close()} without commit abort the upload after its parts in flight
 *     end, so no parts stay billed (an abort that fails is reported with its upload id; a bucket lifecycle rule
 *     {@code AbortIncompleteMultipartUpload} is the backstop).
 * </ul>
 *
 * <p>Errors are mapped once for every store: credentials, a missing bucket, a skewed host clock, an unreachable
 * endpoint each get a message saying what to do; no message holds a secret.
 *
 * <p>Thread-safe; concurrent writers each have their own memory bound. {@link #close()} stops the upload threads,
 * wakes writers waiting for a part, gives open writers up to 30 s to abort their uploads, then closes the client.
 */
public abstract class ObjectStoreSink implements Sink {
    private static final Logger log = LoggerFactory.getLogger(ObjectStoreSink.class);
    /** The default part size, 8 MiB. */
    public static final long DEFAULT_PART_SIZE = 8L << 20;
    /** The smallest part size S3 accepts, 5 MiB. */
    public static final long MIN_PART_SIZE = PartSizes.MIN_PART;
    /** The largest part size S3 accepts, 5 GiB. */
    public static final long MAX_PART_SIZE = PartSizes.MAX_PART;
    /** The default number of parts one writer holds at once (filling or uploading), 4. */
    public static final int DEFAULT_PARTS_IN_FLIGHT = 4;
    /** The default number of attempts of each request (the first and up to 4 retries). */
    public static final int DEFAULT_MAX_ATTEMPTS = 5;

    private static final int DELETE_BATCH = 1_000;
    private static final AtomicInteger POOLS = new AtomicInteger();

    final ObjectStore store;
    final long partSize;
    final int partsInFlight;
    final boolean conditionalWrites;
    final Retry retry;
    final StoreErrors errors;
    final ExecutorService uploads;
    final Set<MultipartOutput> live = ConcurrentHashMap.newKeySet();
    volatile boolean closing;
    private final Map<String, String> metadata;
    private final int maxAttempts;
    private final String bucket;
    private final String root;
    private final String location;
    private final com.jiffoo.backup.store.BucketLocation bucketLocation;

    /**
     * A sink over {@code store}.
     *
     * @param settings the upload settings
     * @param store    the store's requests
     * @param service  the store's name in messages, e.g. {@code S3}, {@code MinIO}
     * @param endpoint where the store is, for messages, e.g. {@code http://127.0.0.1:9000}
     * @param location what {@link #location()} returns
     * @param bucket   the bucket
     * @param prefix   the prefix of every object name, {@code ""} or ending with {@code /}
     */
    protected ObjectStoreSink(
            Builder<?> settings,
            ObjectStore store,
            String service,
            String endpoint,
            String location,
            String bucket,
            String prefix) {
        this.store = Objects.requireNonNull(store, "store");
        this.partSize = settings.partSize;
        this.partsInFlight = settings.partsInFlight;
        this.conditionalWrites = settings.conditionalWrites;
        this.metadata = settings.metadata;
        this.maxAttempts = settings.maxAttempts;
        this.retry = new Retry(settings.maxAttempts, settings.retryBaseDelay, settings.retryMaxDelay);
        this.errors = new StoreErrors(service, endpoint, location, bucket);
        this.bucket = bucket;
        this.root = prefix;
        this.location = location;
        this.bucketLocation = com.jiffoo.backup.store.BucketLocation.of(endpoint, bucket, prefix);
        int pool = POOLS.incrementAndGet();
        AtomicInteger thread = new AtomicInteger();
        // each writer has at most partsInFlight parts on their way (its memory bound), so the threads are bounded
        // by the writers x partsInFlight
        this.uploads = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "store-upload-" + pool + "-" + thread.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        long bound = partSize * partsInFlight;
        if (bound > Runtime.getRuntime().maxMemory() / 2) {
            log.warn(
                    "the parts of one upload to {} may take {} MiB ({} MiB parts x {} in flight), more than half of"
                            + " the {} MiB heap: lower partSize or partsInFlight, or raise -Xmx",
                    location,
                    bound >> 20,
                    partSize >> 20,
                    partsInFlight,
                    Runtime.getRuntime().maxMemory() >> 20);
        }
    }

    /** A request to the store, run by {@link #call}. */
    @FunctionalInterface
    protected interface Request<T> {
        /** Sends the request. */
        T send() throws IOException;
    }

    @Override
    public final String location() {
        return location;
    }

    /** The endpoint it was built with, the bucket and the prefix. */
    @Override
    public final Optional<com.jiffoo.backup.store.BucketLocation> bucketLocation() {
        return Optional.of(bucketLocation);
    }

    /** The bucket. */
    public final String bucket() {
        return bucket;
    }

    /** The prefix in the bucket under which keys are stored, {@code ""} for none (no trailing {@code /}). */
    public final String prefix() {
        return root.isEmpty() ? "" : root.substring(0, root.length() - 1);
    }

    /** The configured base part size in bytes. */
    public final long partSize() {
        return partSize;
    }

    /** The configured number of parts one writer holds at once (filling or uploading). */
    public final int partsInFlight() {
        return partsInFlight;
    }

    /** The configured number of attempts of each request. */
    public final int maxAttempts() {
        return maxAttempts;
    }

    /** Whether commits send {@code If-None-Match: *} (see {@link Builder#conditionalWrites}). */
    public final boolean conditionalWrites() {
        return conditionalWrites;
    }

    /** The object name of a key (checked). */
    protected final String name(String key) {
        return root + Keys.check(key);
    }

    /**
     * Sends {@code request}, retrying what is retryable, and maps a failure to the library's exceptions.
     *
     * @param what what the request does, for messages, e.g. {@code "read of"}
     * @param key  the key it is about, or null
     */
    protected final <T> T call(String what, String key, Request<T> request) {
        try {
            return retry.run(what + (key == null ? "" : " " + key), request);
        } catch (IOException | RuntimeException e) {
            throw errors.map(e, what, key);
        }
    }

    /** The exception saying the bucket does not exist. */
    protected final ConfigurationException missingBucket() {
        return errors.missingBucket();
    }

    @Override
    public final SinkOutput create(String key) {
        return create(key, Map.of());
    }

    /**
     * Starts writing a new object with user metadata ({@code x-amz-meta-*}) in addition to the sink's
     * {@link Builder#metadata(Map)}, e.g. a backup id.
     */
    @Override
    public final SinkOutput create(String key, Map<String, String> objectMetadata) {
        ensureOpen();
        call("check before writing", key, () -> {
            store.checkWrites();
            return null;
        });
        Map<String, String> all = new LinkedHashMap<>(metadata);
        all.putAll(checkMetadata(objectMetadata));
        MultipartOutput out = new MultipartOutput(this, key, name(key), Map.copyOf(all));
        live.add(out);
        return out;
    }

    @Override
    public final InputStream open(String key) {
        ensureOpen();
        String name = name(key);
        return call("read of", key, () -> store.get(name, 0, -1));
    }

    /** A ranged {@code GetObject}: only the bytes of the range are downloaded. */
    @Override
    public final InputStream open(String key, long offset, long length) {
        Support.checkRange(offset, length);
        ensureOpen();
        String name = name(key);
        return length == 0
                ? InputStream.nullInputStream()
                : call("read of", key, () -> store.get(name, offset, length));
    }

    @Override
    public final List<StoredObject> list(String prefix) {
        Objects.requireNonNull(prefix, "prefix");
        ensureOpen();
        List<StoredObject> out = new ArrayList<>();
        for (StoredObject o :
                call("listing of", prefix.isEmpty() ? null : prefix + "*", () -> store.list(root + prefix))) {
            if (o.key().startsWith(root) && !o.key().endsWith("/")) { // not a "directory" marker of a console
                out.add(new StoredObject(o.key().substring(root.length()), o.size(), o.lastModified()));
            }
        }
        out.sort(Comparator.comparing(StoredObject::key));
        return out;
    }

    /**
     * The multipart uploads under this sink's prefix whose key starts with {@code prefix} and that were neither
     * completed nor aborted: the id is the upload id, the last activity its initiation time. A store that does not
     * list uploads (501, {@code NotImplemented}) has none to show: a warning says so.
     */
    @Override
    public final List<PartialWrite> partialWrites(String prefix) {
        Objects.requireNonNull(prefix, "prefix");
        ensureOpen();
        List<PartialWrite> uploads;
        try {
            uploads = retry.run("listing of the open uploads", () -> store.listUploads(root + prefix));
        } catch (IOException | RuntimeException e) {
            if (e instanceof StoreFailure f && (f.status() == 501 || f.is("NotImplemented"))) {
                log.warn(
                        "{} does not list open multipart uploads (ListMultipartUploads: {}); uploads left by killed "
                                + "runs cannot be found and discarded here: a bucket lifecycle rule "
                                + "AbortIncompleteMultipartUpload removes them",
                        location,
                        f.describe());
                return List.of();
            }
            throw errors.map(e, "listing of the open multipart uploads of", prefix.isEmpty() ? null : prefix + "*");
        }
        List<PartialWrite> out = new ArrayList<>();
        for (PartialWrite u : uploads) {
            if (u.key().startsWith(root)) {
                out.add(new PartialWrite(u.key().substring(root.length()), u.id(), u.lastActivity()));
            }
        }
        return out;
    }

    /** Aborts the multipart upload; one that is already gone is not an error. */
    @Override
    public final void discard(PartialWrite write) {
        ensureOpen();
        String name = name(write.key());
        try {
            retry.run("abort of " + write.id(), () -> {
                store.abortUpload(name, write.id());
                return null;
            });
        } catch (IOException | RuntimeException e) {
            if (!(e instanceof StoreFailure f && f.is("NoSuchUpload"))) {
                throw errors.map(e, "abort of the open multipart upload " + write.id() + " of", write.key());
            }
        }
    }

    @Override
    public final void delete(String key) {
        ensureOpen();
        String name = name(key);
        call("delete of", key, () -> {
            store.delete(name);
            return null;
        });
    }

    /** The store's lock on the object ({@link Sink#lock}), e.g. an S3 Object Lock retention still running. */
    @Override
    public final Optional<ObjectLock> lock(String key) {
        ensureOpen();
        String name = name(key);
        return call("lock check of", key, () -> store.lock(name));
    }

    /**
     * Deletes objects in batches of 1,000 ({@code DeleteObjects}). Absent keys are not an error.
     *
     * @throws StorageException naming the first key the store refused to delete, after trying all of them
     */
    public final void deleteAll(Collection<String> keys) {
        ensureOpen();
        List<String> all = List.copyOf(keys);
        List<String> failed = new ArrayList<>();
        for (int from = 0; from < all.size(); from += DELETE_BATCH) {
            List<String> batch = all.subList(from, Math.min(all.size(), from + DELETE_BATCH)).stream()
                    .map(this::name)
                    .toList();
            failed.addAll(call("delete of " + batch.size() + " objects from", null, () -> store.deleteBatch(batch)));
        }
        if (!failed.isEmpty()) {
            String first = failed.get(0).startsWith(root) ? failed.get(0).substring(root.length()) : failed.get(0);
            throw new StorageException(
                    "The store refused to delete " + failed.size() + " of " + all.size()
                            + " objects in " + location + ", first " + first
                            + ". Check the delete permission and run the "
                            + "deletion again.",
                    null,
                    location,
                    null);
        }
    }

    /**
     * Stops the upload threads and closes the client. Idempotent. Writers still open fail: a writer waiting for a
     * part wakes with an IOException, parts in flight are interrupted, and open writers get up to 30 s to abort their
     * multipart uploads (while the client still works) before it closes.
     */
    @Override
    public final void close() {
        if (closing) {
            return;
        }
        closing = true;
        for (MultipartOutput out : live) {
            out.budget.close();
        }
        for (Runnable queued : uploads.shutdownNow()) {
            if (queued instanceof Future<?> f) {
                f.cancel(false);
            }
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!live.isEmpty() && System.nanoTime() < deadline) {
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        if (!live.isEmpty()) {
            log.warn(
                    "{} writer(s) of {} were still open when the sink closed; their multipart uploads may stay open"
                            + " until a bucket lifecycle rule aborts them",
                    live.size(),
                    location);
        }
        closeClient();
    }

    /** Closes the store's client; called once by {@link #close()}. */
    protected abstract void closeClient();

    private void ensureOpen() {
        if (closing) {
            throw new IllegalStateException("the sink for " + location + " is closed");
        }
    }

    /** Checks user metadata: names of letters, digits and {@code -} (made lower case), printable ASCII values. */
    static Map<String, String> checkMetadata(Map<String, String> m) {
        Map<String, String> out = new LinkedHashMap<>();
        m.forEach((k, v) -> {
            Objects.requireNonNull(k, "metadata name");
            Objects.requireNonNull(v, "metadata value of " + k);
            if (!k.matches("[A-Za-z0-9][A-Za-z0-9-]*")) {
                throw new ConfigurationException(
                        "The metadata name '" + k + "' is not allowed; use letters, digits and '-', e.g. backup-id.");
            }
            if (!v.chars().allMatch(c -> c >= 0x20 && c <= 0x7e)) {
                throw new ConfigurationException(
                        "The value of metadata '" + k + "' must be printable ASCII (HTTP headers carry it).");
            }
            out.put(k.toLowerCase(Locale.ROOT), v);
        });
        return out;
    }

    /**
     * The settings every S3-like store's builder shares, under the same names: part size, parts in flight (the
     * memory bound), retries, conditional writes, metadata. Setters check their arguments. Not thread-safe.
     *
     * @param <B> the store's builder
     */
    public abstract static class Builder<B extends Builder<B>> implements Cloneable {
        private long partSize = DEFAULT_PART_SIZE;
        private int partsInFlight = DEFAULT_PARTS_IN_FLIGHT;
        private int maxAttempts = DEFAULT_MAX_ATTEMPTS;
        private Duration retryBaseDelay = Duration.ofMillis(200);
        private Duration retryMaxDelay = Duration.ofSeconds(10);
        private boolean conditionalWrites = true;
        private Map<String, String> metadata = Map.of();

        /** A builder with the defaults. */
        protected Builder() {}

        @SuppressWarnings("unchecked")
        private B self() {
            return (B) this;
        }

        /** A copy of this builder, for {@code toBuilder()}; a store's builder deep-copies its mutable fields. */
        @SuppressWarnings("unchecked")
        public B copy() {
            try {
                return (B) clone();
            } catch (CloneNotSupportedException e) {
                throw new AssertionError(e);
            }
        }

        /**
         * The size of upload parts in bytes (the first 1,000; then they grow), and of the largest object sent with
         * a single PUT: 5 MiB to 5 GiB, default 8 MiB.
         */
        public final B partSize(long bytes) {
            if (bytes < MIN_PART_SIZE || bytes > MAX_PART_SIZE) {
                throw new IllegalArgumentException("part size must be between 5 MiB and 5 GiB, got " + bytes);
            }
            this.partSize = bytes;
            return self();
        }

        /**
         * Parts one writer holds at once, the one being filled included (1 to 64), default 4: a writer's memory is
         * at most {@code partSize x partsInFlight}.
         */
        public final B partsInFlight(int parts) {
            if (parts < 1 || parts > 64) {
                throw new IllegalArgumentException("parts in flight must be between 1 and 64, got " + parts);
            }
            this.partsInFlight = parts;
            return self();
        }

        /** Attempts of each request including retries (1 to 20; 1 disables retries), default 5. */
        public final B maxAttempts(int attempts) {
            if (attempts < 1 || attempts > 20) {
                throw new IllegalArgumentException("max attempts must be between 1 and 20, got " + attempts);
            }
            this.maxAttempts = attempts;
            return self();
        }

        /**
         * The backoff between attempts: the delay before attempt n is random between half and all of
         * {@code min(maxDelay, baseDelay x 2^(n-2))}. Default 200 ms and 10 s.
         */
        public final B retryDelays(Duration baseDelay, Duration maxDelay) {
            if (baseDelay.isNegative() || maxDelay.compareTo(baseDelay) < 0) {
                throw new IllegalArgumentException("need 0 <= baseDelay <= maxDelay");
            }
            this.retryBaseDelay = baseDelay;
            this.retryMaxDelay = maxDelay;
            return self();
        }

        /**
         * Whether a commit sends {@code If-None-Match: *} so that the server itself refuses to replace an existing
         * key (on by default). Turn it off only for a server that rejects the header; write-once then rests on the
         * {@code HeadObject} check alone (check-then-act, not atomic).
         */
        public final B conditionalWrites(boolean enabled) {
            this.conditionalWrites = enabled;
            return self();
        }

        /**
         * User metadata ({@code x-amz-meta-*}) put on every new object, e.g. {@code host}: names of letters, digits
         * and {@code -}, printable ASCII values. Never put secrets here.
         */
        public final B metadata(Map<String, String> metadata) {
            this.metadata = Map.copyOf(checkMetadata(Objects.requireNonNull(metadata, "metadata")));
            return self();
        }

        /** {@code partSize=..., partsInFlight=..., maxAttempts=...}, for a builder's {@code toString()}. */
        protected final String describeSettings() {
            return "partSize=" + partSize + ", partsInFlight=" + partsInFlight + ", maxAttempts=" + maxAttempts;
        }
    }
}

package com.jiffoo.backup.store.multipart;

import com.jiffoo.backup.Sink;
import com.jiffoo.backup.StoredObject;
import java.io.IOException;
import java.io.InputStream;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The few S3 requests an {@link ObjectStoreSink} is built on, with no vendor type in sight: an S3 SDK or the MinIO
 * client implements it in a page, and {@link ObjectStoreSink} adds everything else once (part sizes, the memory
 * bound, retries, write-once, the lost-answer rule, the error messages). Names are full object names in the bucket
 * (the sink's prefix included).
 *
 * <p>Failures: an answer of the store is a {@link StoreFailure} (its HTTP status and S3 error code); no answer (a
 * connection refused or reset, a timeout) is any other {@link IOException}; a local configuration problem (no
 * credentials found) may be a {@link com.jiffoo.backup.ConfigurationException}. An implementation does not retry:
 * the sink retries what is retryable. Implementations are thread-safe: parts upload in parallel.
 */
public interface ObjectStore {

    /** Starts a multipart upload ({@code CreateMultipartUpload}) and returns its upload id. */
    String startUpload(String name, Map<String, String> metadata) throws IOException;

    /** Uploads part {@code number} (1-based); {@code part} can be read again for a retry. */
    UploadedPart uploadPart(String name, String uploadId, int number, PartBuffer part) throws IOException;

    /**
     * Completes an upload from its parts in order; with {@code ifNoneMatch} the request carries
     * {@code If-None-Match: *} so the store refuses (412) to replace an existing object.
     */
    void completeUpload(String name, String uploadId, List<UploadedPart> parts, boolean ifNoneMatch) throws IOException;

    /** Aborts an upload ({@code AbortMultipartUpload}), freeing its parts. */
    void abortUpload(String name, String uploadId) throws IOException;

    /** Stores a whole object with one {@code PutObject}; {@code ifNoneMatch} as for {@link #completeUpload}. */
    void put(String name, PartBuffer data, Map<String, String> metadata, boolean ifNoneMatch) throws IOException;

    /** The size and ETag of an object ({@code HeadObject}), empty when there is none. */
    Optional<ObjectHead> head(String name) throws IOException;

    /** Opens {@code length} bytes from {@code offset} ({@code length < 0}: to the end), a ranged {@code GetObject}. */
    InputStream get(String name, long offset, long length) throws IOException;

    /** Every object whose name starts with {@code prefix}, in any order, names in full. */
    List<StoredObject> list(String prefix) throws IOException;

    /** The multipart uploads not completed nor aborted whose name starts with {@code prefix}, names in full. */
    List<Sink.PartialWrite> listUploads(String prefix) throws IOException;

    /** Deletes an object; an absent one is not an error. */
    void delete(String name) throws IOException;

    /**
     * Checks, when a write starts ({@link ObjectStoreSink#create}), what would make every write fail or go wrong as
     * configured (an S3 store asked to lock objects: that the bucket has Object Lock), so that a backup is refused
     * before it streams; by default nothing. A store remembers what it found.
     *
     * @throws com.jiffoo.backup.ConfigurationException naming what to change
     */
    default void checkWrites() throws IOException {}

    /**
     * The lock that keeps the store from deleting {@code name} now ({@link Sink#lock}); empty by default (stores
     * without object locks).
     */
    default Optional<Sink.ObjectLock> lock(String name) throws IOException {
        return Optional.empty();
    }

    /**
     * Deletes up to 1,000 objects with one request ({@code DeleteObjects}) and returns the ones the store refused,
     * each as {@code "name (code: message)"}.
     */
    List<String> deleteBatch(List<String> names) throws IOException;

    /**
     * Whether parts should be single arrays ({@link PartBuffer#array()}) for a client that sends arrays without
     * copying them; by default (false) they are 256 KiB chunks, which a large part needs in a small heap.
     */
    default boolean contiguousParts() {
        return false;
    }

    /** What an object's head holds: its size in bytes and its ETag (quotes allowed). */
    record ObjectHead(long size, String eTag) {}

    /** A part uploaded: its number, its ETag and the checksums the store returned (algorithm name to value). */
    record UploadedPart(int number, String eTag, Map<String, String> checksums) {
        /** Copies the checksums. */
        public UploadedPart {
            checksums = Map.copyOf(checksums);
        }
    }
}

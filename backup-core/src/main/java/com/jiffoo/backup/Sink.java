package com.jiffoo.backup;

import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.util.List;

/**
 * Where backups live: a local directory, an S3 bucket, a MinIO bucket.
 *
 * <p>Keys are relative, {@code /}-separated paths such as {@code files/files_backup_20260111_030000.tar.gz.gpg};
 * a sink maps them under its own root or prefix. A key never starts with {@code /} and never has a {@code .} or
 * {@code ..} segment.
 *
 * <p>Visibility: an object written with {@link #create} becomes visible to {@link #open} and {@link #list} only
 * once {@link SinkOutput#commit()} returns; closing the output without committing discards it, leaving nothing
 * visible (no partial file, no open multipart upload).
 *
 * <p>Implementations are thread-safe. {@link #close()} frees clients and connections and is idempotent.
 */
public interface Sink extends Closeable {

    /** Where this sink stores, for logs and errors: {@code file:/var/backups/jiffoo}, {@code s3://bucket/prefix}. */
    String location();

    /**
     * Starts writing a new object. Objects are write-once: {@link SinkOutput#commit()} throws
     * {@link ObjectExistsException} when a committed object of that key exists (delete it first to replace it).
     */
    SinkOutput create(String key) throws IOException;

    /**
     * Starts writing a new object with user metadata (S3 {@code x-amz-meta-*}), e.g. the backup's id. Stores
     * without metadata ignore it (the default). Keys and values are short ASCII text; never secrets.
     */
    default SinkOutput create(String key, java.util.Map<String, String> metadata) throws IOException {
        return create(key);
    }

    /**
     * Opens a committed object for reading.
     *
     * @throws NotFoundException when no committed object has this key
     */
    InputStream open(String key) throws IOException;

    /**
     * Opens at most {@code length} bytes of a committed object, from byte {@code offset} on (S3: a ranged
     * {@code GET}). The backup pipeline reads the first and last bytes of each object it wrote this way, to confirm
     * the store holds what was sent. The default opens the whole object and skips to {@code offset}; remote stores
     * override it so that nothing before {@code offset} or after the range is downloaded.
     *
     * @throws NotFoundException when no committed object has this key
     * @throws java.io.EOFException when the object is shorter than {@code offset}
     */
    default InputStream open(String key, long offset, long length) throws IOException {
        com.jiffoo.backup.internal.Support.checkRange(offset, length);
        InputStream in = open(key);
        try {
            in.skipNBytes(offset);
        } catch (IOException | RuntimeException e) {
            in.close();
            throw e;
        }
        return com.jiffoo.backup.internal.Support.limit(in, length);
    }

    /**
     * What to change when an object this sink committed does not hold what was sent (found by the check the backup
     * pipeline runs after every upload), e.g. request settings the server does not support: one or two sentences, or
     * {@code ""} (the default) when the sink has nothing particular to suggest.
     */
    default String mismatchAdvice() {
        return "";
    }

    /** The committed objects whose key starts with {@code prefix} ({@code ""} for all), sorted by key. */
    List<StoredObject> list(String prefix) throws IOException;

    /**
     * The local directory this sink stores in, when it is one (so a restore can refuse to write over the store).
     * Empty for remote stores.
     */
    default java.util.Optional<java.nio.file.Path> localRoot() {
        return java.util.Optional.empty();
    }

    /**
     * The bucket and prefix this sink stores in, when it is one (so that a files backup of a bucket, or a restore into
     * one, can refuse a bucket that overlaps the store). Empty for local stores (the default).
     */
    default java.util.Optional<com.jiffoo.backup.store.BucketLocation> bucketLocation() {
        return java.util.Optional.empty();
    }

    /** Deletes an object. Deleting an absent key is not an error. */
    void delete(String key) throws IOException;

    /**
     * The lock that keeps the store from deleting the object {@code key} now (S3 Object Lock retention), or empty
     * when none does (no lock, a lock that has expired, no such object). A prune asks before it deletes anything of
     * a backup, so that a backup is never left half-deleted because part of it is locked. The default (stores
     * without object locks): empty.
     */
    default java.util.Optional<ObjectLock> lock(String key) throws IOException {
        return java.util.Optional.empty();
    }

    /**
     * A lock on a stored object.
     *
     * @param mode        how it is locked, e.g. {@code COMPLIANCE} or {@code GOVERNANCE} (S3 Object Lock)
     * @param retainUntil when the lock ends
     */
    record ObjectLock(String mode, java.time.Instant retainUntil) {
        /** Checks the fields are present. */
        public ObjectLock {
            java.util.Objects.requireNonNull(mode, "mode");
            java.util.Objects.requireNonNull(retainUntil, "retainUntil");
        }
    }

    /**
     * Writes that were started and neither committed nor discarded, whose key starts with {@code prefix}: what a
     * process killed mid-write ({@code kill -9}, an OOM kill, a lost node) leaves behind — a local store's temporary
     * file, an S3 or MinIO multipart upload still open. Never listed by {@link #list}. Optional: the default (for
     * stores that leave nothing, or cannot tell) is none.
     *
     * <p>A write that is still running is listed too: only the caller can tell by age (its
     * {@link PartialWrite#lastActivity()}) that it was abandoned, e.g. {@code Pruner}'s orphan grace period.
     */
    default List<PartialWrite> partialWrites(String prefix) throws IOException {
        return List.of();
    }

    /**
     * Removes a partial write {@link #partialWrites} listed (deletes the temporary file, aborts the upload). One that
     * is already gone is not an error. The default does nothing.
     */
    default void discard(PartialWrite write) throws IOException {}

    /**
     * A write left unfinished.
     *
     * @param key          the key of the object it was writing
     * @param id           what names it in the store: the temporary file's path, the multipart upload id
     * @param lastActivity when it was last written to (a file's modification time) or started (an upload's
     *                     initiation time; {@link java.time.Instant#EPOCH} when the store does not say)
     */
    record PartialWrite(String key, String id, java.time.Instant lastActivity) {
        /** Checks the fields are present. */
        public PartialWrite {
            java.util.Objects.requireNonNull(key, "key");
            java.util.Objects.requireNonNull(id, "id");
            java.util.Objects.requireNonNull(lastActivity, "lastActivity");
        }
    }
}

package com.jiffoo.backup.store;

import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.time.Instant;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * A bucket of objects that a files backup reads from or a files restore writes to (the shop's uploads in S3 or
 * MinIO), as opposed to a {@link com.jiffoo.backup.Sink}, which holds backups. It is a bucket and a prefix in it
 * ({@code s3://shop-uploads/media}); every key here is relative to that prefix ({@code 2026/photo.jpg} is the object
 * {@code media/2026/photo.jpg}). Opened by {@link StoreProviders#openBucket}; backup-s3 provides {@code s3:}.
 *
 * <p>Listings are lazy and paged: {@link #list} fetches one page (at most 1,000 keys for S3) at a time as the
 * iterator advances, so a listing of any size is never held in memory. Implementations are thread-safe.
 */
public interface ObjectBucket extends Closeable {

    /** One item of a listing: an object, or (one-level listings) a common prefix ending in the delimiter. */
    record Item(String key, boolean prefix, long size, String etag, Instant lastModified) {}

    /** An object's content and the attributes a restore puts back. The caller closes {@code content}. */
    record Content(
            InputStream content,
            long size,
            String contentType,
            Map<String, String> metadata,
            String etag,
            Instant lastModified) {}

    /** Where it is, for logs and messages: {@code s3://bucket/prefix} (never with credentials). */
    String location();

    /**
     * Where it is, comparable with a store's ({@link com.jiffoo.backup.Sink#bucketLocation()}): the server, the bucket
     * and the prefix. The backup and restore pipelines refuse a bucket that overlaps their store.
     */
    BucketLocation bucketLocation();

    /**
     * The objects whose key starts with {@code prefix}, in key order (UTF-8 binary), fetched page by page. With
     * {@code oneLevel}, keys with a {@code /} after the prefix are rolled up into one {@link Item#prefix()} item each
     * (S3's delimiter listing). The iterator throws {@link java.io.UncheckedIOException} when a page fails.
     */
    Iterator<Item> list(String prefix, boolean oneLevel) throws IOException;

    /** Opens an object for reading. */
    Content get(String key) throws IOException;

    /**
     * Writes an object from {@code content}, exactly {@code size} bytes, streaming: memory is one part buffer
     * (multipart upload above the implementation's threshold), never the object.
     */
    void put(String key, InputStream content, long size, String contentType, Map<String, String> metadata)
            throws IOException;

    /** Copies an object inside the bucket, keeping its content type and metadata (server-side: no download). */
    void copy(String from, String to, long size) throws IOException;

    /** Deletes objects (missing ones are not an error); at most 1,000 keys per call. */
    void delete(List<String> keys) throws IOException;
}

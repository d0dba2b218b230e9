package com.jiffoo.backup.s3;

import com.jiffoo.backup.store.BucketLocation;
import com.jiffoo.backup.store.ObjectBucket;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.function.Supplier;
import software.amazon.awssdk.core.ResponseInputStream;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.CommonPrefix;
import software.amazon.awssdk.services.s3.model.CompletedPart;
import software.amazon.awssdk.services.s3.model.Delete;
import software.amazon.awssdk.services.s3.model.GetObjectResponse;
import software.amazon.awssdk.services.s3.model.ListObjectsV2Response;
import software.amazon.awssdk.services.s3.model.MetadataDirective;
import software.amazon.awssdk.services.s3.model.ObjectIdentifier;
import software.amazon.awssdk.services.s3.model.S3Object;

/**
 * A bucket and prefix in S3 or an S3-compatible server (MinIO, Ceph), read by {@code backup files --from s3://…}
 * and written by {@code restore files --to s3://…}. Opened by {@link S3StoreProvider#openBucket}.
 *
 * <p>Memory: a listing holds one page (at most 1,000 keys) at a time; {@link #put} holds one part buffer of
 * {@value #PART_MIB} MiB (more only for objects over {@value #PART_MIB} MiB × 10,000 parts, to stay within S3's part
 * count); reads stream. Objects up to {@value #PART_MIB} MiB are written with one PUT, larger ones as multipart
 * uploads (aborted on failure). Copies are server-side: one CopyObject up to 5 GiB, multipart copy above.
 *
 * <p>Thread-safe. {@link #close()} closes the client.
 */
public final class S3Bucket implements ObjectBucket {
    /** The part size of uploads, and the largest object written with a single PUT, in MiB. */
    static final int PART_MIB = 16;
    /** The largest object copied with a single CopyObject (S3's limit). */
    static final long MAX_SINGLE_COPY = 5L << 30;
    /** The part size of multipart copies. */
    static final long COPY_PART = 1L << 30;

    private final S3Client s3;
    private final String bucket;
    /** The prefix, empty or ending in {@code /}. */
    private final String prefix;

    private final String location;
    private final BucketLocation where;

    /** {@code prefix} (empty or ending in {@code /}) in {@code bucket}, over {@code s3}, which is at {@code endpoint}. */
    S3Bucket(S3Client s3, String bucket, String prefix, String endpoint) {
        this.s3 = s3;
        this.bucket = bucket;
        this.prefix = prefix;
        this.location = "s3://" + bucket + (prefix.isEmpty() ? "" : "/" + prefix.substring(0, prefix.length() - 1));
        this.where = BucketLocation.of(endpoint, bucket, prefix);
    }

    @Override
    public String location() {
        return location;
    }

    @Override
    public BucketLocation bucketLocation() {
        return where;
    }

    /**
     * {@inheritDoc}
     *
     * <p>A one-level listing is made here from the flat listing (rolling up each run of keys below a {@code /} into
     * one prefix item, in the flat listing's order) rather than with S3's delimiter: s3rver (and possibly other
     * servers) leaves out a common prefix that holds no object directly, only deeper ones. The cost: a walk of the
     * tree lists each key once per level above it (pages of 1,000); memory stays one page.
     */
    @Override
    public Iterator<Item> list(String under, boolean oneLevel) throws IOException {
        Iterator<Item> flat = flat(under);
        if (!oneLevel) {
            return flat;
        }
        return new Iterator<>() {
            private Item next;
            private String lastPrefix;

            @Override
            public boolean hasNext() {
                while (next == null && flat.hasNext()) {
                    Item item = flat.next();
                    int slash = item.key().indexOf('/', under.length());
                    if (slash < 0) {
                        next = item;
                    } else {
                        String p = item.key().substring(0, slash + 1);
                        if (!p.equals(lastPrefix)) {
                            lastPrefix = p;
                            next = new Item(p, true, 0, null, null);
                        }
                    }
                }
                return next != null;
            }

            @Override
            public Item next() {
                if (!hasNext()) {
                    throw new NoSuchElementException();
                }
                Item out = next;
                next = null;
                return out;
            }
        };
    }

    private Iterator<Item> flat(String under) throws IOException {
        Iterator<ListObjectsV2Response> pages =
                sdk(() -> s3.listObjectsV2Paginator(r -> r.bucket(bucket).prefix(prefix + under))
                        .iterator());
        return new Iterator<>() {
            private Iterator<Item> page = java.util.Collections.emptyIterator();

            @Override
            public boolean hasNext() {
                while (!page.hasNext()) {
                    boolean more;
                    try {
                        more = sdk(pages::hasNext);
                    } catch (IOException e) {
                        throw new UncheckedIOException(e);
                    }
                    if (!more) {
                        return false;
                    }
                    try {
                        page = items(sdk(pages::next)).iterator();
                    } catch (IOException e) {
                        throw new UncheckedIOException(e);
                    }
                }
                return true;
            }

            @Override
            public Item next() {
                if (!hasNext()) {
                    throw new NoSuchElementException();
                }
                return page.next();
            }
        };
    }

    /** One page's objects and common prefixes, merged in key order, keys made relative to the prefix. */
    private List<Item> items(ListObjectsV2Response r) {
        List<Item> objects = new ArrayList<>();
        for (S3Object o : r.contents()) {
            objects.add(new Item(relative(o.key()), false, o.size(), o.eTag(), o.lastModified()));
        }
        List<Item> prefixes = new ArrayList<>();
        for (CommonPrefix p : r.commonPrefixes()) {
            prefixes.add(new Item(relative(p.prefix()), true, 0, null, null));
        }
        if (prefixes.isEmpty()) {
            return objects;
        }
        List<Item> all = new ArrayList<>(objects.size() + prefixes.size());
        int i = 0;
        int j = 0;
        while (i < objects.size() || j < prefixes.size()) {
            if (j >= prefixes.size()
                    || i < objects.size()
                            && compareUtf8(objects.get(i).key(), prefixes.get(j).key()) <= 0) {
                all.add(objects.get(i++));
            } else {
                all.add(prefixes.get(j++));
            }
        }
        return all;
    }

    /** S3's order: the keys' UTF-8 bytes, unsigned. */
    static int compareUtf8(String a, String b) {
        return java.util.Arrays.compareUnsigned(
                a.getBytes(java.nio.charset.StandardCharsets.UTF_8),
                b.getBytes(java.nio.charset.StandardCharsets.UTF_8));
    }

    private String relative(String key) {
        return key.startsWith(prefix) ? key.substring(prefix.length()) : key;
    }

    @Override
    public Content get(String key) throws IOException {
        ResponseInputStream<GetObjectResponse> in =
                sdk(() -> s3.getObject(r -> r.bucket(bucket).key(prefix + key)));
        GetObjectResponse r = in.response();
        return new Content(
                new S3Objects.AbortingStream(in),
                r.contentLength(),
                r.contentType(),
                r.metadata(),
                r.eTag(),
                r.lastModified());
    }

    @Override
    public void put(String key, InputStream content, long size, String contentType, Map<String, String> metadata)
            throws IOException {
        String full = prefix + key;
        String type = contentType == null || contentType.isEmpty() ? "application/octet-stream" : contentType;
        Map<String, String> meta = metadata == null ? Map.of() : metadata;
        long partSize = Math.max((long) PART_MIB << 20, (size + 9_999) / 10_000);
        if (size <= partSize) {
            byte[] all = content.readNBytes((int) size);
            if (all.length != size) {
                throw new IOException(
                        "the content of " + key + " ended after " + all.length + " of " + size + " bytes");
            }
            sdk(() -> s3.putObject(
                    r -> r.bucket(bucket)
                            .key(full)
                            .contentType(type)
                            .metadata(meta)
                            .contentLength(size),
                    RequestBody.fromBytes(all)));
            return;
        }
        String uploadId = sdk(() -> s3.createMultipartUpload(
                        r -> r.bucket(bucket).key(full).contentType(type).metadata(meta))
                .uploadId());
        boolean done = false;
        try {
            List<CompletedPart> parts = new ArrayList<>();
            byte[] buffer = new byte[(int) Math.min(partSize, size)];
            long left = size;
            for (int n = 1; left > 0; n++) {
                int len = (int) Math.min(buffer.length, left);
                int got = content.readNBytes(buffer, 0, len);
                if (got != len) {
                    throw new IOException(
                            "the content of " + key + " ended after " + (size - left + got) + " of " + size + " bytes");
                }
                int number = n;
                String etag = sdk(() -> s3.uploadPart(
                                r -> r.bucket(bucket)
                                        .key(full)
                                        .uploadId(uploadId)
                                        .partNumber(number)
                                        .contentLength((long) len),
                                RequestBody.fromByteBuffer(java.nio.ByteBuffer.wrap(buffer, 0, len))))
                        .eTag();
                parts.add(CompletedPart.builder().partNumber(n).eTag(etag).build());
                left -= len;
            }
            sdk(() -> s3.completeMultipartUpload(
                    r -> r.bucket(bucket).key(full).uploadId(uploadId).multipartUpload(u -> u.parts(parts))));
            done = true;
        } finally {
            if (!done) {
                try {
                    sdk(() -> s3.abortMultipartUpload(
                            r -> r.bucket(bucket).key(full).uploadId(uploadId)));
                } catch (IOException | RuntimeException e) {
                    org.slf4j.LoggerFactory.getLogger(S3Bucket.class)
                            .warn("aborting the upload of {} failed: {}", full, e.toString());
                }
            }
        }
    }

    @Override
    public void copy(String from, String to, long size) throws IOException {
        String src = prefix + from;
        String dst = prefix + to;
        if (size <= MAX_SINGLE_COPY) {
            sdk(() -> s3.copyObject(r -> r.sourceBucket(bucket)
                    .sourceKey(src)
                    .destinationBucket(bucket)
                    .destinationKey(dst)
                    .metadataDirective(MetadataDirective.COPY)));
            return;
        }
        var head = sdk(() -> s3.headObject(r -> r.bucket(bucket).key(src)));
        String uploadId = sdk(() -> s3.createMultipartUpload(r -> r.bucket(bucket)
                        .key(dst)
                        .contentType(head.contentType())
                        .metadata(head.metadata()))
                .uploadId());
        boolean done = false;
        try {
            List<CompletedPart> parts = new ArrayList<>();
            int n = 1;
            for (long at = 0; at < size; at += COPY_PART, n++) {
                String range = "bytes=" + at + "-" + (Math.min(size, at + COPY_PART) - 1);
                int number = n;
                String etag = sdk(() -> s3.uploadPartCopy(r -> r.sourceBucket(bucket)
                                .sourceKey(src)
                                .destinationBucket(bucket)
                                .destinationKey(dst)
                                .uploadId(uploadId)
                                .partNumber(number)
                                .copySourceRange(range)))
                        .copyPartResult()
                        .eTag();
                parts.add(CompletedPart.builder().partNumber(n).eTag(etag).build());
            }
            sdk(() -> s3.completeMultipartUpload(
                    r -> r.bucket(bucket).key(dst).uploadId(uploadId).multipartUpload(u -> u.parts(parts))));
            done = true;
        } finally {
            if (!done) {
                try {
                    sdk(() -> s3.abortMultipartUpload(
                            r -> r.bucket(bucket).key(dst).uploadId(uploadId)));
                } catch (IOException | RuntimeException e) {
                    org.slf4j.LoggerFactory.getLogger(S3Bucket.class)
                            .warn("aborting the copy to {} failed: {}", dst, e.toString());
                }
            }
        }
    }

    @Override
    public void delete(List<String> keys) throws IOException {
        if (keys.isEmpty()) {
            return;
        }
        List<ObjectIdentifier> ids = keys.stream()
                .map(k -> ObjectIdentifier.builder().key(prefix + k).build())
                .toList();
        List<String> errors = sdk(() -> s3
                .deleteObjects(d -> d.bucket(bucket)
                        .delete(Delete.builder().objects(ids).quiet(true).build()))
                .errors()
                .stream()
                .map(e -> e.key() + " (" + e.code() + ")")
                .toList());
        if (!errors.isEmpty()) {
            throw new IOException("could not delete from " + location + ": " + String.join(", ", errors));
        }
    }

    @Override
    public void close() {
        s3.close();
    }

    @Override
    public String toString() {
        return "S3Bucket{" + location + "}";
    }

    private <T> T sdk(Supplier<T> call) throws IOException {
        try {
            return call.get();
        } catch (SdkException e) {
            throw S3Objects.failure(e, location);
        }
    }
}

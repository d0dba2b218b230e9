package com.jiffoo.backup.files;

import com.jiffoo.backup.BackupManifest;
import com.jiffoo.backup.Source;
import com.jiffoo.backup.SourceException;
import com.jiffoo.backup.store.ObjectBucket;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A {@link Source} that writes the objects of a bucket (under a prefix) as a tar archive, compressed like
 * {@link DirectorySource}: {@code backup files --from s3://bucket/prefix}, the shop's uploads kept in S3 or MinIO.
 *
 * <p>Each object is a regular file whose path is its key relative to the prefix ({@code media/2026/a.jpg} under the
 * prefix {@code media} is {@code 2026/a.jpg}); each key prefix ending in {@code /} is a directory. An entry carries
 * the object's last-modified time as its mtime, mode 0644 (directories 0755, owner 0), and in PAX headers the
 * object's content type ({@value #CONTENT_TYPE}), user metadata ({@value #META}{@code <name>}, the name as S3
 * returns it, lower case) and ETag ({@value #ETAG}, informational). GNU tar extracts it as a plain tree (it warns
 * about the unknown keywords and ignores them); {@link BucketRestoreTarget} puts content type and metadata back.
 *
 * <p>Keys that are not safe paths are refused, naming the key: an empty segment ({@code a//b}, a leading
 * {@code /}), a segment {@code .} or {@code ..}, and a key that is both an object and a "directory" ({@code a} and
 * {@code a/b}). A zero-byte object whose key ends in {@code /} (the "folder" a console creates) is no file: it is
 * skipped and counted ({@code folderMarkers}); one with content is refused. A top-level prefix named exactly as a
 * restore's staging, {@code .jiffoo-restore-<yyyyMMddTHHmmssZ>-<8 hex digits>/} ({@link BucketRestoreTarget}), is
 * skipped with a warning; other keys starting with {@code .jiffoo-restore-} (a {@code .jiffoo-restore-notes.txt}) are
 * backed up like any other.
 *
 * <p>Memory: the content is streamed, one object at a time (one 64 KiB buffer plus the compressor's state). The
 * bucket is listed one level at a time ({@link ObjectBucket#list} with {@code oneLevel}, fetched in pages of at most
 * 1,000 keys); the
 * listing of each "directory" on the current path is held (name, size, ETag, time: about 200 bytes a key), because a
 * directory's entry (and GNU tar's {@code GNU.dumpdir} record in a chain) names all its children before them and the
 * file/directory conflict is found among them. So memory grows with the largest directory, never with the content:
 * 10,000 keys under one prefix take about 2 MB.
 *
 * <p>With {@link Builder#chain}, a link of a chain of increments ({@link FileChain}), as {@link DirectorySource}
 * writes it: an object is stored when its size, last-modified time or ETag differ from the parent's file list (the
 * list records the ETag's hash where a directory's list records the inode); objects gone are deleted by the
 * directories' {@code GNU.dumpdir} records.
 *
 * <p>Immutable; {@link #writeTo} may be called again for a later backup. The bucket is not closed here.
 */
public final class BucketSource implements Source {
    /** The PAX keyword of an object's content type. */
    public static final String CONTENT_TYPE = "JIFFOO.s3.content-type";
    /** The prefix of the PAX keywords of an object's user metadata. */
    public static final String META = "JIFFOO.s3.meta.";
    /** The PAX keyword of an object's ETag (informational). */
    public static final String ETAG = "JIFFOO.s3.etag";
    /** How the name of a restore's staging starts ({@link BucketRestoreTarget#STAGING_NAME} is the whole name). */
    static final String STAGING = ".jiffoo-restore-";

    private static final Logger LOG = LoggerFactory.getLogger(BucketSource.class);

    private final ObjectBucket bucket;
    private final Compression compression;
    private final int compressionLevel;
    private final int compressionThreads;
    /** Null: not part of a chain. */
    private final TarEntries.Chain chain;

    private BucketSource(Builder b) {
        this.bucket = b.bucket;
        this.compression = b.compression;
        this.compressionLevel = b.compressionLevel;
        this.compressionThreads = b.compressionThreads;
        this.chain = b.chain;
    }

    /** A builder for a backup of {@code bucket} (a bucket and a prefix). */
    public static Builder builder(ObjectBucket bucket) {
        return new Builder(bucket);
    }

    /** Returns {@code "files"}. */
    @Override
    public String kind() {
        return "files";
    }

    /** Returns {@code "files_backup"}. */
    @Override
    public String baseName() {
        return "files_backup";
    }

    @Override
    public String suffix() {
        return compression.suffix();
    }

    /** E.g. {@code bucket s3://shop-uploads/media (tar, gzip level 6)}. */
    @Override
    public String describe() {
        return "bucket " + bucket.location() + " (tar" + (chain == null ? "" : chain.describe()) + ", "
                + compression.id() + (compression == Compression.NONE ? "" : " level " + compressionLevel) + ")";
    }

    /** The bucket's location: a pipeline refuses it when it overlaps the store (or a copy). */
    @Override
    public java.util.Optional<com.jiffoo.backup.store.BucketLocation> bucketLocation() {
        return java.util.Optional.of(bucket.bucketLocation());
    }

    /**
     * Writes the (compressed) tar of the bucket's objects to {@code out}, which stays open.
     *
     * @return facts: {@code bucket} (its location), {@code compression}, {@code level}, {@code fileCount},
     *         {@code directoryCount}, {@code totalBytes}, {@code folderMarkers}, {@code vanished} (deleted between
     *         listing and reading); in a chain also {@code unchanged}, {@code treeFileCount}, {@code treeBytes},
     *         {@code chain} and {@code fileList}
     * @throws SourceException when a key is not a safe path, or the bucket cannot be listed or read
     */
    @Override
    public Map<String, Object> writeTo(OutputStream out) throws IOException {
        Objects.requireNonNull(out, "out");
        LOG.info("Backing up {}", describe());
        long[] markers = {0};
        TarEntries tar = TarEntries.open(out, compression, compressionLevel, compressionThreads, chain);
        tar.withoutTimeRule();
        if (tar.parentListMissing()) {
            // an object's Last-Modified is the server's (or the uploader's, for a multipart upload begun before the
            // parent listed) and cannot be compared with this host's clock: without the parent's list, all again
            LOG.warn(
                    "{}: the parent backup {} recorded no usable file list (too many keys for its manifest, or too"
                            + " many vanished while it ran), so this increment stores every object again; start a"
                            + " new chain (a full backup) more often, or back up smaller prefixes",
                    bucket.location(),
                    chain.parent().id());
        }
        try {
            walkPrefix("", tar, markers);
            tar.finish();
        } catch (UncheckedIOException e) {
            throw unreadable(e.getCause());
        } finally {
            tar.closeUnfinished();
        }
        Map<String, Object> facts = new LinkedHashMap<>();
        facts.put("bucket", bucket.location());
        facts.put("compression", compression.id());
        facts.put("level", compressionLevel);
        facts.put("fileCount", tar.files);
        facts.put("directoryCount", tar.directories);
        facts.put("totalBytes", tar.bytes);
        facts.put("folderMarkers", markers[0]);
        facts.put("vanished", tar.vanished);
        tar.putChainFacts(facts);
        LOG.info("Backed up {}: {} objects, {} bytes", bucket.location(), tar.files, tar.bytes);
        return facts;
    }

    private SourceException unreadable(Throwable cause) {
        return new SourceException(
                "Cannot list or read " + bucket.location() + ": " + cause
                        + ". Check the bucket's endpoint and that its credentials may list and read it.",
                null,
                bucket.location(),
                cause);
    }

    /** One child of a "directory": an object or a sub-prefix. */
    private static final class Child {
        final String name;
        final boolean dir;
        final long size;
        final String etag;
        final Instant modified;
        boolean changed = true;

        Child(String name, boolean dir, long size, String etag, Instant modified) {
            this.name = name;
            this.dir = dir;
            this.size = size;
            this.etag = etag;
            this.modified = modified;
        }

        FileList.Meta meta() {
            if (dir) {
                return new FileList.Meta('d', 0, 0, 0, 0);
            }
            return new FileList.Meta('f', size, nanos(modified), etagHash(etag), 0);
        }
    }

    private static long nanos(Instant t) {
        return t == null ? 0 : t.getEpochSecond() * 1_000_000_000L + t.getNano();
    }

    /** The first 64 bits of the SHA-256 of the ETag: what the file list records in place of an inode. */
    static long etagHash(String etag) {
        if (etag == null) {
            return 0;
        }
        byte[] d = com.jiffoo.backup.internal.Sha256.newDigest().digest(etag.getBytes(StandardCharsets.UTF_8));
        long h = 0;
        for (int i = 0; i < 8; i++) {
            h = (h << 8) | (d[i] & 0xFF);
        }
        return h;
    }

    /** Lists the prefix one level deep: its children, checked, sorted by key. */
    private List<Child> children(String prefix, long[] markers) throws IOException {
        List<Child> out = new ArrayList<>();
        java.util.Set<String> objectNames = new java.util.HashSet<>();
        Iterator<ObjectBucket.Item> it = bucket.list(prefix, true);
        while (it.hasNext()) {
            ObjectBucket.Item item = it.next();
            String key = item.key();
            String name = key.substring(prefix.length());
            if (item.prefix()) {
                String segment = name.substring(0, name.length() - 1);
                if (prefix.isEmpty() && BucketRestoreTarget.isStaging(key)) {
                    LOG.warn(
                            "{}/{}: the staging of a restore (left by one that was stopped); skipped",
                            bucket.location(),
                            key);
                    continue;
                }
                try {
                    checkSegment(segment, key);
                } catch (SourceException e) {
                    // name a whole key under the prefix, as the operator sees it in a listing
                    Iterator<ObjectBucket.Item> under = bucket.list(key, false);
                    checkSegment(segment, under.hasNext() ? under.next().key() : key);
                }
                out.add(new Child(segment, true, 0, null, null));
            } else if (name.isEmpty()) {
                if (item.size() != 0) {
                    throw unsafe(key, "it ends in '/' but holds " + item.size() + " bytes (a file cannot be named so)");
                }
                markers[0]++; // the "folder" object of a console
            } else {
                checkSegment(name, key);
                objectNames.add(name);
                out.add(new Child(name, false, item.size(), item.etag(), item.lastModified()));
            }
        }
        for (Child c : out) {
            if (c.dir && objectNames.contains(c.name)) {
                throw unsafe(
                        prefix + c.name,
                        "it is an object and also the prefix of other keys (" + prefix + c.name + "/…); a file and a"
                                + " directory cannot have one path. Rename one of them");
            }
        }
        out.sort((a, b) -> a.name.compareTo(b.name));
        return out;
    }

    private void checkSegment(String segment, String key) {
        if (segment.isEmpty()) {
            throw unsafe(key, "it has an empty path segment (a leading '/' or '//')");
        }
        if (segment.equals(".") || segment.equals("..")) {
            throw unsafe(key, "it has a path segment '" + segment + "'");
        }
        if (segment.indexOf('\0') >= 0) {
            throw unsafe(key, "it holds a NUL character");
        }
    }

    private SourceException unsafe(String key, String why) {
        return new SourceException(
                "The key '" + key + "' in " + bucket.location() + " is not a safe path for a tar archive: " + why
                        + ". Rename or remove the object (e.g. with aws s3 mv), or back up a prefix without it;"
                        + " nothing was backed up.",
                null,
                bucket.location() + "/" + key,
                null);
    }

    private void walkPrefix(String prefix, TarEntries tar, long[] markers) throws IOException {
        List<Child> children = children(prefix, markers);
        Instant newest = Instant.EPOCH;
        for (Child c : children) {
            if (!c.dir && c.modified != null && c.modified.isAfter(newest)) {
                newest = c.modified;
            }
        }
        FileTime mtime = seconds(newest);
        if (tar.chained()) {
            TarEntries.Listing listing = tar.listing(prefix);
            for (Child c : children) {
                c.changed = listing.add(c.name, c.meta());
            }
            tar.directory(prefix, listing, 0755, 0, 0, mtime, bucket.location() + "/" + prefix);
        } else if (!prefix.isEmpty()) {
            tar.directory(prefix, null, 0755, 0, 0, mtime, bucket.location() + "/" + prefix);
        }
        for (Child c : children) {
            if (c.dir) {
                walkPrefix(prefix + c.name + "/", tar, markers);
            } else if (!c.changed) {
                tar.unchanged++;
            } else {
                writeObject(prefix + c.name, tar);
            }
        }
    }

    /** An object's time as its entry holds it: the whole seconds. */
    private static FileTime seconds(Instant t) {
        return FileTime.from(t.getEpochSecond(), TimeUnit.SECONDS);
    }

    private void writeObject(String key, TarEntries tar) throws IOException {
        ObjectBucket.Content content;
        try {
            content = bucket.get(key);
        } catch (com.jiffoo.backup.store.multipart.StoreFailure e) {
            if (e.status() == 404) {
                LOG.warn(
                        "{}/{}: object deleted before we read it; skipped (the next increment looks at it again)",
                        bucket.location(),
                        key);
                tar.vanished(key);
                return;
            }
            throw unreadable(e);
        } catch (IOException e) {
            throw unreadable(e);
        }
        try (InputStream in = content.content()) {
            Map<String, String> pax = new LinkedHashMap<>();
            if (content.contentType() != null && !content.contentType().isEmpty()) {
                pax.put(CONTENT_TYPE, content.contentType());
            }
            if (content.etag() != null) {
                pax.put(ETAG, content.etag());
            }
            for (Map.Entry<String, String> m : new java.util.TreeMap<>(content.metadata()).entrySet()) {
                if (m.getKey().isEmpty() || m.getKey().indexOf('=') >= 0) {
                    throw unsafe(key, "its metadata name '" + m.getKey() + "' cannot be a PAX keyword");
                }
                pax.put(META + m.getKey(), m.getValue() == null ? "" : m.getValue());
            }
            Instant modified = content.lastModified() != null ? content.lastModified() : Instant.EPOCH;
            tar.startFile(key, 0644, 0, 0, seconds(modified), content.size(), pax);
            long copied;
            try {
                copied = TarEntries.copy(in, tar.content(), content.size(), tar.buffer);
            } catch (TarEntries.ReadFailure e) {
                throw unreadable(e.getCause());
            }
            if (copied != content.size()) {
                throw new SourceException(
                        "The object " + bucket.location() + "/" + key + " ended after " + copied + " of "
                                + content.size() + " bytes; run the backup again.",
                        null,
                        bucket.location() + "/" + key,
                        null);
            }
            tar.endFile(content.size());
        }
    }

    /** Builds a {@link BucketSource}. Not thread-safe. */
    public static final class Builder {
        private final ObjectBucket bucket;
        private Compression compression = Compression.GZIP;
        private int compressionLevel = Compression.GZIP.defaultLevel();
        private int compressionThreads = Runtime.getRuntime().availableProcessors();
        private TarEntries.Chain chain;

        private Builder(ObjectBucket bucket) {
            this.bucket = Objects.requireNonNull(bucket, "bucket");
        }

        /** Compresses with {@code compression} at its default level (default gzip). */
        public Builder compression(Compression compression) {
            this.compression = Objects.requireNonNull(compression, "compression");
            this.compressionLevel = compression.defaultLevel();
            return this;
        }

        /** Deflates gzip on this many threads (default: the processors), as {@link DirectorySource.Builder#compressionThreads}. */
        public Builder compressionThreads(int threads) {
            if (threads < 1) {
                throw new IllegalArgumentException("compressionThreads must be at least 1, got " + threads);
            }
            this.compressionThreads = threads;
            return this;
        }

        /**
         * Makes this backup a link of a chain, as {@link DirectorySource.Builder#chain}: with a {@code parent} (a
         * backup of the same bucket made this way) an increment, with {@code null} the chain's full backup.
         *
         * @throws IllegalArgumentException when {@code parent} is not a backup of a chain
         */
        public Builder chain(BackupManifest parent) {
            this.chain = TarEntries.Chain.of(parent);
            return this;
        }

        /** Builds the source. */
        public BucketSource build() {
            return new BucketSource(this);
        }
    }
}

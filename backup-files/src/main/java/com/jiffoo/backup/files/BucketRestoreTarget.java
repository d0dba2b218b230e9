package com.jiffoo.backup.files;

import com.jiffoo.backup.BackupException;
import com.jiffoo.backup.BackupManifest;
import com.jiffoo.backup.IntegrityException;
import com.jiffoo.backup.RestoreException;
import com.jiffoo.backup.RestoreTarget;
import com.jiffoo.backup.StagedRestore;
import com.jiffoo.backup.internal.StageStreams;
import com.jiffoo.backup.store.ObjectBucket;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Restores a files backup into a bucket and prefix ({@code restore files --to s3://bucket/prefix}): each regular
 * file of the tar becomes an object whose key is its path under the prefix, with the content type and user metadata
 * of its PAX headers ({@link BucketSource#CONTENT_TYPE}, {@link BucketSource#META}); without them (a backup of a
 * directory) {@code application/octet-stream} and no metadata. Directories are implied by the keys (an empty one is
 * not restored); symbolic links, hard links and special files are skipped and counted ({@code skipped}), with a
 * warning. An entry whose path is absolute or has a {@code ..} segment is refused, naming it.
 *
 * <p>Verify before trust: the objects are first written under a staging prefix inside the target,
 * {@code .jiffoo-restore-<UTC time>-<hex>/}, and copied into place (server-side copies) only by
 * {@link StagedRestore#commit()}, after the restore pipeline checked every checksum. When a check fails, or the restore
 * fails or is stopped, the staged objects are deleted and the target's own objects were never touched. An increment
 * of a chain is applied onto the staging prefix ({@link #stageOnto}): its objects replace the staged ones and each
 * directory's {@code GNU.dumpdir} record deletes what the directory no longer holds. A process killed during a restore
 * leaves its staging prefix behind; the next restore into the target deletes such leftovers first when they are
 * older than {@link #LEFTOVER_AGE} (by the time in their name: a younger one may be the staging of a restore still
 * running, and a name that does not parse is left alone, with a warning), and a backup of the bucket skips them. The
 * commit first counts the staged objects and refuses, touching nothing in the target, when they are not the ones
 * this restore staged (another process deleted some).
 *
 * <p>A target that already holds objects (other than staging leftovers) is refused unless
 * {@link Builder#replaceExisting}: then the commit first deletes the objects the backup does not have, then copies the
 * backup's objects over the existing ones, so the prefix ends up holding exactly the backup. A commit that fails part way
 * (the server fails during the copies) leaves the target partly restored; the message says so and the staging prefix,
 * which holds the whole verified backup, is kept (not deleted by {@link StagedRestore#close()}) for a later restore.
 *
 * <p>Memory: one object is streamed at a time (a part buffer of the bucket, 16 MiB for S3), and listings are paged;
 * an increment's deletions hold the names of one directory at a time. The keys staged are held (for the commit's
 * count), relative to the staging prefix: about 85 bytes plus the key's length each (115 MB for a million objects
 * with 30-character paths).
 */
public final class BucketRestoreTarget implements RestoreTarget {
    private static final Logger LOG = LoggerFactory.getLogger(BucketRestoreTarget.class);
    private static final DateTimeFormatter STAMP = DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss'Z'");

    /** A staging prefix's name: {@code .jiffoo-restore-<UTC time>-<8 hex digits>/}, the time in group 1. */
    static final java.util.regex.Pattern STAGING_NAME =
            java.util.regex.Pattern.compile("\\.jiffoo-restore-(\\d{8}T\\d{6}Z)-[0-9a-f]{8}/");

    /**
     * Whether {@code key} (relative to the target's prefix) lies under a restore's staging prefix: its first segment
     * is exactly {@link #STAGING_NAME} ({@code .jiffoo-restore-notes.txt} or {@code .jiffoo-restore-x/a} do not).
     */
    static boolean isStaging(String key) {
        int slash = key.indexOf('/');
        return slash > 0 && STAGING_NAME.matcher(key.substring(0, slash + 1)).matches();
    }

    /** The age above which a restore deletes another restore's staging prefix as a leftover: 24 hours. */
    public static final java.time.Duration LEFTOVER_AGE = java.time.Duration.ofHours(24);

    private final ObjectBucket bucket;
    private final boolean replaceExisting;
    /** The bytes the bucket's prefix adds before every key (its location does not change). */
    private final int keyPrefixBytes;

    private BucketRestoreTarget(ObjectBucket bucket, boolean replaceExisting) {
        this.bucket = bucket;
        this.replaceExisting = replaceExisting;
        this.keyPrefixBytes = keyPrefixBytes(bucket.location());
    }

    /** A builder for a restore into {@code bucket} (a bucket and a prefix). */
    public static Builder builder(ObjectBucket bucket) {
        return new Builder(bucket);
    }

    @Override
    public String describe() {
        return "bucket " + bucket.location();
    }

    /** The bucket's location: a pipeline refuses it when it overlaps the store (or a copy). */
    @Override
    public java.util.Optional<com.jiffoo.backup.store.BucketLocation> bucketLocation() {
        return java.util.Optional.of(bucket.bucketLocation());
    }

    @Override
    public StagedRestore stage(InputStream plaintext, BackupManifest manifest) throws IOException {
        Objects.requireNonNull(plaintext, "plaintext");
        cleanLeftovers();
        if (!replaceExisting) {
            Iterator<ObjectBucket.Item> it = list("", true);
            while (it.hasNext()) {
                ObjectBucket.Item item = it.next();
                if (!(item.prefix() && item.key().startsWith(BucketSource.STAGING))) {
                    throw new RestoreException(
                            "The target " + bucket.location() + " is not empty (it holds '" + item.key()
                                    + "'); restore into an empty prefix, or pass --replace to make it hold exactly"
                                    + " the backup (objects the backup does not have are deleted). Nothing was"
                                    + " changed.",
                            manifest == null ? null : manifest.objectKey(),
                            bucket.location(),
                            null);
                }
            }
        }
        String staging = BucketSource.STAGING
                + ZonedDateTime.now(ZoneOffset.UTC).format(STAMP) + "-"
                + java.util.HexFormat.of()
                        .toHexDigits(
                                java.util.concurrent.ThreadLocalRandom.current().nextInt())
                + "/";
        Staged s = new Staged(staging);
        LOG.info(
                "Restoring {}into {} (staging under {})",
                manifest == null ? "" : manifest.objectKey() + " ",
                bucket.location(),
                staging);
        boolean ok = false;
        try {
            apply(s, plaintext, manifest);
            ok = true;
            return s;
        } finally {
            if (!ok) {
                s.close();
            }
        }
    }

    @Override
    public StagedRestore stageOnto(StagedRestore previous, InputStream plaintext, BackupManifest manifest)
            throws IOException {
        if (!(previous instanceof Staged s) || s.owner() != this) {
            throw new IllegalArgumentException("stageOnto needs a restore staged by stage() into " + describe());
        }
        LOG.info(
                "Applying {}onto the staged objects of {}",
                manifest == null ? "" : manifest.objectKey() + " ",
                bucket.location());
        apply(s, plaintext, manifest);
        return s;
    }

    private void apply(Staged s, InputStream plaintext, BackupManifest manifest) throws IOException {
        String what = BoundedTarInputStream.name(manifest);
        try (InputStream in = Compression.decompress(StageStreams.closeShield(plaintext));
                TarArchiveInputStream tar = BoundedTarInputStream.open(in, what)) {
            TarArchiveEntry entry;
            while ((entry = tar.getNextEntry()) != null) {
                String path = path(entry.getName(), what);
                if (entry.isDirectory()) {
                    String dumpdir = entry.getExtraPaxHeader(DirectorySource.DUMPDIR);
                    if (dumpdir != null) {
                        prune(s, path.isEmpty() ? "" : path + "/", dumpdir);
                    }
                    continue;
                }
                if (!entry.isFile() || entry.isLink()) {
                    LOG.warn(
                            "{}: {} in {}: not a regular file, skipped (a bucket holds objects only)",
                            entry.getName(),
                            entry.isSymbolicLink()
                                    ? "a symbolic link"
                                    : entry.isLink() ? "a hard link" : "a special file",
                            what);
                    s.skipped++;
                    continue;
                }
                if (path.isEmpty()) {
                    throw refuse(entry.getName(), what, "it has an empty path");
                }
                Map<String, String> meta = new LinkedHashMap<>();
                for (Map.Entry<String, String> h : entry.getExtraPaxHeaders().entrySet()) {
                    if (h.getKey().startsWith(BucketSource.META)) {
                        meta.put(h.getKey().substring(BucketSource.META.length()), h.getValue());
                    }
                }
                int keyBytes =
                        keyPrefixBytes + (s.staging + path).getBytes(java.nio.charset.StandardCharsets.UTF_8).length;
                if (keyBytes > MAX_KEY_BYTES) {
                    throw new RestoreException(
                            "The object '" + path + "' of " + what + " cannot be restored into " + bucket.location()
                                    + ": under this restore's staging prefix its key would be " + keyBytes
                                    + " bytes, over S3's limit of " + MAX_KEY_BYTES + ". Restore into a shorter"
                                    + " prefix, or put this object back by hand (gpg -d the backup | tar -xzO '"
                                    + path + "' | aws s3 cp - s3://…/" + path + "); nothing in the target was"
                                    + " changed.",
                            null,
                            bucket.location(),
                            null);
                }
                s.keys.add(path);
                bucket.put(
                        s.staging + path,
                        tar,
                        entry.getSize(),
                        entry.getExtraPaxHeader(BucketSource.CONTENT_TYPE),
                        meta);
                s.files++;
                s.bytes += entry.getSize();
            }
        } catch (UncheckedIOException e) {
            throw e.getCause();
        } catch (BackupException | IOException e) {
            throw e;
        } catch (RuntimeException e) {
            throw new RestoreException(
                    "The archive for " + bucket.location() + " is malformed: " + e
                            + ". The backup may be corrupt; the target was not changed.",
                    null,
                    bucket.location(),
                    e);
        }
    }

    /** The entry's path as a key under the prefix ("" for the top), or refused. */
    private String path(String name, String what) {
        String n = name;
        while (n.startsWith("./")) {
            n = n.substring(2);
        }
        if (n.equals(".")) {
            n = "";
        }
        if (n.endsWith("/")) {
            n = n.substring(0, n.length() - 1);
        }
        if (n.isEmpty()) {
            return "";
        }
        if (n.startsWith("/")) {
            throw refuse(name, what, "its path is absolute");
        }
        for (String part : n.split("/", -1)) {
            if (part.isEmpty() || part.equals(".") || part.equals("..")) {
                throw refuse(name, what, "its path has a segment '" + part + "'");
            }
        }
        if (isStaging(n + "/")) {
            throw refuse(name, what, "it lies under the staging prefix of restores");
        }
        return n;
    }

    /** S3's longest key, in UTF-8 bytes (MinIO and most S3-compatible servers share it). */
    static final int MAX_KEY_BYTES = 1024;

    /** The bytes the bucket's prefix (and its '/') add before every key: {@code s3://bucket/prefix} → "prefix/". */
    private static int keyPrefixBytes(String loc) {
        int scheme = loc.indexOf("://");
        int slash = loc.indexOf('/', scheme < 0 ? 0 : scheme + 3);
        return slash < 0 ? 0 : loc.substring(slash + 1).getBytes(java.nio.charset.StandardCharsets.UTF_8).length + 1;
    }

    private RestoreException refuse(String name, String what, String why) {
        return new RestoreException(
                "The entry '" + name + "' of " + what + " cannot be restored into " + bucket.location() + ": " + why
                        + ". The backup may have been tampered with; nothing in the target was changed.",
                null,
                bucket.location(),
                null);
    }

    /** Deletes from the staged {@code dir} what its {@code GNU.dumpdir} record does not list with the same type. */
    private void prune(Staged s, String dir, String dumpdir) throws IOException {
        Set<String> files = new HashSet<>();
        Set<String> dirs = new HashSet<>();
        for (String rec : dumpdir.split("\0")) {
            if (rec.length() < 2) {
                continue;
            }
            (rec.charAt(0) == 'D' ? dirs : files).add(rec.substring(1));
        }
        List<String> gone = new ArrayList<>();
        List<String> goneDirs = new ArrayList<>();
        Iterator<ObjectBucket.Item> it = list(s.staging + dir, true);
        while (it.hasNext()) {
            ObjectBucket.Item item = it.next();
            String name = item.key().substring(s.staging.length() + dir.length());
            if (item.prefix()) {
                String segment = name.substring(0, name.length() - 1);
                if (!dirs.contains(segment)) {
                    goneDirs.add(item.key());
                }
            } else if (!files.contains(name)) {
                gone.add(item.key());
                if (gone.size() == 1000) {
                    deleteBatch(gone);
                    s.forget(gone);
                    gone.clear();
                }
            }
        }
        deleteBatch(gone);
        s.forget(gone);
        for (String d : goneDirs) {
            deleteAll(d);
            String under = d.substring(s.staging.length());
            // the keys under it are one range of the sorted set: removed without a pass over all the others
            for (Iterator<String> staged = s.keys.tailSet(under).iterator(); staged.hasNext(); ) {
                if (!staged.next().startsWith(under)) {
                    break;
                }
                staged.remove();
            }
        }
    }

    /** Deletes every object under {@code prefix}, a page at a time. */
    private void deleteAll(String prefix) throws IOException {
        List<String> batch = new ArrayList<>();
        Iterator<ObjectBucket.Item> it = list(prefix, false);
        while (it.hasNext()) {
            batch.add(it.next().key());
            if (batch.size() == 1000) {
                deleteBatch(batch);
                batch.clear();
            }
        }
        deleteBatch(batch);
    }

    /**
     * Deletes a batch of keys; when the batch request fails, each key on its own (s3rver fails a batch whose parallel
     * deletions race on its directories).
     */
    private void deleteBatch(List<String> keys) throws IOException {
        try {
            bucket.delete(keys);
        } catch (IOException e) {
            LOG.debug("Deleting {} objects at once failed ({}); deleting them one by one", keys.size(), e.toString());
            for (String k : keys) {
                bucket.delete(List.of(k));
            }
        }
    }

    private Iterator<ObjectBucket.Item> list(String prefix, boolean oneLevel) throws IOException {
        return bucket.list(prefix, oneLevel);
    }

    /**
     * Deletes the staging prefixes restores left behind (killed mid-way) whose name's time is older than
     * {@link #LEFTOVER_AGE}; a younger one may belong to a restore still running, and a name that does not parse is
     * left alone.
     */
    private void cleanLeftovers() throws IOException {
        List<String> left = new ArrayList<>();
        java.time.Instant before = java.time.Instant.now().minus(LEFTOVER_AGE);
        Iterator<ObjectBucket.Item> it = list(BucketSource.STAGING, true);
        while (it.hasNext()) {
            ObjectBucket.Item item = it.next();
            if (!item.prefix()) {
                continue;
            }
            java.util.regex.Matcher m = STAGING_NAME.matcher(item.key());
            java.time.Instant at = null;
            if (m.matches()) {
                try {
                    at = java.time.LocalDateTime.parse(m.group(1), STAMP).toInstant(ZoneOffset.UTC);
                } catch (java.time.format.DateTimeParseException e) {
                    at = null;
                }
            }
            if (at == null) {
                LOG.warn(
                        "{}/{}: looks like a restore's staging prefix but its name is not one; left alone",
                        bucket.location(),
                        item.key());
            } else if (at.isBefore(before)) {
                left.add(item.key());
            } else {
                LOG.info(
                        "{}/{}: the staging of another restore, younger than {} h (it may still be running); left"
                                + " alone",
                        bucket.location(),
                        item.key(),
                        LEFTOVER_AGE.toHours());
            }
        }
        for (String p : left) {
            LOG.warn(
                    "{}/{}: the staging of an earlier restore that was stopped (older than {} h); deleted",
                    bucket.location(),
                    p,
                    LEFTOVER_AGE.toHours());
            deleteAll(p);
        }
    }

    private final class Staged implements StagedRestore {
        final String staging;
        long files;
        long bytes;
        long skipped;
        /**
         * The distinct keys staged (and not pruned since), relative to the staging prefix: what the commit expects to
         * find under the staging. About 85 bytes plus the key's length each.
         */
        final java.util.TreeSet<String> keys = new java.util.TreeSet<>();

        private boolean committed;
        private boolean closed;
        /** Whether a commit that failed had changed the target: the staging prefix is then kept for the operator. */
        private boolean keepStaging;
        /** Whether this commit changed the target already (deleted or copied an object). */
        private boolean changed;

        Staged(String staging) {
            this.staging = staging;
        }

        /** Forgets staged objects deleted by their whole key (staging prefix included). */
        void forget(List<String> deleted) {
            deleted.forEach(k -> keys.remove(k.substring(staging.length())));
        }

        BucketRestoreTarget owner() {
            return BucketRestoreTarget.this;
        }

        @Override
        public Map<String, Object> facts() {
            Map<String, Object> f = new LinkedHashMap<>();
            f.put("target", bucket.location());
            f.put("files", files);
            f.put("bytes", bytes);
            f.put("skipped", skipped);
            return f;
        }

        @Override
        public synchronized void commit() throws IOException {
            if (committed) {
                return;
            }
            long found = 0;
            Iterator<ObjectBucket.Item> staged = list(staging, false);
            while (staged.hasNext()) {
                staged.next();
                found++;
            }
            if (found != keys.size()) {
                throw new IntegrityException(
                        "The staging prefix " + bucket.location() + "/" + staging + " holds " + found
                                + " objects where this restore staged " + keys.size() + " (another process, such as"
                                + " another restore into the same prefix, changed it): nothing in the target was"
                                + " changed; restore again.",
                        null,
                        bucket.location(),
                        null);
            }
            long copied = 0;
            try {
                if (replaceExisting) {
                    // first: a server that keeps objects as files (MinIO, S3Proxy) cannot hold "a" while "a/b" exists
                    deleteNotIn();
                }
                Iterator<ObjectBucket.Item> it = list(staging, false);
                while (it.hasNext()) {
                    ObjectBucket.Item o = it.next();
                    changed = true;
                    bucket.copy(o.key(), o.key().substring(staging.length()), o.size());
                    copied++;
                }
            } catch (IOException | RuntimeException e) {
                if (!changed) {
                    throw new RestoreException(
                            "Copying the verified objects from " + bucket.location() + "/" + staging + " into place"
                                    + " failed before any object of the target was changed (" + e.getMessage()
                                    + "): the target is unchanged; restore again.",
                            null,
                            bucket.location(),
                            e);
                }
                keepStaging = true;
                throw new RestoreException(
                        "Copying the verified objects from " + bucket.location() + "/" + staging + " into place failed"
                                + " after " + copied + " objects (" + e.getMessage() + "): the target is partly"
                                + " restored. The staging prefix still holds the whole verified backup; restore again.",
                        null,
                        bucket.location(),
                        e);
            }
            committed = true;
            LOG.info("Copied {} objects into {}", copied, bucket.location());
            try {
                deleteAll(staging);
            } catch (IOException | RuntimeException e) {
                LOG.warn(
                        "Deleting the staging prefix {}/{} failed: {}; the next restore deletes it",
                        bucket.location(),
                        staging,
                        e.toString());
            }
        }

        /** Deletes the target's objects that the staged backup does not have: a merge of two sorted listings. */
        private void deleteNotIn() throws IOException {
            Iterator<ObjectBucket.Item> target = list("", false);
            Iterator<ObjectBucket.Item> staged = list(staging, false);
            String next = staged.hasNext() ? staged.next().key().substring(staging.length()) : null;
            List<String> batch = new ArrayList<>();
            while (target.hasNext()) {
                String key = target.next().key();
                if (isStaging(key)) {
                    continue;
                }
                while (next != null && compareUtf8(next, key) < 0) {
                    next = staged.hasNext() ? staged.next().key().substring(staging.length()) : null;
                }
                if (next == null || !next.equals(key)) {
                    batch.add(key);
                    if (batch.size() == 1000) {
                        changed = true;
                        deleteBatch(batch);
                        batch.clear();
                    }
                }
            }
            if (!batch.isEmpty()) {
                changed = true;
            }
            deleteBatch(batch);
        }

        @Override
        public synchronized void close() {
            if (committed || closed) {
                return;
            }
            closed = true;
            if (keepStaging) {
                LOG.warn(
                        "Kept the staging prefix {}/{}: it holds the whole verified backup of a partly restored"
                                + " target",
                        bucket.location(),
                        staging);
                return;
            }
            try {
                deleteAll(staging);
                LOG.info("Deleted the staged objects under {}/{}; the target is unchanged", bucket.location(), staging);
            } catch (IOException | RuntimeException e) {
                LOG.warn(
                        "Deleting the staging prefix {}/{} failed: {}; the next restore deletes it",
                        bucket.location(),
                        staging,
                        e.toString());
            }
        }
    }

    private static int compareUtf8(String a, String b) {
        return java.util.Arrays.compareUnsigned(
                a.getBytes(java.nio.charset.StandardCharsets.UTF_8),
                b.getBytes(java.nio.charset.StandardCharsets.UTF_8));
    }

    /** Builds a {@link BucketRestoreTarget}. */
    public static final class Builder {
        private final ObjectBucket bucket;
        private boolean replaceExisting;

        private Builder(ObjectBucket bucket) {
            this.bucket = Objects.requireNonNull(bucket, "bucket");
        }

        /**
         * Whether a target that holds objects may be replaced (default false: refused). When true, the commit makes
         * the prefix hold exactly the backup: objects the backup does not have are deleted.
         */
        public Builder replaceExisting(boolean replace) {
            this.replaceExisting = replace;
            return this;
        }

        /** Builds the target. */
        public BucketRestoreTarget build() {
            return new BucketRestoreTarget(bucket, replaceExisting);
        }
    }
}

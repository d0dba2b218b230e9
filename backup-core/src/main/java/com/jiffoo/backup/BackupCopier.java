package com.jiffoo.backup;

import com.jiffoo.backup.internal.CountingDigestInputStream;
import com.jiffoo.backup.internal.UploadCheck;
import com.jiffoo.backup.store.StoreLayout;
import java.io.IOException;
import java.io.InputStream;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Brings a lagging store up to date with another: every committed backup of the source that the destination lacks is
 * copied as stored (the encoded, usually encrypted, bytes: nothing is decoded or re-encoded).
 *
 * <pre>{@code
 * BackupCopier.Result r = BackupCopier.builder().from(primary).to(copy).trust(trust).build().run();
 * }</pre>
 *
 * <p>What it trusts: only source backups its {@link BackupTrust} accepts (with a key: an authenticated manifest), and
 * only data whose SHA-256 and size, computed while the bytes stream to the destination, equal the manifest's; the
 * data object is committed only then, and the destination's manifest is written last (data, sidecar, signature,
 * manifest: the order of a backup). A backup whose data does not match is not copied at all.
 *
 * <p>What it never does: overwrite. A backup committed in the destination (it has a manifest) with the same SHA-256
 * is skipped ({@link Status#PRESENT}); with another SHA-256, or a manifest the trust refuses, it is a
 * {@link Status#CONFLICT} and left alone. Objects of a backup without a manifest in the destination are the leftovers
 * of a copy or backup that did not complete (a {@code kill -9}): invisible to every reader, and replaced.
 *
 * <p>Memory is bounded by the destination's own buffers; backups are copied one at a time, oldest first. Thread-safe
 * if the sinks are; it closes neither sink.
 */
public final class BackupCopier {
    private static final Logger log = LoggerFactory.getLogger(BackupCopier.class);
    private static final int MAX_SMALL_BYTES = com.jiffoo.backup.internal.BoundedJson.MAX_DOCUMENT_BYTES;

    /**
     * The kind of archived WAL ({@code com.jiffoo.backup.wal.WalArchive}): its files live under
     * {@link StoreLayout#WAL_PREFIX}, each committed by a signed manifest without a {@code .sha256} sidecar.
     */
    public static final String WAL_KIND = "wal";

    /** Every kind there is to copy: database, files, base backups and archived WAL. */
    public static final List<String> KINDS = List.of("database", "files", StoreLayout.BASE_BACKUP_KIND, WAL_KIND);

    /** The kinds copied when none are named: all of {@link #KINDS} (a copy restores to a point in time too). */
    public static final List<String> DEFAULT_KINDS = KINDS;

    /** What became of one backup. */
    public enum Status {
        /** Copied and confirmed. */
        COPIED,
        /** Already committed in the destination with the same SHA-256: nothing written. */
        PRESENT,
        /** Committed in the destination with another SHA-256 (or a manifest not trusted there): not overwritten. */
        CONFLICT,
        /** Not trusted in the source (its manifest refused, or its data not as the manifest says): not copied. */
        REFUSED,
        /** Writing it to the destination (or reading the source) failed: nothing of it is committed there. */
        FAILED
    }

    /**
     * One backup's outcome.
     *
     * @param kind   its kind
     * @param key    its data object's key
     * @param status what happened
     * @param bytes  the data bytes copied ({@code 0} unless copied)
     * @param error  why, when it was not copied or present; {@code null} otherwise
     */
    public record Item(String kind, String key, Status status, long bytes, BackupException error) {
        /** True when this backup is now in the destination as in the source. */
        public boolean ok() {
            return status == Status.COPIED || status == Status.PRESENT;
        }
    }

    /**
     * What a run did, one item per source backup considered, in the order handled.
     *
     * @param items the outcomes
     */
    public record Result(List<Item> items) {
        /** Copies the list. */
        public Result {
            items = List.copyOf(items);
        }

        /** The items with this status. */
        public List<Item> with(Status s) {
            return items.stream().filter(i -> i.status() == s).toList();
        }

        /** The first failure (refused, conflict, failed), if any: the run's verdict. */
        public java.util.Optional<BackupException> firstError() {
            return items.stream().filter(i -> !i.ok()).map(Item::error).findFirst();
        }
    }

    private final Sink from;
    private final Sink to;
    private final BackupTrust trust;
    private final List<String> kinds;
    private final Instant since;

    private BackupCopier(Builder b) {
        this.from = Objects.requireNonNull(b.from, "from");
        this.to = Objects.requireNonNull(b.to, "to");
        this.trust = Objects.requireNonNull(b.trust, "trust");
        this.kinds = List.copyOf(b.kinds);
        this.since = b.since;
        if (from.location().equals(to.location())) {
            throw new ConfigurationException(
                    "The source and the destination are the same store (" + from.location() + ").");
        }
    }

    /** A new builder; {@code from}, {@code to} and {@code trust} are required. */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * Copies what the destination lacks.
     *
     * @throws StorageException when the source or the destination cannot be listed (nothing is copied then)
     */
    public Result run() {
        StoredBackups source = StoredBackups.of(from, trust);
        StoredBackups dest = StoredBackups.of(to, trust);
        List<Item> items = new ArrayList<>();
        for (String kind : kinds) {
            StoredBackups.Scan scan = source.scan(kind);
            Set<String> there = listed(to, StoreLayout.kindPrefix(kind));
            for (StoredBackups.Refused r : scan.refused()) {
                if (since != null && r.lastModified().isBefore(since)) {
                    continue;
                }
                items.add(new Item(
                        kind,
                        StoreLayout.dataKeyOf(r.key()),
                        Status.REFUSED,
                        0,
                        new IntegrityException(
                                "Not copied: " + r.reason().getMessage(),
                                StoreLayout.dataKeyOf(r.key()),
                                from.location(),
                                r.reason())));
            }
            List<BackupManifest> todo = new ArrayList<>(scan.committed());
            todo.sort(Comparator.comparing(BackupManifest::completedAt));
            for (BackupManifest m : todo) {
                if (since != null && m.completedAt().isBefore(since)) {
                    continue;
                }
                items.add(one(m, dest, there));
            }
        }
        return new Result(items);
    }

    private Item one(BackupManifest m, StoredBackups dest, Set<String> there) {
        String key = m.objectKey();
        try {
            if (there.contains(m.manifestKey())) {
                BackupManifest d;
                try {
                    d = dest.manifest(key);
                } catch (IntegrityException e) {
                    return new Item(
                            m.kind(),
                            key,
                            Status.CONFLICT,
                            0,
                            new IntegrityException(
                                    "Not copied: " + to.location() + " holds a manifest for " + key
                                            + " that is not trusted there (" + e.getMessage()
                                            + "); it is never overwritten. Check it with `verify`, and delete that"
                                            + " backup there by hand if it is damaged; the next copy then copies it.",
                                    key,
                                    to.location(),
                                    e));
                }
                if (d.objectSha256().equals(m.objectSha256()) || samePlaintext(d, m)) {
                    return new Item(m.kind(), key, Status.PRESENT, 0, null);
                }
                return new Item(
                        m.kind(),
                        key,
                        Status.CONFLICT,
                        0,
                        new IntegrityException(
                                "Not copied: " + to.location() + " holds another backup under " + key + " (SHA-256 "
                                        + d.objectSha256() + ", the source's is " + m.objectSha256()
                                        + "); it is never overwritten. Find out which one is yours with `verify`.",
                                key,
                                to.location(),
                                null));
            }
            long bytes = copy(m, there);
            return new Item(m.kind(), key, Status.COPIED, bytes, null);
        } catch (IntegrityException e) {
            log.warn("copy: {} refused: {}", key, e.getMessage());
            return new Item(m.kind(), key, Status.REFUSED, 0, e);
        } catch (BackupException e) {
            log.warn("copy: {} failed: {}", key, e.getMessage());
            return new Item(m.kind(), key, Status.FAILED, 0, e);
        }
    }

    /**
     * Copies one backup (or archived WAL file) given by its data key, unless the destination holds it already: what
     * {@code WalArchive} does for each copy store right after a push, so that every store holds the same stored bytes.
     *
     * @return the outcome: {@link Status#COPIED} or {@link Status#PRESENT} when the destination now holds it, else
     *         why not ({@link Item#error()})
     * @throws NotFoundException when the source holds no committed backup of that key
     * @throws StorageException  when the destination cannot be listed
     */
    public Item copy(String dataKey) {
        BackupManifest m = StoredBackups.of(from, trust).manifest(dataKey);
        String prefix = dataKey.startsWith(StoreLayout.WAL_PREFIX) ? dataKey : StoreLayout.kindPrefix(m.kind());
        return one(m, StoredBackups.of(to, trust), listed(to, prefix));
    }

    /** Archived WAL whose plaintext is the same: the same file, encrypted twice (pushed to each store on its own). */
    private static boolean samePlaintext(BackupManifest a, BackupManifest b) {
        return WAL_KIND.equals(a.kind())
                && WAL_KIND.equals(b.kind())
                && a.plaintextSize() == b.plaintextSize()
                && a.plaintextSha256() != null
                && a.plaintextSha256().equals(b.plaintextSha256());
    }

    /** Whether objects of the backup {@code m} have a {@code .sha256} sidecar: all but archived WAL. */
    private static boolean hasSidecar(BackupManifest m) {
        return !m.objectKey().startsWith(StoreLayout.WAL_PREFIX);
    }

    /** Copies one backup the destination has no manifest of; returns the data bytes copied. */
    private long copy(BackupManifest m, Set<String> there) {
        String key = m.objectKey();
        // the source's manifest and signature as stored: the signature covers these exact bytes
        byte[] json = readSmall(from, m.manifestKey(), true);
        byte[] signature = readSmall(from, m.signatureKey(), false);
        BackupManifest checked = BackupManifest.fromJson(json, m.manifestKey());
        if (!checked.objectSha256().equals(m.objectSha256())) {
            throw new IntegrityException(
                    "Not copied: the manifest of " + key + " in " + from.location()
                            + " changed while it was being copied; run the copy again.",
                    key,
                    from.location(),
                    null);
        }
        trust.check(checked, json, signature, from.location()); // as read now, not as listed
        byte[] sidecar = null;
        if (hasSidecar(m)) {
            StoredBackups.of(from, trust).checkSidecar(m);
            sidecar = readSmall(from, m.sha256Key(), true);
        }

        // leftovers of a copy or backup that did not complete: no manifest, so no reader sees them
        for (String k : List.of(m.signatureKey(), m.sha256Key(), key)) {
            if (there.contains(k)) {
                log.info("copy: replacing {} in {}: left by a copy or backup that did not complete", k, to.location());
                delete(k);
            }
        }
        Map<String, String> meta = Map.of(BackupPipeline.META_BACKUP_ID, m.id(), BackupPipeline.META_KIND, m.kind());
        Map<String, String> smallMeta = Map.of(
                BackupPipeline.META_BACKUP_ID,
                m.id(),
                BackupPipeline.META_KIND,
                m.kind(),
                BackupPipeline.META_OBJECT_SHA256,
                m.objectSha256());
        long count;
        try (InputStream raw = openSource(key);
                CountingDigestInputStream in = new CountingDigestInputStream(raw);
                SinkOutput out = to.create(key, meta)) {
            UploadCheck.Recorder sent = new UploadCheck.Recorder(out);
            in.transferTo(sent);
            count = in.count();
            String sha = in.sha256();
            if (count != m.objectSize() || !sha.equals(m.objectSha256())) {
                throw new IntegrityException(
                        "Not copied: the data object " + key + " in " + from.location() + " is damaged: it holds "
                                + count + " bytes with SHA-256 " + sha + ", its signed manifest says " + m.objectSize()
                                + " bytes with SHA-256 " + m.objectSha256() + ". Nothing of it was written to "
                                + to.location() + "; restore it from another copy, or copy from a store that holds it"
                                + " intact.",
                        key,
                        from.location(),
                        null);
            }
            try {
                out.commit();
            } catch (ObjectExistsException e) {
                throw new IntegrityException(
                        "Not copied: " + key + " appeared in " + to.location() + " during the copy (a backup or"
                                + " another copy writing it); it is never overwritten. Run the copy again once that"
                                + " finished.",
                        key,
                        to.location(),
                        e);
            }
            UploadCheck.confirm(to, key, sent);
        } catch (IOException e) {
            throw new StorageException(
                    "Cannot copy " + key + " from " + from.location() + " to " + to.location() + ": " + e.getMessage()
                            + ". Nothing of it is committed in " + to.location() + "; run the copy again.",
                    key,
                    to.location(),
                    e);
        }
        if (sidecar != null) {
            writeSmall(m.sha256Key(), sidecar, smallMeta);
        }
        if (signature != null) {
            writeSmall(m.signatureKey(), signature, smallMeta);
        }
        writeSmall(m.manifestKey(), json, smallMeta); // the commit marker, last
        log.info("copy: {} copied from {} to {} ({} bytes)", key, from.location(), to.location(), count);
        return count;
    }

    private InputStream openSource(String key) throws IOException {
        try {
            return from.open(key);
        } catch (NotFoundException e) {
            throw new IntegrityException(
                    "Not copied: the data object " + key + " is missing in " + from.location()
                            + " although its manifest exists; the backup is lost there.",
                    key,
                    from.location(),
                    e);
        }
    }

    private void writeSmall(String key, byte[] bytes, Map<String, String> meta) {
        try (SinkOutput out = to.create(key, meta)) {
            out.write(bytes);
            out.commit();
        } catch (ObjectExistsException e) {
            throw new IntegrityException(
                    "Not copied: " + key + " appeared in " + to.location() + " during the copy; it is never"
                            + " overwritten. Run the copy again.",
                    key,
                    to.location(),
                    e);
        } catch (IOException e) {
            throw new StorageException(
                    "Cannot write " + key + " to " + to.location() + ": " + e.getMessage()
                            + ". The copy of this backup is not committed there; run the copy again.",
                    key,
                    to.location(),
                    e);
        }
        UploadCheck.confirm(to, key, UploadCheck.Recorder.of(bytes));
    }

    private void delete(String key) {
        try {
            to.delete(key);
        } catch (IOException e) {
            throw new StorageException(
                    "Cannot delete the leftover " + key + " in " + to.location() + ": " + e.getMessage(),
                    key,
                    to.location(),
                    e);
        }
    }

    /** The object's bytes, or {@code null} when it is absent and not {@code required}. */
    private static byte[] readSmall(Sink sink, String key, boolean required) {
        try {
            return StoredBackups.readSmall(sink, key, MAX_SMALL_BYTES);
        } catch (NotFoundException e) {
            if (required) {
                throw new IntegrityException(
                        "Not copied: " + key + " vanished from " + sink.location() + " during the copy.",
                        key,
                        sink.location(),
                        e);
            }
            return null;
        }
    }

    private static Set<String> listed(Sink sink, String prefix) {
        try {
            return sink.list(prefix).stream().map(StoredObject::key).collect(Collectors.toSet());
        } catch (IOException e) {
            throw new StorageException(
                    "Cannot list " + prefix + " in " + sink.location() + ": " + e.getMessage()
                            + ". Check that the store is reachable.",
                    null,
                    sink.location(),
                    e);
        }
    }

    /** Builds a {@link BackupCopier}. */
    public static final class Builder {
        private Sink from;
        private Sink to;
        private BackupTrust trust;
        private List<String> kinds = DEFAULT_KINDS;
        private Instant since;

        private Builder() {}

        /** The store to copy from. */
        public Builder from(Sink v) {
            this.from = Objects.requireNonNull(v, "from");
            return this;
        }

        /** The store to bring up to date. */
        public Builder to(Sink v) {
            this.to = Objects.requireNonNull(v, "to");
            return this;
        }

        /** What the source's backups must pass to be copied (and what the destination's manifests are read with). */
        public Builder trust(BackupTrust v) {
            this.trust = Objects.requireNonNull(v, "trust");
            return this;
        }

        /** The kinds to copy (of {@link #KINDS}); {@link #DEFAULT_KINDS} unless set. */
        public Builder kinds(List<String> v) {
            for (String k : v) {
                if (!KINDS.contains(k)) {
                    throw new ConfigurationException("Cannot copy the kind " + k + ": the kinds are " + KINDS + ".");
                }
            }
            this.kinds = List.copyOf(v);
            return this;
        }

        /** Copies only backups completed at or after this instant; all when {@code null} (the default). */
        public Builder since(Instant v) {
            this.since = v;
            return this;
        }

        /** The copier. */
        public BackupCopier build() {
            return new BackupCopier(this);
        }
    }
}

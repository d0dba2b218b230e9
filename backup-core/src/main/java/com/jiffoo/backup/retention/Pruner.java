package com.jiffoo.backup.retention;

import com.jiffoo.backup.BackupManifest;
import com.jiffoo.backup.BackupTrust;
import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.RetentionPolicy;
import com.jiffoo.backup.RetentionPolicy.Verdict;
import com.jiffoo.backup.Sink;
import com.jiffoo.backup.Sink.PartialWrite;
import com.jiffoo.backup.StorageException;
import com.jiffoo.backup.StoredBackups;
import com.jiffoo.backup.StoredObject;
import com.jiffoo.backup.VerificationRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * Applies a {@link RetentionPolicy} to the backups of one kind in a store, and removes what failed runs left behind.
 *
 * <ul>
 *   <li>Only committed backups (with a readable manifest) are judged; the policy keeps the newest and the minimum.</li>
 *   <li>The newest backup whose last recorded verification passed ({@link VerificationRecord}) is always kept,
 *       even when the policy would drop it (e.g. every newer backup is damaged).</li>
 *   <li>A backup that goes is deleted <b>manifest first</b>, then its {@code .sha256}, then its data, so a
 *       half-deleted backup is never mistaken for a good one (without its manifest it is not a backup); its
 *       verification records go last.</li>
 *   <li>Orphans — data or sidecars without a manifest, as an interrupted run or deletion leaves them — are deleted
 *       once older than the grace period (default 24 h), so a backup still being written is never touched.</li>
 *   <li>Unfinished writes of killed runs ({@link Sink#partialWrites}: a local store's {@code .tmp-} files, open S3
 *       and MinIO multipart uploads) older than the same grace period are discarded (files deleted, uploads
 *       aborted).</li>
 *   <li>A dry run deletes nothing and reports what would go, with the rule that keeps or drops each backup.</li>
 * </ul>
 *
 * <pre>{@code
 * PruneReport report = Pruner.builder().sink(store).policy(Retention.maxAgeDays(30)).build().prune("database", true);
 * report.verdicts().forEach(v -> System.out.println((v.keep() ? "keep " : "drop ") + v.backup().id() + ": " + v.reason()));
 * }</pre>
 *
 * <p>Immutable and thread-safe; do not prune one store from two processes at once. Does not close the sink.
 */
public final class Pruner {
    private static final Logger log = LoggerFactory.getLogger(Pruner.class);

    private final Sink sink;
    private final RetentionPolicy policy;
    private final Clock clock;
    private final Duration orphanGrace;
    private final BackupTrust trust;

    private Pruner(Builder b) {
        this.sink = b.sink;
        this.policy = b.policy;
        this.trust = b.trust;
        this.clock = b.clock;
        this.orphanGrace = b.orphanGrace;
    }

    /** A new builder. */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * Prunes the backups of one kind ({@code files}, {@code database}).
     *
     * @param dryRun true to delete nothing and only report
     * @throws StorageException when the store cannot be listed or an object cannot be deleted (what was deleted
     *                          before stays deleted; every backup still listed is whole or invisible)
     */
    public PruneReport prune(String kind, boolean dryRun) {
        StoredBackups backups = StoredBackups.of(sink, trust);
        List<BackupManifest> committed = backups.committed(kind);
        List<Verdict> verdicts = new ArrayList<>(policy.evaluate(committed, clock));
        if (!committed.isEmpty() && verdicts.stream().noneMatch(Verdict::keep)) {
            throw new IllegalStateException("the retention policy " + policy + " would delete every " + kind
                    + " backup; refusing (a policy must keep the newest)");
        }
        keepNewestVerifiedGood(backups, committed, verdicts);
        List<String> deleted = new ArrayList<>();
        for (Verdict v : verdicts) {
            if (v.keep()) {
                continue;
            }
            BackupManifest m = v.backup();
            log.info("{} {} ({})", dryRun ? "would delete" : "deleting", m.objectKey(), v.reason());
            if (!dryRun) {
                for (String key : m.keys()) {
                    delete(key);
                }
                for (StoredObject r : records(backups, m)) {
                    delete(r.key());
                }
            }
            deleted.add(m.objectKey());
        }

        List<String> orphansDeleted = new ArrayList<>();
        List<String> orphansTooYoung = new ArrayList<>();
        Instant cutoff = clock.instant().minus(orphanGrace);
        for (StoredObject o : orphans(kind)) {
            if (o.lastModified().isBefore(cutoff)) {
                log.info("{} orphan {} (no manifest; last written {})", dryRun ? "would delete" : "deleting",
                        o.key(), o.lastModified());
                if (!dryRun) {
                    delete(o.key());
                }
                orphansDeleted.add(o.key());
            } else {
                orphansTooYoung.add(o.key());
            }
        }
        List<PartialWrite> partialDiscarded = new ArrayList<>();
        List<PartialWrite> partialTooYoung = new ArrayList<>();
        for (PartialWrite w : partialWrites(kind)) {
            (w.lastActivity().isBefore(cutoff) ? partialDiscarded : partialTooYoung).add(w);
        }
        for (PartialWrite w : partialDiscarded) {
            log.info("{} the unfinished write of {} ({}; last written {})", dryRun ? "would discard" : "discarding",
                    w.key(), w.id(), w.lastActivity());
            if (!dryRun) {
                discard(w);
            }
        }
        return new PruneReport(kind, dryRun, verdicts, deleted, orphansDeleted, orphansTooYoung, partialDiscarded,
                partialTooYoung);
    }

    /** What killed writers of {@code kind} left: temporary files, open multipart uploads ({@link Sink#partialWrites}). */
    private List<PartialWrite> partialWrites(String kind) {
        try {
            return sink.partialWrites(kind + "/");
        } catch (IOException e) {
            throw new StorageException("Cannot list the unfinished writes under " + kind + "/ in " + sink.location()
                    + ": " + e.getMessage() + ". Check that the store is reachable.", null, sink.location(), e);
        }
    }

    private void discard(PartialWrite w) {
        try {
            sink.discard(w);
        } catch (IOException e) {
            throw new StorageException("Cannot discard the unfinished write of " + w.key() + " (" + w.id() + ") in "
                    + sink.location() + ": " + e.getMessage() + ". Run the prune again once the store is writable"
                    + " (a bucket lifecycle rule AbortIncompleteMultipartUpload is the backstop).", w.key(),
                    sink.location(), e);
        }
    }

    /**
     * Never delete the newest backup that verified good: when every newer backup failed its verification or was
     * never verified, the policy may drop the last one proven restorable, so it is kept whatever the policy says.
     */
    private static void keepNewestVerifiedGood(StoredBackups backups, List<BackupManifest> committed,
                                               List<Verdict> verdicts) {
        for (BackupManifest m : committed) { // newest first
            VerificationRecord last = backups.lastVerification(m).orElse(null);
            if (last == null || !last.passed()) {
                continue;
            }
            for (int i = 0; i < verdicts.size(); i++) {
                Verdict v = verdicts.get(i);
                // by key: a policy may hand back equal manifests, not the very objects it was given
                if (v.backup().objectKey().equals(m.objectKey()) && !v.keep()) {
                    verdicts.set(i, new Verdict(m, true, "newest backup that passed verification ("
                            + last.mode() + ", " + last.verifiedAt() + "); the policy would drop it: " + v.reason()));
                }
            }
            return;
        }
    }

    private List<StoredObject> records(StoredBackups backups, BackupManifest m) {
        try {
            return backups.recordObjects(m.objectKey());
        } catch (IOException e) {
            throw new StorageException("Cannot list the verification records of " + m.objectKey() + " in "
                    + sink.location() + ": " + e.getMessage() + ". Run the prune again once the store is reachable"
                    + " (the backup itself is already deleted; its records are orphans).", m.objectKey(),
                    sink.location(), e);
        }
    }

    /** Data objects, sidecars and verification records of {@code kind} whose manifest does not exist. */
    private List<StoredObject> orphans(String kind) {
        List<StoredObject> objects;
        try {
            objects = sink.list(kind + "/");
        } catch (IOException e) {
            throw new StorageException("Cannot list " + kind + "/ in " + sink.location() + ": " + e.getMessage()
                    + ". Check that the store is reachable.", null, sink.location(), e);
        }
        Set<String> manifests = new HashSet<>();
        for (StoredObject o : objects) {
            if (o.key().endsWith(BackupManifest.MANIFEST_SUFFIX)) {
                manifests.add(BackupManifest.objectKeyOf(o.key()));
            }
        }
        List<StoredObject> out = new ArrayList<>();
        for (StoredObject o : objects) {
            String objectKey = BackupManifest.objectKeyOf(o.key());
            if (!o.key().endsWith(BackupManifest.MANIFEST_SUFFIX) && !manifests.contains(objectKey)) {
                out.add(o);
            }
        }
        return out;
    }

    private void delete(String key) {
        try {
            sink.delete(key);
        } catch (IOException e) {
            throw new StorageException("Cannot delete " + key + " from " + sink.location() + ": " + e.getMessage()
                    + ". Objects deleted before it stay deleted; run the prune again once the store is writable.",
                    key, sink.location(), e);
        }
    }

    /**
     * What a prune did (or, in a dry run, would do).
     *
     * @param kind             the kind pruned
     * @param dryRun           true when nothing was deleted
     * @param verdicts         every committed backup with the rule that keeps or drops it
     * @param deleted          data keys of the backups deleted (or that would be)
     * @param orphansDeleted   orphan objects deleted (or that would be)
     * @param orphansTooYoung  orphan objects left because they are younger than the grace period
     * @param partialWritesDiscarded  unfinished writes of killed runs (temporary files, open multipart uploads;
     *                         {@link Sink#partialWrites}) older than the grace period, discarded (or that would be)
     * @param partialWritesTooYoung   unfinished writes left because they are younger than the grace period (a
     *                         backup may still be running)
     */
    public record PruneReport(String kind, boolean dryRun, List<Verdict> verdicts, List<String> deleted,
                              List<String> orphansDeleted, List<String> orphansTooYoung,
                              List<PartialWrite> partialWritesDiscarded, List<PartialWrite> partialWritesTooYoung) {
        /** Copies the lists. */
        public PruneReport {
            verdicts = List.copyOf(verdicts);
            deleted = List.copyOf(deleted);
            orphansDeleted = List.copyOf(orphansDeleted);
            orphansTooYoung = List.copyOf(orphansTooYoung);
            partialWritesDiscarded = List.copyOf(partialWritesDiscarded);
            partialWritesTooYoung = List.copyOf(partialWritesTooYoung);
        }

        /** A report without unfinished writes. */
        public PruneReport(String kind, boolean dryRun, List<Verdict> verdicts, List<String> deleted,
                           List<String> orphansDeleted, List<String> orphansTooYoung) {
            this(kind, dryRun, verdicts, deleted, orphansDeleted, orphansTooYoung, List.of(), List.of());
        }
    }

    /** Builds a {@link Pruner}. Not thread-safe. */
    public static final class Builder {
        private Sink sink;
        private BackupTrust trust = BackupTrust.STORE;
        private RetentionPolicy policy;
        private Clock clock = Clock.systemUTC();
        private Duration orphanGrace = Duration.ofHours(24);

        private Builder() {
        }

        /** The store. Required. */
        public Builder sink(Sink sink) {
            this.sink = Objects.requireNonNull(sink, "sink");
            return this;
        }

        /**
         * What is accepted as a backup; {@link BackupTrust#STORE} by default (a store written without a key). With
         * a key, pass {@code BackupTrust.of(List.of(pgp))}: a manifest that is not accepted is neither counted by
         * the policy (a planted backup cannot push real ones out) nor deleted.
         */
        public Builder trust(BackupTrust trust) {
            this.trust = Objects.requireNonNull(trust, "trust");
            return this;
        }

        /** The policy. Required. */
        public Builder policy(RetentionPolicy policy) {
            this.policy = Objects.requireNonNull(policy, "policy");
            return this;
        }

        /** The clock ages are measured with; {@link Clock#systemUTC()} by default. */
        public Builder clock(Clock clock) {
            this.clock = Objects.requireNonNull(clock, "clock");
            return this;
        }

        /**
         * How old an orphan, or an unfinished write ({@link Sink#partialWrites}), must be before it is deleted; 24 h
         * by default. Longer than the longest backup, so an object of a backup still being written (its manifest
         * comes last) is never deleted, nor the upload or temporary file it is writing.
         */
        public Builder orphanGracePeriod(Duration grace) {
            Objects.requireNonNull(grace, "grace");
            if (grace.compareTo(Duration.ofMinutes(10)) < 0) {
                throw new IllegalArgumentException("the orphan grace period must be at least 10 minutes (longer than"
                        + " any backup), got " + grace);
            }
            this.orphanGrace = grace;
            return this;
        }

        /** Builds the pruner. */
        public Pruner build() {
            if (sink == null || policy == null) {
                throw new ConfigurationException("A pruner needs a sink and a retention policy: call sink(...) and"
                        + " policy(...).");
            }
            return new Pruner(this);
        }
    }
}

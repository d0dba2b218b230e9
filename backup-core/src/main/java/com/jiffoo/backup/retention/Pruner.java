package com.jiffoo.backup.retention;

import com.jiffoo.backup.BackupChain;
import com.jiffoo.backup.BackupException;
import com.jiffoo.backup.BackupManifest;
import com.jiffoo.backup.BackupTrust;
import com.jiffoo.backup.BackupVerifier;
import com.jiffoo.backup.ClockSkew;
import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.IntegrityException;
import com.jiffoo.backup.RetentionPolicy;
import com.jiffoo.backup.RetentionPolicy.Verdict;
import com.jiffoo.backup.Sink;
import com.jiffoo.backup.Sink.PartialWrite;
import com.jiffoo.backup.StorageException;
import com.jiffoo.backup.StoredBackups;
import com.jiffoo.backup.StoredObject;
import com.jiffoo.backup.VerificationRecord;
import com.jiffoo.backup.store.StoreLayout;
import com.jiffoo.backup.store.multipart.StoreFailure;
import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Applies a {@link RetentionPolicy} to the backups of one kind in a store, and removes what failed runs left behind.
 *
 * <ul>
 *   <li>Only committed backups (with a readable manifest) are judged; the policy keeps the newest and the minimum.</li>
 *   <li>The newest backup whose last recorded verification passed ({@link VerificationRecord}) is always kept,
 *       even when the policy would drop it (e.g. every newer backup is damaged).</li>
 *   <li>The newest backup known to be intact is always kept: before deleting, the backups are checked newest first
 *       ({@link BackupVerifier}'s quick verification: sidecar, size and SHA-256 of the stored object against the
 *       manifest) until one passes — normally the newest, one extra read of one object per kind. Damaged ones are
 *       reported ({@link PruneReport#damaged()}); when none passes, nothing is deleted.</li>
 *   <li>Time from the store is not trusted ({@link ClockSkew}): a backup whose manifest is dated in the future
 *       beyond the {@linkplain Builder#clockSkewTolerance tolerance} is kept but satisfies no keep rule (keep-last N
 *       counts real backups), and while such a backup (or a verification record read) exists the prune refuses to
 *       delete anything unless {@link Builder#allowFutureDated(boolean) allowed}; a future-dated verification
 *       record never counts as a passed one.</li>
 *   <li>A backup that goes is deleted <b>manifest first</b>, then its {@code .sha256}, then its data, so a
 *       half-deleted backup is never mistaken for a good one (without its manifest it is not a backup); its
 *       verification records go last.</li>
 *   <li>A backup any object of which the store keeps locked ({@link Sink#lock}: S3 Object Lock retention) is kept
 *       whole and reported ({@link PruneReport#retained()}), not an error: the locks are read before anything of it
 *       is deleted. So is a backup whose manifest the store refuses to delete (access denied: credentials that may
 *       write but not delete); nothing of it is deleted then.</li>
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
    private final Duration clockSkewTolerance;
    private final boolean allowFutureDated;
    private final Runnable beforeDeleting;

    private Pruner(Builder b) {
        this.sink = b.sink;
        this.policy = b.policy;
        this.trust = b.trust;
        this.clock = b.clock;
        this.orphanGrace = b.orphanGrace;
        this.clockSkewTolerance = b.clockSkewTolerance;
        this.allowFutureDated = b.allowFutureDated;
        this.beforeDeleting = b.beforeDeleting;
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
        ClockSkew skew = ClockSkew.of(clock, clockSkewTolerance);
        List<BackupManifest> committed = backups.committed(kind);
        List<BackupManifest> real =
                committed.stream().filter(m -> !skew.isFuture(m.completedAt())).toList();
        List<Verdict> verdicts = judge(kind, committed, real, skew);
        List<String> futureDated = new ArrayList<>(committed.stream()
                .filter(m -> skew.isFuture(m.completedAt()))
                .map(BackupManifest::manifestKey)
                .toList());
        keepNewestVerifiedGood(backups, real, verdicts, skew, futureDated);
        if (!futureDated.isEmpty() && !dryRun && !allowFutureDated) {
            throw new IntegrityException(
                    "Refusing to prune " + kind + " in " + sink.location() + ": "
                            + skew.finding(futureDated.size() + " object(s)", describe(committed, skew, futureDated))
                            + " Nothing was deleted. To prune the other backups all the same (the future-dated ones are kept"
                            + " and satisfy no keep rule), pass allowFutureDated(true).",
                    futureDated.get(0),
                    sink.location(),
                    null);
        }
        Map<String, String> damaged = keepNewestIntact(kind, real, verdicts);
        keepChainLinks(committed, verdicts);
        List<String> deleted = new ArrayList<>();
        Map<String, String> retained = new LinkedHashMap<>();
        for (int i = 0; i < verdicts.size(); i++) {
            Verdict v = verdicts.get(i);
            if (v.keep()) {
                continue;
            }
            BackupManifest m = v.backup();
            List<StoredObject> records = records(backups, m);
            String why = lockedObject(m, records);
            if (why == null && !dryRun) {
                beforeDeleting.run();
                why = deleteWhole(m, records);
            }
            if (why != null) {
                log.warn("kept {}, which the retention policy drops: {}", m.objectKey(), why);
                retained.put(m.objectKey(), why);
                verdicts.set(i, new Verdict(m, true, "retained: " + why + "; the policy would drop it: " + v.reason()));
                continue;
            }
            log.info("{} {} ({})", dryRun ? "would delete" : "deleted", m.objectKey(), v.reason());
            deleted.add(m.objectKey());
        }

        List<String> orphansDeleted = new ArrayList<>();
        List<String> orphansTooYoung = new ArrayList<>();
        Instant cutoff = clock.instant().minus(orphanGrace);
        for (StoredObject o : orphans(kind)) {
            if (o.lastModified().isBefore(cutoff)) {
                log.info(
                        "{} orphan {} (no manifest; last written {})",
                        dryRun ? "would delete" : "deleting",
                        o.key(),
                        o.lastModified());
                if (!dryRun) {
                    beforeDeleting.run();
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
            log.info(
                    "{} the unfinished write of {} ({}; last written {})",
                    dryRun ? "would discard" : "discarding",
                    w.key(),
                    w.id(),
                    w.lastActivity());
            if (!dryRun) {
                beforeDeleting.run();
                discard(w);
            }
        }
        return new PruneReport(
                kind,
                dryRun,
                verdicts,
                deleted,
                orphansDeleted,
                orphansTooYoung,
                futureDated,
                damaged,
                retained,
                partialDiscarded,
                partialTooYoung);
    }

    /**
     * The first object of the backup (its manifest, signature, sidecar, data, verification records) that the store
     * keeps locked now ({@link Sink#lock}, S3 Object Lock), described; null when none is. Asked before anything of
     * the backup is deleted, so a lock on any part keeps it whole.
     */
    private String lockedObject(BackupManifest m, List<StoredObject> records) {
        List<String> keys = new ArrayList<>(m.keys());
        records.forEach(r -> keys.add(r.key()));
        return locked(sink, keys, clock.instant());
    }

    /**
     * The first of {@code keys} that {@code sink} keeps locked at {@code now} ({@link Sink#lock}, S3 Object Lock),
     * described ({@code KEY is locked (COMPLIANCE) until …}); null when none is. A prune asks this of every object of
     * a backup (or an archived WAL file) before it deletes any, so that a lock on one part keeps it whole.
     *
     * @throws StorageException when a lock cannot be read (nothing should then be deleted)
     */
    public static String locked(Sink sink, List<String> keys, Instant now) {
        for (String key : keys) {
            java.util.Optional<Sink.ObjectLock> lock;
            try {
                lock = sink.lock(key);
            } catch (IOException e) {
                throw new StorageException(
                        "Cannot read the object lock of " + key + " in " + sink.location() + ": " + e.getMessage()
                                + ". Nothing of it was deleted; run the prune again once the store is reachable.",
                        key,
                        sink.location(),
                        e);
            }
            if (lock.isPresent() && lock.get().retainUntil().isAfter(now)) {
                return key + " is locked (" + lock.get().mode() + ") until "
                        + lock.get().retainUntil();
            }
        }
        return null;
    }

    /**
     * Deletes the backup, manifest first, then its other objects and its verification records. When the store
     * refuses to delete the manifest (access denied: the credentials may write but not delete), nothing of the
     * backup is deleted and what the store said is returned; null when the backup was deleted.
     *
     * @throws StorageException when another deletion fails (the backup is then invisible: no manifest)
     */
    private String deleteWhole(BackupManifest m, List<StoredObject> records) {
        List<String> keys = new ArrayList<>(m.keys());
        records.forEach(r -> keys.add(r.key()));
        String refused = deleteAll(sink, keys);
        return refused == null ? null : refused + "; nothing of the backup was deleted";
    }

    /**
     * Deletes {@code keys} from {@code sink} in their order, the first being the one whose deletion makes the rest
     * invisible (a manifest). When the store refuses to delete that first one (access denied: the credentials may
     * write but not delete), nothing is deleted and what the store said is returned; null when all were deleted.
     *
     * @throws StorageException when a deletion fails otherwise (what was deleted before stays deleted)
     */
    public static String deleteAll(Sink sink, List<String> keys) {
        try {
            deleteObject(sink, keys.get(0));
        } catch (BackupException e) {
            if (!deleteDenied(e)) {
                throw e;
            }
            return "the store refused to delete " + keys.get(0) + " (" + e.getMessage() + ")";
        }
        for (String key : keys.subList(1, keys.size())) {
            deleteObject(sink, key);
        }
        return null;
    }

    /** Whether a failed delete was refused for lack of rights (HTTP 403, AccessDenied, a read-only file). */
    private static boolean deleteDenied(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof StoreFailure f && (f.status() == 403 || f.is("AccessDenied"))) {
                return true;
            }
            if (t instanceof java.nio.file.AccessDeniedException) {
                return true;
            }
        }
        return false;
    }

    /** What killed writers of {@code kind} left: temporary files, open multipart uploads ({@link Sink#partialWrites}). */
    private List<PartialWrite> partialWrites(String kind) {
        try {
            return sink.partialWrites(StoreLayout.kindPrefix(kind));
        } catch (IOException e) {
            throw new StorageException(
                    "Cannot list the unfinished writes under " + kind + "/ in " + sink.location() + ": "
                            + e.getMessage() + ". Check that the store is reachable.",
                    null,
                    sink.location(),
                    e);
        }
    }

    private void discard(PartialWrite w) {
        try {
            sink.discard(w);
        } catch (IOException e) {
            throw new StorageException(
                    "Cannot discard the unfinished write of " + w.key() + " (" + w.id() + ") in "
                            + sink.location() + ": " + e.getMessage()
                            + ". Run the prune again once the store is writable"
                            + " (a bucket lifecycle rule AbortIncompleteMultipartUpload is the backstop).",
                    w.key(),
                    sink.location(),
                    e);
        }
    }

    /**
     * The policy's verdicts on the backups dated in the past, in the order of {@code committed}; a backup dated in
     * the future is kept but judged by no rule, so that it never displaces a real one (keep-last N counts real ones).
     */
    private List<Verdict> judge(
            String kind, List<BackupManifest> committed, List<BackupManifest> real, ClockSkew skew) {
        List<Verdict> judged = policy.evaluate(real, clock);
        if (!real.isEmpty() && judged.stream().noneMatch(Verdict::keep)) {
            throw new IllegalStateException("the retention policy " + policy + " would delete every " + kind
                    + " backup; refusing (a policy must keep the newest)");
        }
        List<Verdict> out = new ArrayList<>();
        int next = 0;
        for (BackupManifest m : committed) {
            out.add(
                    skew.isFuture(m.completedAt())
                            ? new Verdict(
                                    m,
                                    true,
                                    "dated in the future (" + m.completedAt()
                                            + "): kept, but it satisfies no keep rule")
                            : judged.get(next++));
        }
        return out;
    }

    /**
     * Never delete the newest backup that verified good: when every newer backup failed its verification or was
     * never verified, the policy may drop the last one proven restorable, so it is kept whatever the policy says.
     * A verification record dated in the future never counts; it is added to {@code futureDated}.
     */
    private static void keepNewestVerifiedGood(
            StoredBackups backups,
            List<BackupManifest> real,
            List<Verdict> verdicts,
            ClockSkew skew,
            List<String> futureDated) {
        for (BackupManifest m : real) { // newest first
            List<VerificationRecord> records = new ArrayList<>(backups.verifications(m));
            for (VerificationRecord r : records) {
                if (skew.isFuture(r.verifiedAt())) {
                    futureDated.add(recordName(r));
                }
            }
            records.removeIf(r -> skew.isFuture(r.verifiedAt()));
            // a failed deep verification stands until a deep one passes, whatever quick ones passed since
            VerificationRecord last = VerificationRecord.standing(records).orElse(null);
            if (last != null && last.passed()) {
                keepAnyway(
                        verdicts,
                        m,
                        "newest backup that passed verification (" + last.mode() + ", " + last.verifiedAt() + ")");
                return;
            }
        }
    }

    /**
     * Never delete the newest backup known to be intact: before anything is deleted, checks the backups dated in
     * the past, newest first, with {@link BackupVerifier}'s quick verification (the {@code .sha256} against the
     * manifest, then the stored object re-read: its size and SHA-256 against the manifest) until one passes — usually
     * the newest, so one extra read of one object — and keeps that one whatever the policy says. Those that fail are
     * kept or dropped by the policy as before, and reported. When none passes, nothing is deleted.
     *
     * @return the damaged backups' data keys with what their check found
     */
    private Map<String, String> keepNewestIntact(String kind, List<BackupManifest> real, List<Verdict> verdicts) {
        Map<String, String> damaged = new LinkedHashMap<>();
        if (verdicts.stream().allMatch(Verdict::keep)) {
            return damaged; // nothing would be deleted: nothing to check
        }
        // the prune's own check is not recorded: a prune deletes, and writes nothing else (verify records)
        BackupVerifier verifier = BackupVerifier.builder()
                .sink(sink)
                .trust(trust)
                .clock(clock)
                .recordResults(false)
                .build();
        for (BackupManifest m : real) { // newest first
            try {
                verifier.verify(m.objectKey(), false);
            } catch (IntegrityException e) {
                log.warn("the backup {} failed the intact check before pruning: {}", m.objectKey(), e.getMessage());
                damaged.put(m.objectKey(), e.getMessage());
                for (int i = 0; i < verdicts.size(); i++) {
                    Verdict v = verdicts.get(i);
                    if (v.backup().objectKey().equals(m.objectKey())) {
                        verdicts.set(i, new Verdict(v.backup(), v.keep(), v.reason() + "; DAMAGED: " + e.getMessage()));
                    }
                }
                continue;
            }
            keepAnyway(
                    verdicts,
                    m,
                    "newest backup that passed the intact check (size and SHA-256 of the stored"
                            + " object match its manifest and checksum file)");
            return damaged;
        }
        throw new IntegrityException(
                "Refusing to prune " + kind + " in " + sink.location() + ": no backup of it"
                        + " passed the intact check (size and SHA-256 of the stored object against its manifest), so none is"
                        + " known to be intact: " + damaged
                        + ". Nothing was deleted. Make a new backup now, then prune again.",
                real.isEmpty() ? null : real.get(0).objectKey(),
                sink.location(),
                null);
    }

    /** Turns the verdict on {@code m} into a keep, naming {@code why} and what the policy said. */
    /**
     * Never leave an increment without its base: every link before a kept increment of a chain
     * ({@link BackupChain}) is kept too, whatever the policy says, so what is kept still restores. Increments after
     * the last kept one may go (their chain is then shorter, still whole).
     */
    private static void keepChainLinks(List<BackupManifest> committed, List<Verdict> verdicts) {
        Map<String, BackupManifest> byId = new java.util.HashMap<>();
        committed.forEach(m -> byId.put(m.id(), m));
        for (Verdict v : List.copyOf(verdicts)) {
            if (!v.keep()) {
                continue;
            }
            BackupManifest cur = v.backup();
            int hops = 0;
            while (hops++ < committed.size()) {
                java.util.Optional<String> parent = BackupChain.parentId(cur);
                BackupManifest p = parent.map(byId::get).orElse(null);
                if (p == null) {
                    break;
                }
                keepAnyway(verdicts, p, "a link of the chain of " + v.backup().id() + ", which is kept");
                cur = p;
            }
        }
    }

    private static void keepAnyway(List<Verdict> verdicts, BackupManifest m, String why) {
        for (int i = 0; i < verdicts.size(); i++) {
            Verdict v = verdicts.get(i);
            // by key: a policy may hand back equal manifests, not the very objects it was given
            if (v.backup().objectKey().equals(m.objectKey()) && !v.keep()) {
                verdicts.set(i, new Verdict(m, true, why + "; the policy would drop it: " + v.reason()));
            }
        }
    }

    private static String recordName(VerificationRecord r) {
        return StoreLayout.verificationPrefix(r.objectKey()) + "*";
    }

    /** The future-dated objects, each with its date and how far ahead it is. */
    private static List<String> describe(List<BackupManifest> committed, ClockSkew skew, List<String> futureDated) {
        List<String> out = new ArrayList<>();
        for (BackupManifest m : committed) {
            if (futureDated.contains(m.manifestKey())) {
                out.add(skew.describe(m.manifestKey(), m.completedAt()));
            }
        }
        for (String key : futureDated) {
            if (key.endsWith("*")) {
                out.add("a verification record " + key);
            }
        }
        return out;
    }

    private List<StoredObject> records(StoredBackups backups, BackupManifest m) {
        try {
            return backups.recordObjects(m.objectKey());
        } catch (IOException e) {
            throw new StorageException(
                    "Cannot list the verification records of " + m.objectKey() + " in "
                            + sink.location() + ": " + e.getMessage()
                            + ". Nothing of this backup was deleted; run the prune again once the store is"
                            + " reachable.",
                    m.objectKey(),
                    sink.location(),
                    e);
        }
    }

    /** Data objects, sidecars and verification records of {@code kind} whose manifest does not exist. */
    private List<StoredObject> orphans(String kind) {
        List<StoredObject> objects;
        try {
            objects = sink.list(StoreLayout.kindPrefix(kind));
        } catch (IOException e) {
            throw new StorageException(
                    "Cannot list " + kind + "/ in " + sink.location() + ": " + e.getMessage()
                            + ". Check that the store is reachable.",
                    null,
                    sink.location(),
                    e);
        }
        Set<String> manifests = new HashSet<>();
        for (StoredObject o : objects) {
            if (StoreLayout.isManifestKey(o.key())) {
                manifests.add(StoreLayout.dataKeyOf(o.key()));
            }
        }
        List<StoredObject> out = new ArrayList<>();
        for (StoredObject o : objects) {
            String objectKey = StoreLayout.dataKeyOf(o.key());
            if (!StoreLayout.isManifestKey(o.key()) && !manifests.contains(objectKey)) {
                out.add(o);
            }
        }
        return out;
    }

    private void delete(String key) {
        deleteObject(sink, key);
    }

    /**
     * Deletes one object of a pruned backup (or archived WAL file) from {@code sink}: the one deletion every prune
     * makes, with the one message that says what a failure leaves behind.
     *
     * @throws StorageException when the store cannot delete it; what was deleted before stays deleted
     */
    public static void deleteObject(Sink sink, String key) {
        try {
            sink.delete(key);
        } catch (IOException e) {
            throw new StorageException(
                    "Cannot delete " + key + " from " + sink.location() + ": " + e.getMessage()
                            + ". Objects deleted before it stay deleted; run the prune again once the store is writable.",
                    key,
                    sink.location(),
                    e);
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
     * @param futureDated      objects dated in the future beyond the tolerance: manifest keys, and
     *                         {@code <data key>.verified-*} for a backup's verification records among those read
     * @param damaged          data keys of the backups that failed the intact check before pruning, with what it
     *                         found (checked newest first until one passed)
     * @param retained         data keys of the backups the policy drops but that were kept whole, with why: an
     *                         object of it is still locked ({@link Sink#lock}, S3 Object Lock), or the store refused
     *                         to delete its manifest (access denied); their verdicts say "retained"
     * @param partialWritesDiscarded  unfinished writes of killed runs (temporary files, open multipart uploads;
     *                         {@link Sink#partialWrites}) older than the grace period, discarded (or that would be)
     * @param partialWritesTooYoung   unfinished writes left because they are younger than the grace period (a
     *                         backup may still be running)
     */
    public record PruneReport(
            String kind,
            boolean dryRun,
            List<Verdict> verdicts,
            List<String> deleted,
            List<String> orphansDeleted,
            List<String> orphansTooYoung,
            List<String> futureDated,
            Map<String, String> damaged,
            Map<String, String> retained,
            List<PartialWrite> partialWritesDiscarded,
            List<PartialWrite> partialWritesTooYoung) {
        /** Copies the lists. */
        public PruneReport {
            verdicts = List.copyOf(verdicts);
            deleted = List.copyOf(deleted);
            orphansDeleted = List.copyOf(orphansDeleted);
            orphansTooYoung = List.copyOf(orphansTooYoung);
            futureDated = List.copyOf(futureDated);
            damaged = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(damaged));
            retained = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(retained));
            partialWritesDiscarded = List.copyOf(partialWritesDiscarded);
            partialWritesTooYoung = List.copyOf(partialWritesTooYoung);
        }
    }

    /** Builds a {@link Pruner}. Not thread-safe. */
    public static final class Builder {
        private Sink sink;
        private BackupTrust trust = BackupTrust.STORE;
        private RetentionPolicy policy;
        private Clock clock = Clock.systemUTC();
        private Duration orphanGrace = Duration.ofHours(24);
        private Duration clockSkewTolerance = ClockSkew.DEFAULT_TOLERANCE;
        private boolean allowFutureDated;
        private Runnable beforeDeleting = () -> {};

        private Builder() {}

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

        /**
         * How far in the future a manifest's completion time (or a verification record's time) may lie before the
         * backup counts as dated in the future; {@link ClockSkew#DEFAULT_TOLERANCE 5 minutes} by default.
         */
        public Builder clockSkewTolerance(Duration tolerance) {
            this.clockSkewTolerance = ClockSkew.checkTolerance(tolerance);
            return this;
        }

        /**
         * Whether to prune while objects dated in the future exist; false by default: the prune then refuses with an
         * {@link IntegrityException} naming them and deletes nothing. Allowed, the future-dated backups are still
         * kept (and satisfy no keep rule); the others are pruned by the policy.
         */
        public Builder allowFutureDated(boolean allow) {
            this.allowFutureDated = allow;
            return this;
        }

        /**
         * Runs {@code check} before each deletion (a backup, an orphan, an unfinished write; never in a dry run). A
         * {@link RuntimeException} it throws ends the prune there and is thrown by {@link #prune}: what was deleted
         * before stays deleted, every backup still listed is whole. The Spring Boot starter's prune job checks there
         * that it still holds its advisory lock. Nothing by default.
         */
        public Builder beforeDeleting(Runnable check) {
            this.beforeDeleting = Objects.requireNonNull(check, "check");
            return this;
        }

        /** Builds the pruner. */
        public Pruner build() {
            if (sink == null || policy == null) {
                throw new ConfigurationException(
                        "A pruner needs a sink and a retention policy: call sink(...) and" + " policy(...).");
            }
            return new Pruner(this);
        }
    }
}

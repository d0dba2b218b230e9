package com.jiffoo.backup.files;

import com.jiffoo.backup.BackupChain;
import com.jiffoo.backup.BackupManifest;
import com.jiffoo.backup.IntegrityException;
import com.jiffoo.backup.Sink;
import com.jiffoo.backup.StorageException;
import com.jiffoo.backup.StoredObject;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Chains of incremental file backups: a full backup followed by increments, each holding what changed since the one
 * before it ({@link DirectorySource.Builder#chain}). It decides whether the next backup is a full one or an increment
 * ({@link #plan}) ({@link com.jiffoo.backup.BackupChain#links} finds the links to apply, in order, to restore one).
 *
 * <p>Policy: a new chain (a full backup) starts when there is no backup of a chain of the same directory, when the
 * newest chain already has {@code fullEvery} increments (default {@value #DEFAULT_FULL_EVERY}: with hourly backups,
 * one full backup a day) or when its full backup is older than {@code fullAfter} (default one day). Otherwise the
 * next backup is an increment of the newest backup of the chain. A chain that cannot be restored (a link missing, its
 * manifest refused, or replaced: {@link BackupChain#links} fails) is never built on: the next backup is a full one,
 * and the plan's reason says why.
 *
 * <p>Immutable and thread-safe.
 */
public final class FileChain {
    private static final Logger log = LoggerFactory.getLogger(FileChain.class);
    /** Increments after which the next backup is a full one: 23, so hourly backups make one full backup a day. */
    public static final int DEFAULT_FULL_EVERY = 23;
    /** Age of the chain's full backup after which the next backup is a full one. */
    public static final Duration DEFAULT_FULL_AFTER = Duration.ofDays(1);

    private final int fullEvery;
    private final Duration fullAfter;

    private FileChain(int fullEvery, Duration fullAfter) {
        this.fullEvery = fullEvery;
        this.fullAfter = fullAfter;
    }

    /** The default policy: a full backup after 23 increments or when the chain's full backup is a day old. */
    public static FileChain policy() {
        return new FileChain(DEFAULT_FULL_EVERY, DEFAULT_FULL_AFTER);
    }

    /**
     * A policy.
     *
     * @param fullEvery increments after which the next backup is full (at least 1)
     * @param fullAfter age of the chain's full backup after which the next backup is full
     */
    public static FileChain policy(int fullEvery, Duration fullAfter) {
        if (fullEvery < 1) {
            throw new IllegalArgumentException("fullEvery must be at least 1, got " + fullEvery);
        }
        if (Objects.requireNonNull(fullAfter, "fullAfter").isNegative() || fullAfter.isZero()) {
            throw new IllegalArgumentException("fullAfter must be positive, got " + fullAfter);
        }
        return new FileChain(fullEvery, fullAfter);
    }

    /**
     * What the next backup of {@code directory} is.
     *
     * @param parent the backup it is an increment of; empty for a full backup
     * @param reason why, for the log and the summary
     */
    public record Plan(Optional<BackupManifest> parent, String reason) {}

    /**
     * Plans the next backup of {@code directory} from the store's committed files backups (newest first, as
     * {@link com.jiffoo.backup.StoredBackups#committed} gives them).
     */
    public Plan plan(List<BackupManifest> committed, java.nio.file.Path directory, Instant now) {
        return plan(
                committed, "directory", directory.toAbsolutePath().normalize().toString(), now);
    }

    /**
     * Plans the next backup of the bucket {@code bucketLocation} ({@link BucketSource}'s {@code bucket} fact, e.g.
     * {@code s3://shop-uploads/media}) from the store's committed files backups, as {@link #plan(List,
     * java.nio.file.Path, Instant)} does for a directory.
     */
    public Plan planBucket(List<BackupManifest> committed, String bucketLocation, Instant now) {
        return plan(committed, "bucket", bucketLocation, now);
    }

    /**
     * Plans the next backup of a bucket written to several stores, as {@link #plan(List, Function,
     * java.nio.file.Path, Instant)} does for a directory.
     */
    public Plan planBucket(
            List<Sink> receivers, Function<Sink, List<BackupManifest>> committed, String bucketLocation, Instant now) {
        return plan(receivers, list -> planBucket(list, bucketLocation, now), committed);
    }

    private Plan plan(List<BackupManifest> committed, String fact, String dir, Instant now) {
        for (BackupManifest m : committed) {
            if (!dir.equals(m.sourceFacts().get(fact))) {
                continue;
            }
            Optional<Long> level = level(m);
            if (level.isEmpty()) {
                return new Plan(
                        Optional.empty(),
                        "the newest backup of " + dir + ", " + m.id()
                                + ", is not part of a chain: starting one with a full backup");
            }
            if (level.get() >= fullEvery) {
                return new Plan(
                        Optional.empty(),
                        "the chain of " + m.id() + " has " + level.get() + " increments (full every " + fullEvery
                                + "): a full backup");
            }
            BackupManifest base = level.get() == 0 ? m : null;
            Instant baseTime = base != null ? base.completedAt() : baseTime(m, committed);
            if (baseTime == null || !baseTime.plus(fullAfter).isAfter(now)) {
                return new Plan(
                        Optional.empty(),
                        "the full backup of the chain of " + m.id() + " is older than " + fullAfter
                                + " (or gone): a full backup");
            }
            try {
                BackupChain.links(m, committed);
            } catch (IntegrityException e) {
                return new Plan(
                        Optional.empty(),
                        "the chain of " + m.id() + " cannot be restored (" + e.getMessage()
                                + "): a full backup instead of an increment of it");
            }
            return new Plan(Optional.of(m), "an increment of " + m.id() + " (level " + (level.get() + 1) + ")");
        }
        return new Plan(Optional.empty(), "no earlier backup of " + dir + " in the store: a full backup");
    }

    /**
     * Plans the next backup of {@code directory} when it is written to several stores: {@code receivers}, the store
     * first, then its copies. The plan is made from the store's backups ({@code committed} lists them, e.g.
     * {@code s -> StoredBackups.of(s, trust).committed("files")}), and an increment is kept only when every receiver
     * holds its parent (object and manifest): a copy that missed the parent would get an increment it cannot restore,
     * so the backup is a full one instead. When the store cannot be listed and there are copies, the backup is a full
     * one too, so the copies still get a backup (writing to the store then fails as it would have, and is reported).
     *
     * @throws com.jiffoo.backup.StorageException when the store cannot be listed and there are no copies
     */
    public Plan plan(
            List<Sink> receivers,
            Function<Sink, List<BackupManifest>> committed,
            java.nio.file.Path directory,
            Instant now) {
        return plan(receivers, list -> plan(list, directory, now), committed);
    }

    private Plan plan(
            List<Sink> receivers,
            Function<List<BackupManifest>, Plan> planner,
            Function<Sink, List<BackupManifest>> committed) {
        Plan plan;
        try {
            plan = planner.apply(committed.apply(receivers.get(0)));
        } catch (StorageException e) {
            if (receivers.size() < 2) {
                throw e;
            }
            log.warn("Cannot list the store to plan the increment: {}", e.getMessage());
            return new Plan(
                    Optional.empty(),
                    "the store " + receivers.get(0).location()
                            + " cannot be listed, so there is no parent to build on: a full backup, so the copies"
                            + " still get one");
        }
        if (plan.parent().isEmpty()) {
            return plan;
        }
        BackupManifest parent = plan.parent().get();
        for (Sink s : receivers.subList(1, receivers.size())) {
            String lacks;
            try {
                List<String> keys = s.list(parent.objectKey()).stream()
                        .map(StoredObject::key)
                        .toList();
                lacks = keys.contains(parent.objectKey()) && keys.contains(parent.manifestKey())
                        ? null
                        : "does not hold it";
            } catch (IOException | RuntimeException e) {
                lacks = "cannot be listed (" + e.getMessage() + ")";
            }
            if (lacks != null) {
                return new Plan(
                        Optional.empty(),
                        "the copy store " + s.location() + " " + lacks + ", the parent " + parent.id()
                                + " of the planned increment: a full backup, so every store gets one it can"
                                + " restore");
            }
        }
        return plan;
    }

    /** The chain level of a backup: 0 for a chain's full backup; empty when it is not part of a chain. */
    public static Optional<Long> level(BackupManifest m) {
        return BackupChain.level(m);
    }

    private static Instant baseTime(BackupManifest m, List<BackupManifest> committed) {
        Object base = ((Map<?, ?>) m.sourceFacts().get(BackupChain.FACT)).get("base");
        return committed.stream()
                .filter(x -> x.id().equals(base))
                .map(BackupManifest::completedAt)
                .findFirst()
                .orElse(null);
    }
}

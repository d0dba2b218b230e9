package com.jiffoo.backup.files;

import com.jiffoo.backup.BackupManifest;
import com.jiffoo.backup.IntegrityException;
import com.jiffoo.backup.NotFoundException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * Chains of incremental file backups: a full backup followed by increments, each holding what changed since the one
 * before it ({@link DirectorySource.Builder#chain}). It decides whether the next backup is a full one or an increment
 * ({@link #plan}) and finds the links to apply, in order, to restore one backup ({@link #links}).
 *
 * <p>Policy: a new chain (a full backup) starts when there is no backup of a chain of the same directory, when the
 * newest chain already has {@code fullEvery} increments (default {@value #DEFAULT_FULL_EVERY}: with hourly backups,
 * one full backup a day) or when its full backup is older than {@code fullAfter} (default one day). Otherwise the
 * next backup is an increment of the newest backup of the chain.
 *
 * <p>Immutable and thread-safe.
 */
public final class FileChain {
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
        String dir = directory.toAbsolutePath().normalize().toString();
        for (BackupManifest m : committed) {
            if (!dir.equals(m.sourceFacts().get("directory"))) {
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
            return new Plan(Optional.of(m), "an increment of " + m.id() + " (level " + (level.get() + 1) + ")");
        }
        return new Plan(Optional.empty(), "no earlier backup of " + dir + " in the store: a full backup");
    }

    /** The chain level of a backup: 0 for a chain's full backup; empty when it is not part of a chain. */
    public static Optional<Long> level(BackupManifest m) {
        if (m.sourceFacts().get(DirectorySource.CHAIN_FACT) instanceof Map<?, ?> c
                && c.get("level") instanceof Number n) {
            return Optional.of(n.longValue());
        }
        return Optional.empty();
    }

    private static Instant baseTime(BackupManifest m, List<BackupManifest> committed) {
        Object base = ((Map<?, ?>) m.sourceFacts().get(DirectorySource.CHAIN_FACT)).get("base");
        return committed.stream()
                .filter(x -> x.id().equals(base))
                .map(BackupManifest::completedAt)
                .findFirst()
                .orElse(null);
    }

    /**
     * The backups to apply, in order, to restore {@code backup}: its chain's full backup first, then each increment
     * up to {@code backup} itself; just {@code backup} when it is not an increment. Each link must be committed in
     * {@code committed} with the SHA-256 its successor recorded for it.
     *
     * @throws NotFoundException  when a link is missing (deleted, or its manifest refused), naming it
     * @throws IntegrityException when a link's stored SHA-256 is not the one its successor recorded (it was replaced)
     */
    public static List<BackupManifest> links(BackupManifest backup, List<BackupManifest> committed) {
        Map<String, BackupManifest> byId = new HashMap<>();
        for (BackupManifest m : committed) {
            byId.put(m.id(), m);
        }
        List<BackupManifest> out = new ArrayList<>();
        BackupManifest cur = backup;
        out.add(cur);
        while (level(cur).orElse(0L) > 0) {
            Map<?, ?> parent =
                    (Map<?, ?>) ((Map<?, ?>) cur.sourceFacts().get(DirectorySource.CHAIN_FACT)).get("parent");
            String id = String.valueOf(parent.get("id"));
            BackupManifest p = byId.get(id);
            if (p == null) {
                throw new NotFoundException(
                        "The chain of " + backup.id() + " is broken: its link " + id + " (parent of " + cur.id()
                                + ") is missing from the store or its manifest is refused, so " + backup.id()
                                + " cannot be restored. Restore a backup of an intact chain (an earlier one, or the"
                                + " full backup "
                                + ((Map<?, ?>) cur.sourceFacts().get(DirectorySource.CHAIN_FACT)).get("base")
                                + " if it is there).",
                        String.valueOf(parent.get("objectKey")),
                        null,
                        null);
            }
            if (!p.objectSha256().equals(parent.get("objectSha256"))) {
                throw new IntegrityException(
                        "The chain of " + backup.id() + " is broken: its link " + id + " has SHA-256 "
                                + p.objectSha256() + " but " + cur.id() + " was made on top of one with "
                                + parent.get("objectSha256") + " (it was replaced). Restore a backup of an intact"
                                + " chain.",
                        p.objectKey(),
                        null,
                        null);
            }
            if (out.size() > 100_000) {
                throw new IntegrityException("The chain of " + backup.id() + " loops; its manifests were edited.");
            }
            out.add(p);
            cur = p;
        }
        Collections.reverse(out);
        return out;
    }
}

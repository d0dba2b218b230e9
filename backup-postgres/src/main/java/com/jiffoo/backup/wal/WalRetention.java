package com.jiffoo.backup.wal;

import com.jiffoo.backup.BackupManifest;
import com.jiffoo.backup.Sink;
import com.jiffoo.backup.StorageException;
import com.jiffoo.backup.retention.Pruner;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Retention of the WAL archive: WAL is kept from the start segment of the oldest kept base backup; what is older
 * goes. Run it after the base backups were pruned, with the base backups that were kept
 * ({@link com.jiffoo.backup.retention.Pruner.PruneReport#verdicts()}).
 *
 * <ul>
 *   <li>A segment, partial segment or backup history file whose segment number is below the oldest kept base
 *       backup's start segment is deleted, on every timeline: no kept base backup replays WAL before its own start.
 *       Everything from that number on is kept, on every timeline.</li>
 *   <li>Timeline history files are always kept (they are small, and recovery needs them to follow a switch).</li>
 *   <li>Without a kept base backup nothing is deleted; nor when a kept base backup's manifest names no start
 *       segment (its WAL cannot be told).</li>
 *   <li>A base backup taken with {@code archive_mode} off ({@link #archivesWal}) never decides: the oldest kept
 *       base backup is the oldest one whose server archived WAL; with none such, nothing is deleted.</li>
 *   <li>Each file goes manifest first (it is no longer archived), then its signature, then its data — as a
 *       backup is pruned.</li>
 *   <li>A file any object of which the store keeps locked ({@link Sink#lock}: S3 Object Lock retention, read before
 *       anything of it is deleted), or whose first object the store refuses to delete (access denied: credentials
 *       that may write but not delete), is kept whole and reported ({@link Report#retained()}), not an error — as
 *       {@link com.jiffoo.backup.retention.Pruner} keeps a locked backup. It goes at the first prune after its lock
 *       ends. So a file is never left with its data but not its manifest (or the other way round) because part of
 *       it is locked.</li>
 *   <li>A dry run deletes nothing and reports what would go.</li>
 * </ul>
 *
 * <p>Immutable and thread-safe; do not prune one store from two processes at once. Does not close the sink.
 */
public final class WalRetention {
    private static final Logger log = LoggerFactory.getLogger(WalRetention.class);

    private final Sink sink;
    private final Long segmentSize;
    private final java.time.Clock clock;

    private WalRetention(Sink sink, Long segmentSize, java.time.Clock clock) {
        this.sink = sink;
        this.segmentSize = segmentSize;
        this.clock = clock;
    }

    /** Retention of the WAL in {@code sink}, with the segment size the base backups' manifests record (else 16 MiB). */
    public static WalRetention of(Sink sink) {
        return new WalRetention(Objects.requireNonNull(sink, "sink"), null, java.time.Clock.systemUTC());
    }

    /** This retention with a fixed WAL segment size. */
    public WalRetention withSegmentSize(long bytes) {
        return new WalRetention(sink, WalSegment.checkSize(bytes), clock);
    }

    /** This retention judging locks ({@link Sink#lock}) at {@code clock}'s time; the system clock by default. */
    public WalRetention withClock(java.time.Clock clock) {
        return new WalRetention(sink, segmentSize, Objects.requireNonNull(clock, "clock"));
    }

    /**
     * What a WAL prune did.
     *
     * @param keepFrom   the first segment kept (the oldest kept base backup's start), or null when nothing may go
     * @param reason     why, in words (which base backup, or why nothing goes)
     * @param dryRun     true when nothing was deleted
     * @param deleted    the archived files deleted (or that would be), by name, oldest first
     * @param deletedKeys every object key deleted (or that would be), in deletion order
     * @param kept       how many archived files are kept (the retained ones included)
     * @param retained   the files the rule drops but that were kept whole, by name (oldest first), with why: an
     *                   object of it is still locked, or the store refused to delete it
     */
    public record Report(
            String keepFrom,
            String reason,
            boolean dryRun,
            List<String> deleted,
            List<String> deletedKeys,
            int kept,
            Map<String, String> retained) {
        /** Copies the lists. */
        public Report {
            deleted = List.copyOf(deleted);
            deletedKeys = List.copyOf(deletedKeys);
            retained = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(retained));
        }

        /** A report with nothing retained. */
        public Report(
                String keepFrom,
                String reason,
                boolean dryRun,
                List<String> deleted,
                List<String> deletedKeys,
                int kept) {
            this(keepFrom, reason, dryRun, deleted, deletedKeys, kept, Map.of());
        }
    }

    /**
     * Deletes the WAL no kept base backup needs.
     *
     * @param keptBases the base backups kept (committed manifests); none: nothing is deleted
     * @param dryRun    true to delete nothing and only report
     * @throws StorageException when the store cannot be listed, a lock cannot be read, or an object cannot be deleted
     *                          (what was deleted before stays deleted; a file whose manifest went is no longer
     *                          archived, and the next prune deletes the rest of it)
     */
    public Report prune(List<BackupManifest> keptBases, boolean dryRun) {
        WalInventory inv = WalInventory.read(sink);
        long size = segmentSize != null ? segmentSize : sizeOf(keptBases);
        if (keptBases.isEmpty()) {
            return new Report(
                    null,
                    "no base backup is kept: WAL is never deleted without one",
                    dryRun,
                    List.of(),
                    List.of(),
                    inv.files().size());
        }
        List<BackupManifest> archiving =
                keptBases.stream().filter(m -> archivesWal(m.sourceFacts())).toList();
        if (archiving.isEmpty()) {
            return new Report(
                    null,
                    "no kept base backup was taken with archive_mode on (" + keptBases.size() + " taken with it off"
                            + " cannot be replayed from the archive): WAL is never deleted on their account",
                    dryRun,
                    List.of(),
                    List.of(),
                    inv.files().size());
        }
        WalSegment oldest = null;
        String oldestId = null;
        for (BackupManifest m : archiving) {
            Object start = m.sourceFacts().get("startWalSegment");
            if (!(start instanceof String s) || !WalSegment.isName(s)) {
                return new Report(
                        null,
                        "the kept base backup " + m.id() + " names no start WAL segment: nothing" + " is deleted",
                        dryRun,
                        List.of(),
                        List.of(),
                        inv.files().size());
            }
            WalSegment seg = WalSegment.parse(s, size);
            if (oldest == null || seg.number() < oldest.number()) {
                oldest = seg;
                oldestId = m.id();
            }
        }
        List<String> deleted = new ArrayList<>();
        List<String> deletedKeys = new ArrayList<>();
        Map<String, String> retained = new java.util.LinkedHashMap<>();
        java.time.Instant now = clock.instant();
        int kept = 0;
        for (WalInventory.WalFile f : inv.files()) {
            if (f.type() == WalInventory.Type.TIMELINE_HISTORY
                    || WalSegment.parse(f.segment(), size).number() >= oldest.number()) {
                kept++;
                continue;
            }
            List<String> keys = f.deletionOrder();
            // every lock first: a file is deleted whole or not at all
            String why = Pruner.locked(sink, keys, now);
            if (why == null && !dryRun) {
                why = Pruner.deleteAll(sink, keys);
            }
            if (why != null) {
                log.warn("kept {}, which is before the oldest kept base backup's start: {}", f.dataKey(), why);
                retained.put(f.name(), why);
                kept++;
                continue;
            }
            log.info(
                    "{} {} (before {}, the start of the oldest kept base backup {})",
                    dryRun ? "would delete" : "deleted",
                    f.dataKey(),
                    oldest.name(),
                    oldestId);
            deletedKeys.addAll(keys);
            deleted.add(f.name());
        }
        return new Report(
                oldest.name(),
                "the start of the oldest kept base backup " + oldestId,
                dryRun,
                deleted,
                deletedKeys,
                kept,
                retained);
    }

    /**
     * True when a base backup's facts say its server archived WAL ({@code archiveMode} {@code on} or {@code always}),
     * or do not say (manifests written before the fact was recorded). A base backup taken with archive_mode off
     * ({@code backup base --allow-no-archive}) has none of its WAL archived: it never decides what WAL may go.
     */
    public static boolean archivesWal(Map<String, Object> facts) {
        Object mode = facts.get("archiveMode");
        return mode == null || "on".equals(mode) || "always".equals(mode);
    }

    /**
     * The retention of base backups by {@code policy}, with those taken with {@code archive_mode} off
     * ({@link #archivesWal} false: {@code backup base --allow-no-archive}) judged apart: they cannot be restored to a
     * point in time, so they must not count toward the base backups a rule keeps for that ({@code --keep-last 2}
     * keeps the two newest that can). The policy judges each group on its own: the PITR base backups as if the others
     * did not exist, the others by the same rules in addition, each verdict on them labelled so.
     */
    public static com.jiffoo.backup.RetentionPolicy basePolicy(com.jiffoo.backup.RetentionPolicy policy) {
        Objects.requireNonNull(policy, "policy");
        return new com.jiffoo.backup.RetentionPolicy() {
            @Override
            public List<com.jiffoo.backup.RetentionPolicy.Verdict> evaluate(
                    List<BackupManifest> backups, java.time.Clock clock) {
                List<BackupManifest> pitr = new ArrayList<>();
                List<BackupManifest> noArchive = new ArrayList<>();
                for (BackupManifest m : backups) {
                    (archivesWal(m.sourceFacts()) ? pitr : noArchive).add(m);
                }
                java.util.Map<BackupManifest, com.jiffoo.backup.RetentionPolicy.Verdict> byBackup =
                        new java.util.IdentityHashMap<>();
                for (com.jiffoo.backup.RetentionPolicy.Verdict v : policy.evaluate(pitr, clock)) {
                    byBackup.put(v.backup(), v);
                }
                for (com.jiffoo.backup.RetentionPolicy.Verdict v : policy.evaluate(noArchive, clock)) {
                    byBackup.put(
                            v.backup(),
                            new com.jiffoo.backup.RetentionPolicy.Verdict(
                                    v.backup(), v.keep(), NO_ARCHIVE + "; " + v.reason()));
                }
                List<com.jiffoo.backup.RetentionPolicy.Verdict> out = new ArrayList<>();
                for (BackupManifest m : backups) {
                    out.add(byBackup.get(m));
                }
                return out;
            }

            @Override
            public String toString() {
                return policy + " (archive_mode off base backups apart)";
            }
        };
    }

    /** How {@link #basePolicy} labels the verdict on a base backup taken with {@code archive_mode} off. */
    public static final String NO_ARCHIVE =
            "archive_mode off: no point-in-time restore (judged apart from the PITR base backups)";

    /** The {@code walSegmentSize} a base backup's manifest records, else 16 MiB. */
    static long sizeOf(List<BackupManifest> bases) {
        for (BackupManifest m : bases) {
            if (m.sourceFacts().get("walSegmentSize") instanceof Number n) {
                return WalSegment.checkSize(n.longValue());
            }
        }
        return WalSegment.DEFAULT_SIZE;
    }
}

package com.jiffoo.backup.wal;

import com.jiffoo.backup.BackupManifest;
import com.jiffoo.backup.BackupTrust;
import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.NotFoundException;
import com.jiffoo.backup.Sink;
import com.jiffoo.backup.StoredBackups;
import com.jiffoo.backup.store.StoreLayout;
import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.NavigableSet;
import java.util.Objects;
import java.util.TreeSet;

/**
 * Is the WAL archive in a store continuous — can every kept base backup be restored, and replayed to the newest
 * archived segment? Reads the listing of {@code wal/} ({@link WalInventory}), the base backups' manifests (kind
 * {@value StoreLayout#BASE_BACKUP_KIND}; source facts {@code systemIdentifier}, {@code timeline},
 * {@code startWalSegment}, {@code stopWalSegment}), every WAL file's manifest and signature, and, through a
 * {@link HistoryReader}, the timeline history files.
 *
 * <p>The rules:
 *
 * <ul>
 *   <li>The check runs from the start segment of the oldest base backup (or {@link Builder#since}) to the newest
 *       committed segment of the newest timeline. A WAL file counts only when committed (its manifest exists) and
 *       its manifest passes {@link WalArchive#manifest(Sink, BackupTrust, String, String)} — the check a fetch makes:
 *       its signature checks out with the {@linkplain Builder#trust trust}, it describes this very file (key and
 *       name), and it records no other cluster than the one checked ({@link Builder#systemIdentifier}; by default the
 *       newest base backup's {@code systemIdentifier}). A file that
 *       fails is {@linkplain Report#rejected() rejected}: reported, never counted, so a planted or copied manifest
 *       cannot close a gap or make the archive look fresh. With {@link Builder#deep} each counted file is also
 *       fetched (downloaded, decrypted, its SHA-256 checked) and discarded.</li>
 *   <li>Timeline switches are followed through the newest timeline's history file: a switch from timeline 1 to 2 at
 *       position X needs the segments of timeline 1 before X's segment, then those of timeline 2 from X's segment on
 *       (the segment holding X is replayed from the new timeline; the old one's copy is only archived as
 *       {@code .partial}). Without a history reader (or when the history file is missing) the switch is inferred:
 *       each timeline begins at its lowest archived segment ({@link Report#switchPointsInferred()}).</li>
 *   <li>Every timeline above 1 that has archived segments needs its history file: recovery cannot follow the
 *       switch without it.</li>
 *   <li>A base backup is restorable when every segment from its start to its stop segment is archived on its
 *       timeline.</li>
 *   <li>The archive's signed head ({@link WalHead}, written by every push of a segment) must not name a later
 *       segment than the newest one counted: else the archive lost its tail ({@link Report#tailMissing()}), which a
 *       listing alone cannot tell from a tail never written. An invalid head is reported too; an absent one is
 *       noted only ({@link Report#headProblem()}).</li>
 * </ul>
 *
 * <pre>{@code
 * WalContinuity.Report r = WalContinuity.builder().sink(store).trust(trust).build().check();
 * r.gaps().forEach(g -> System.out.println("missing " + g.first() + " .. " + g.last()));
 * }</pre>
 *
 * <p>Immutable and thread-safe; does not close the sink.
 */
public final class WalContinuity {
    /** Reads the text of a committed timeline history file (decrypted and decompressed). */
    @FunctionalInterface
    public interface HistoryReader {
        /**
         * The file's text.
         *
         * @throws IOException when it cannot be read
         */
        String read(WalInventory.WalFile history) throws IOException;

        /**
         * Reads history files through {@code archive}: fetched (signature, checksum, decryption checked) into a
         * private temporary file, read, deleted.
         */
        static HistoryReader of(WalArchive archive) {
            Objects.requireNonNull(archive, "archive");
            return history -> {
                java.nio.file.Path tmp = java.nio.file.Files.createTempFile("jiffoo-history-", ".tmp");
                try {
                    if (archive.fetch(history.name(), tmp) != WalArchive.Fetched.FOUND) {
                        throw new IOException(history.name() + " is no longer in the archive");
                    }
                    return java.nio.file.Files.readString(tmp, java.nio.charset.StandardCharsets.UTF_8);
                } finally {
                    java.nio.file.Files.deleteIfExists(tmp);
                }
            };
        }
    }

    private final Sink sink;
    private final BackupTrust trust;
    private final Long segmentSize;
    private final HistoryReader historyReader;
    private final String since;
    private final Long timeline;
    private final Clock clock;
    private final WalArchive deep;
    private final int parallelism;
    private final String systemIdentifier;

    private WalContinuity(Builder b) {
        this.sink = b.sink;
        this.trust = b.trust;
        this.segmentSize = b.segmentSize;
        this.historyReader = b.historyReader;
        this.since = b.since;
        this.timeline = b.timeline;
        this.clock = b.clock;
        this.deep = b.deep;
        this.parallelism = b.parallelism;
        this.systemIdentifier = b.systemIdentifier;
    }

    /** A new builder. */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * A missing stretch of WAL on one timeline.
     *
     * @param timeline the timeline
     * @param first    the first missing segment's name
     * @param last     the last missing segment's name
     * @param count    how many segments are missing
     * @param cut      the base backups that start before it: none of them can be replayed past it
     */
    public record Gap(long timeline, String first, String last, long count, List<String> cut) {
        /** Copies the list. */
        public Gap {
            cut = List.copyOf(cut);
        }

        /** {@code 000000010000000000000004..000000010000000000000006 (3 segments)}. */
        public String describe() {
            return (count == 1 ? first : first + ".." + last) + " (" + count
                    + (count == 1 ? " segment)" : " segments)");
        }
    }

    /**
     * A base backup and whether its WAL is archived.
     *
     * @param id         the base backup's id
     * @param key        its data key
     * @param timeline   its timeline, or 0 when its manifest does not say
     * @param start      its start segment, or null
     * @param stop       its stop segment, or null
     * @param restorable whether every segment from start to stop is archived
     * @param problem    why not, or null
     */
    public record BaseBackup(
            String id, String key, long timeline, String start, String stop, boolean restorable, String problem) {}

    /**
     * A committed WAL file that is not counted: its manifest is not authenticated, describes another file, belongs to
     * another cluster, or (deep check) its data does not match it.
     *
     * @param name    PostgreSQL's name of the file
     * @param dataKey its data key
     * @param reason  why, as the check's exception said it
     */
    public record Rejected(String name, String dataKey, String reason) {}

    /**
     * What the check found.
     *
     * @param checkedAt            when
     * @param segmentSize          the WAL segment size used
     * @param start                the first segment checked, or null when there is no WAL
     * @param startReason          where it comes from, e.g. {@code the oldest base backup base_20260111_020000}
     * @param newestSegment        the newest committed segment of the newest timeline, or null
     * @param newestArchived       the committed WAL file written last (any type), or null
     * @param newestArchivedAt     when it was committed, or null
     * @param timelines            the timelines followed, oldest first
     * @param gaps                 missing segments, in replay order
     * @param missingHistories     history files needed but not archived, e.g. {@code 00000002.history}
     * @param uncommitted          data keys under {@code wal/} without a manifest (pushes that did not finish)
     * @param bases                every base backup, oldest first
     * @param committedSegments    how many committed segments the store holds
     * @param switchPointsInferred true when a timeline switch was inferred from the segments, not read from its history
     * @param notes                anything else worth saying
     * @param rejected             committed WAL files not counted: their manifest failed the check
     * @param systemIdentifier     the cluster the WAL files were checked against (as configured, else the
     *                             {@code since} base backup's, else the newest base backup's), or null
     * @param deep                 true when every counted file was also downloaded and decrypted
     * @param head                 the archive's signed head ({@link WalHead}) as read and judged: valid, absent,
     *                             invalid (with the reason), unchecked
     * @param tailMissing          when a valid head names a later segment than the newest present: the archive
     *                             lost its tail; else null
     * @param headStale            when a valid head is not advancing (a warning: the backup host may lack delete
     *                             permission on {@link WalHead#KEY}); else null
     */
    public record Report(
            Instant checkedAt,
            long segmentSize,
            String start,
            String startReason,
            String newestSegment,
            String newestArchived,
            Instant newestArchivedAt,
            List<Long> timelines,
            List<Gap> gaps,
            List<String> missingHistories,
            List<String> uncommitted,
            List<BaseBackup> bases,
            int committedSegments,
            boolean switchPointsInferred,
            List<String> notes,
            List<Rejected> rejected,
            String systemIdentifier,
            boolean deep,
            WalHead.Status head,
            WalHead.TailMissing tailMissing,
            String headStale) {
        /** Copies the lists. */
        public Report {
            rejected = List.copyOf(rejected);
            timelines = List.copyOf(timelines);
            gaps = List.copyOf(gaps);
            missingHistories = List.copyOf(missingHistories);
            uncommitted = List.copyOf(uncommitted);
            bases = List.copyOf(bases);
            notes = List.copyOf(notes);
        }

        /** True when no segment is archived at all. */
        public boolean noWal() {
            return newestSegment == null;
        }

        /**
         * True when nothing is missing and nothing was rejected: no gap, no missing history file, every base backup
         * restorable, no WAL file whose manifest failed the check, no lost tail and no invalid head
         * ({@link #headProblem()}).
         */
        public boolean continuous() {
            return gaps.isEmpty()
                    && missingHistories.isEmpty()
                    && unrestorable().isEmpty()
                    && rejected.isEmpty()
                    && headProblem() == null;
        }

        /**
         * What the archive's signed head says is wrong: its tail is missing, the head is invalid (tampered or
         * damaged: where the archive ends cannot be told), or it is missing although the newest segment's signed
         * manifest says the archive keeps one (deleted); null when none. An absent head of an archive written before
         * heads existed is no problem (a note). A stale head ({@link #headStale()}) is a warning, not a problem.
         */
        public String headProblem() {
            if (tailMissing != null) {
                return tailMissing.describe();
            }
            if (head != null && head.state() == WalHead.State.INVALID) {
                return "the WAL archive's signed head (" + WalHead.KEY + ") is invalid, tampered or damaged: "
                        + head.reason() + "; where the archive ends cannot be told (its newest segments may have"
                        + " been deleted)";
            }
            if (head != null && head.state() == WalHead.State.MISSING) {
                return head.reason() + " (" + WalHead.KEY + "); where the archive ends cannot be told (its newest"
                        + " segments may have been deleted with it)";
            }
            return null;
        }

        /** The base backups that cannot be restored. */
        public List<BaseBackup> unrestorable() {
            return bases.stream().filter(b -> !b.restorable()).toList();
        }

        /**
         * The report as plain values for JSON (strings, numbers, booleans, lists and maps of them), in a stable order:
         * {@code start}, {@code startReason}, {@code newestSegment}, {@code newestArchived}, {@code newestArchivedAt},
         * {@code ageSeconds}, {@code segments}, {@code timelines}, {@code gaps} (timeline, first, last, count, cut),
         * {@code missingHistories}, {@code unrestorable}, {@code baseBackups}, {@code uncommitted},
         * {@code switchPointsInferred}, {@code notes}, {@code rejected} (name, key, reason), {@code systemIdentifier},
         * {@code deep}, {@code head} ({@link WalHead.Status#describe()}), {@code tailMissing} (null or why),
         * {@code headStale} (null or why).
         */
        public Map<String, Object> facts() {
            Map<String, Object> f = new java.util.LinkedHashMap<>();
            f.put("start", start);
            f.put("startReason", startReason);
            f.put("newestSegment", newestSegment);
            f.put("newestArchived", newestArchived);
            f.put("newestArchivedAt", newestArchivedAt == null ? null : newestArchivedAt.toString());
            f.put("ageSeconds", newestAge() == null ? null : newestAge().toSeconds());
            f.put("segments", committedSegments);
            f.put("timelines", timelines);
            f.put(
                    "gaps",
                    gaps.stream()
                            .map(g -> Map.of(
                                    "timeline", g.timeline(),
                                    "first", g.first(),
                                    "last", g.last(),
                                    "count", g.count(),
                                    "cut", g.cut()))
                            .toList());
            f.put("missingHistories", missingHistories);
            f.put("unrestorable", unrestorable().stream().map(BaseBackup::id).toList());
            f.put("baseBackups", bases.stream().map(BaseBackup::id).toList());
            f.put("uncommitted", uncommitted);
            f.put("switchPointsInferred", switchPointsInferred);
            f.put("notes", notes);
            f.put(
                    "rejected",
                    rejected.stream()
                            .map(x -> Map.of("name", x.name(), "key", x.dataKey(), "reason", x.reason()))
                            .toList());
            f.put("systemIdentifier", systemIdentifier);
            f.put("deep", deep);
            f.put("head", head == null ? null : head.describe());
            f.put("tailMissing", tailMissing == null ? null : tailMissing.describe());
            f.put("headStale", headStale);
            return f;
        }

        /** How long ago the newest WAL file was committed, or null; never negative. */
        public Duration newestAge() {
            if (newestArchivedAt == null) {
                return null;
            }
            Duration d = Duration.between(newestArchivedAt, checkedAt);
            return d.isNegative() ? Duration.ZERO : d;
        }
    }

    /** One timeline on the way to the newest: its segments from {@code begin} (inclusive) to {@code end} (exclusive). */
    private record Span(long timeline, long begin, long end) {}

    /**
     * Checks the archive.
     *
     * @throws com.jiffoo.backup.StorageException when the store cannot be listed or read
     * @throws NotFoundException                  when {@link Builder#since} names no base backup or segment
     * @throws ConfigurationException             when the trust cannot check a manifest's signature
     */
    public Report check() {
        return check(WalInventory.read(sink));
    }

    /**
     * Checks the archive as {@code inv} lists it (read from the same store), so that a caller who needs the listing
     * too reads it once.
     *
     * @throws com.jiffoo.backup.StorageException when the base backups cannot be listed
     * @throws NotFoundException                  when {@link Builder#since} names no base backup or segment, or
     *                                            {@link Builder#timeline} has no archived segment
     */
    public Report check(WalInventory listed) {
        Objects.requireNonNull(listed, "listed");
        Instant now = clock.instant();
        List<BackupManifest> baseManifests =
                new ArrayList<>(StoredBackups.of(sink, trust).committed(StoreLayout.BASE_BACKUP_KIND));
        baseManifests.sort(Comparator.comparing(BackupManifest::completedAt));
        long size = segmentSize != null ? segmentSize : WalRetention.sizeOf(baseManifests);
        List<String> notes = new ArrayList<>();
        String cluster = systemIdentifier != null ? systemIdentifier : cluster(baseManifests, since, notes);
        List<Rejected> rejected = new ArrayList<>();
        WalInventory inv = authenticated(listed, cluster, rejected, notes);

        Map<Long, NavigableSet<Long>> segments = new HashMap<>();
        for (WalInventory.WalFile f : inv.committed(WalInventory.Type.SEGMENT)) {
            WalSegment s = WalSegment.parse(f.segment(), size);
            segments.computeIfAbsent(s.timeline(), t -> new TreeSet<>()).add(s.number());
        }
        int committedSegments =
                segments.values().stream().mapToInt(NavigableSet::size).sum();
        WalHead.Judged head = judgeHead(listed, baseManifests, cluster, segments, size, notes);
        Map<Long, WalInventory.WalFile> histories = new HashMap<>();
        for (WalInventory.WalFile f : inv.committed(WalInventory.Type.TIMELINE_HISTORY)) {
            histories.put(f.timeline(), f);
        }
        List<String> uncommitted =
                inv.uncommitted().stream().map(WalInventory.WalFile::dataKey).toList();
        WalInventory.WalFile newestFile = inv.newest();

        List<BaseBackup> bases = new ArrayList<>();
        for (BackupManifest m : baseManifests) {
            bases.add(base(m, segments, size));
        }
        if (segments.isEmpty()) {
            return new Report(
                    now,
                    size,
                    null,
                    null,
                    null,
                    newestFile == null ? null : newestFile.name(),
                    newestFile == null ? null : newestFile.lastModified(),
                    List.of(),
                    List.of(),
                    List.of(),
                    uncommitted,
                    bases,
                    0,
                    false,
                    notes,
                    rejected,
                    cluster,
                    deep != null,
                    head.status(),
                    head.tail(),
                    head.stale());
        }

        long newestTimeline =
                segments.keySet().stream().mapToLong(Long::longValue).max().orElseThrow();
        if (timeline != null) {
            if (!segments.containsKey(timeline)) {
                throw new NotFoundException(
                        "No WAL segment of timeline " + timeline + " is archived in " + sink.location()
                                + " (archived timelines: " + new TreeSet<>(segments.keySet()) + ").",
                        TimelineHistory.fileName(timeline),
                        sink.location(),
                        null);
            }
            newestTimeline = timeline;
        }
        long end = segments.get(newestTimeline).last();
        List<String> missingHistories = new ArrayList<>();
        for (long tl : new TreeSet<>(segments.keySet())) {
            if (tl > 1 && tl <= newestTimeline && !histories.containsKey(tl)) {
                missingHistories.add(TimelineHistory.fileName(tl));
            }
        }
        for (long tl : new TreeSet<>(histories.keySet())) {
            if (tl > newestTimeline && timeline == null) {
                notes.add("timeline " + tl + " has its history file but no archived segment yet: a server was"
                        + " promoted moments ago, or the segments of that timeline are missing");
            }
        }
        boolean[] inferred = {false};
        List<Span> chain = chain(newestTimeline, segments, histories, size, inferred, notes);

        // where to start
        WalSegment start;
        String startReason;
        if (since != null) {
            BaseBackup b = bases.stream()
                    .filter(x -> x.id().equals(since) || x.key().equals(since))
                    .findFirst()
                    .orElse(null);
            if (b != null && b.start() != null) {
                start = WalSegment.parse(b.start(), size);
                startReason = "the base backup " + b.id();
            } else if (WalSegment.isName(since)) {
                start = WalSegment.parse(since, size);
                startReason = "the segment given";
            } else {
                throw new NotFoundException(
                        "No base backup " + since + " with a start segment in " + sink.location()
                                + ": give a base backup's id as `list` shows it, or a 24-hex-digit segment name.",
                        since,
                        sink.location(),
                        null);
            }
        } else {
            BaseBackup oldest = bases.stream()
                    .filter(b -> b.start() != null)
                    .min(Comparator.comparingLong(
                            b -> WalSegment.parse(b.start(), size).number()))
                    .orElse(null);
            if (oldest != null) {
                start = WalSegment.parse(oldest.start(), size);
                startReason = "the oldest base backup " + oldest.id();
            } else {
                Span first = chain.get(0);
                start = new WalSegment(
                        first.timeline(), segments.get(first.timeline()).first(), size);
                startReason = "the oldest archived segment (there is no base backup)";
            }
        }
        int from = 0;
        while (from < chain.size() && chain.get(from).timeline() != start.timeline()) {
            from++;
        }
        if (from == chain.size()) {
            notes.add("the start segment " + start.name() + " is on timeline " + start.timeline()
                    + ", which does not lead to the newest timeline " + newestTimeline
                    + ": a restore from it cannot reach the newest WAL");
            from = 0;
        }

        List<Gap> gaps = new ArrayList<>();
        List<Long> followed = new ArrayList<>();
        for (int i = from; i < chain.size(); i++) {
            Span span = chain.get(i);
            boolean last = i == chain.size() - 1;
            long lo = Math.max(start.number(), span.begin());
            long hi = last ? end : span.end() - 1;
            followed.add(span.timeline());
            if (hi < lo) {
                continue;
            }
            NavigableSet<Long> have = segments.getOrDefault(span.timeline(), new TreeSet<>());
            long prev = lo - 1;
            for (long n : have.subSet(lo, true, hi, true)) {
                if (n > prev + 1) {
                    gaps.add(gap(span.timeline(), prev + 1, n - 1, size, bases));
                }
                prev = n;
            }
            if (hi > prev) {
                gaps.add(gap(span.timeline(), prev + 1, hi, size, bases));
            }
        }
        return new Report(
                now,
                size,
                start.name(),
                startReason,
                new WalSegment(newestTimeline, end, size).name(),
                newestFile == null ? null : newestFile.name(),
                newestFile == null ? null : newestFile.lastModified(),
                followed,
                gaps,
                missingHistories,
                uncommitted,
                bases,
                committedSegments,
                inferred[0],
                notes,
                rejected,
                cluster,
                deep != null,
                head.status(),
                head.tail(),
                head.stale());
    }

    /** The archive's head judged against the counted segments ({@link WalHead#judge}). */
    private WalHead.Judged judgeHead(
            WalInventory listed,
            List<BackupManifest> bases,
            String cluster,
            Map<Long, NavigableSet<Long>> segments,
            long size,
            List<String> notes) {
        String newestPresent = null;
        for (Map.Entry<Long, NavigableSet<Long>> e : segments.entrySet()) {
            String name = new WalSegment(e.getKey(), e.getValue().last(), size).name();
            newestPresent = newestPresent == null || name.compareTo(newestPresent) > 0 ? name : newestPresent;
        }
        String newestBaseCluster = null;
        for (BackupManifest m : bases) { // oldest first
            Object id = m.sourceFacts().get(WalArchive.SYSTEM_IDENTIFIER);
            newestBaseCluster = id == null ? newestBaseCluster : String.valueOf(id);
        }
        java.util.Set<String> names = new java.util.HashSet<>();
        listed.committed(WalInventory.Type.SEGMENT).forEach(f -> names.add(f.name()));
        long segmentSize = size;
        return WalHead.judge(
                sink,
                trust,
                cluster,
                newestBaseCluster,
                newestPresent,
                names::contains,
                tl -> segments.containsKey(tl)
                        ? new WalSegment(tl, segments.get(tl).last(), segmentSize).name()
                        : null,
                size,
                notes);
    }

    /**
     * The cluster the WAL must belong to, unless {@link Builder#systemIdentifier} says: the {@code systemIdentifier}
     * of the base backup {@code since} names, else of the newest base backup; null without one. Base backups of
     * several clusters in one store are noted.
     */
    private static String cluster(List<BackupManifest> bases, String since, List<String> notes) {
        java.util.Set<String> ids = new java.util.LinkedHashSet<>();
        String newest = null;
        String chosen = null;
        for (BackupManifest m : bases) {
            Object id = m.sourceFacts().get(WalArchive.SYSTEM_IDENTIFIER);
            if (id != null) {
                ids.add(String.valueOf(id));
                newest = String.valueOf(id);
                if (m.id().equals(since) || m.objectKey().equals(since)) {
                    chosen = newest;
                }
            }
        }
        String cluster = chosen != null ? chosen : newest;
        if (ids.size() > 1) {
            notes.add("the base backups belong to " + ids.size() + " clusters " + ids + ": WAL is checked against "
                    + (chosen != null ? "the base backup " + since + "'s" : "the newest base backup's") + " ("
                    + cluster + "); give each cluster its own store or prefix");
        }
        return cluster;
    }

    /**
     * The listing without the committed files whose manifest fails {@link WalArchive#manifest} (or, deep, whose
     * fetch fails with an integrity or decryption error): those go to {@code rejected}. Manifests are read by
     * {@link Builder#parallelism} threads.
     */
    private WalInventory authenticated(
            WalInventory listed, String cluster, List<Rejected> rejected, List<String> notes) {
        List<WalInventory.WalFile> committed =
                listed.files().stream().filter(WalInventory.WalFile::committed).toList();
        trust.authenticator().ifPresent(com.jiffoo.backup.Authenticator::prepare);
        java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(
                Math.max(1, Math.min(parallelism, committed.size())), r -> {
                    Thread t = new Thread(r, "jiffoo-wal-verify");
                    t.setDaemon(true);
                    return t;
                });
        List<java.util.concurrent.Future<String>> verdicts = new ArrayList<>();
        try {
            for (WalInventory.WalFile f : committed) {
                verdicts.add(pool.submit(() -> verdict(f, cluster)));
            }
            java.util.Set<String> drop = new java.util.HashSet<>();
            int vanished = 0;
            for (int i = 0; i < committed.size(); i++) {
                WalInventory.WalFile f = committed.get(i);
                String v;
                try {
                    v = verdicts.get(i).get();
                } catch (java.util.concurrent.ExecutionException e) {
                    if (e.getCause() instanceof RuntimeException re) {
                        throw re;
                    }
                    throw new IllegalStateException(e.getCause());
                }
                if (v == null) {
                    continue;
                }
                drop.add(f.dataKey());
                if (v.equals(VANISHED)) {
                    vanished++;
                } else {
                    rejected.add(new Rejected(f.name(), f.dataKey(), v));
                }
            }
            if (vanished > 0) {
                notes.add(vanished + " WAL file(s) were deleted while the check ran (a prune?); they are not counted");
            }
            return listed.without(drop);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new com.jiffoo.backup.StorageException(
                    "interrupted while checking the WAL manifests", new java.io.InterruptedIOException());
        } finally {
            pool.shutdownNow();
        }
    }

    private static final String VANISHED = "";

    /** Null when the file counts; {@link #VANISHED} when its manifest is gone; else why it is rejected. */
    private String verdict(WalInventory.WalFile f, String cluster) {
        try {
            if (WalArchive.manifest(sink, trust, f.name(), cluster) == null) {
                return VANISHED;
            }
            if (deep != null) {
                java.nio.file.Path tmp = java.nio.file.Files.createTempFile("jiffoo-wal-verify-", ".tmp");
                try {
                    if (deep.fetch(f.name(), tmp) != WalArchive.Fetched.FOUND) {
                        return VANISHED;
                    }
                } finally {
                    java.nio.file.Files.deleteIfExists(tmp);
                }
            }
            return null;
        } catch (com.jiffoo.backup.IntegrityException | com.jiffoo.backup.DecryptionException e) {
            return e.getMessage();
        } catch (java.io.IOException e) {
            throw new com.jiffoo.backup.StorageException(
                    "Cannot create a temporary file to check " + f.name() + ": " + e.getMessage(), e);
        }
    }

    /** The timelines leading to {@code newest}, oldest first, from its history file or inferred from the segments. */
    private List<Span> chain(
            long newest,
            Map<Long, NavigableSet<Long>> segments,
            Map<Long, WalInventory.WalFile> histories,
            long size,
            boolean[] inferred,
            List<String> notes) {
        WalInventory.WalFile history = histories.get(newest);
        if (newest > 1 && history != null && historyReader != null) {
            try {
                TimelineHistory h = TimelineHistory.parse(newest, historyReader.read(history));
                List<Span> out = new ArrayList<>();
                long begin = 0;
                for (TimelineHistory.Switch s : h.switches()) {
                    long switchSegment =
                            WalSegment.containing(s.parent(), s.lsn(), size).number();
                    out.add(new Span(s.parent(), begin, switchSegment));
                    begin = switchSegment;
                }
                out.add(new Span(newest, begin, Long.MAX_VALUE));
                return out;
            } catch (IOException | RuntimeException e) {
                notes.add("could not read " + history.name() + " (" + e.getMessage()
                        + "); the timeline switches were inferred from the segments");
            }
        }
        // the timelines up to the one followed: a later one is not on the way to it
        List<Long> timelines = new ArrayList<>(new TreeSet<>(segments.keySet()).headSet(newest, true));
        inferred[0] = timelines.size() > 1;
        List<Span> out = new ArrayList<>();
        for (int i = 0; i < timelines.size(); i++) {
            long tl = timelines.get(i);
            long begin = i == 0 ? 0 : segments.get(tl).first();
            long endExclusive = i + 1 < timelines.size()
                    ? segments.get(timelines.get(i + 1)).first()
                    : Long.MAX_VALUE;
            out.add(new Span(tl, begin, endExclusive));
        }
        return out;
    }

    private static Gap gap(long timeline, long first, long last, long size, List<BaseBackup> bases) {
        List<String> cut = new ArrayList<>();
        for (BaseBackup b : bases) {
            if (b.start() != null && WalSegment.parse(b.start(), size).number() <= last) {
                cut.add(b.id());
            }
        }
        return new Gap(
                timeline,
                new WalSegment(timeline, first, size).name(),
                new WalSegment(timeline, last, size).name(),
                last - first + 1,
                cut);
    }

    private static BaseBackup base(BackupManifest m, Map<Long, NavigableSet<Long>> segments, long size) {
        Map<String, Object> facts = m.sourceFacts();
        Object start = facts.get("startWalSegment");
        Object stop = facts.get("stopWalSegment");
        if (!(start instanceof String s)
                || !WalSegment.isName(s)
                || !(stop instanceof String e)
                || !WalSegment.isName(e)) {
            return new BaseBackup(
                    m.id(),
                    m.objectKey(),
                    0,
                    null,
                    null,
                    false,
                    "its manifest names no start and stop WAL segment (startWalSegment, stopWalSegment)");
        }
        WalSegment first = WalSegment.parse(s, size);
        WalSegment last = WalSegment.parse(e, size);
        NavigableSet<Long> have = segments.getOrDefault(first.timeline(), new TreeSet<>());
        List<String> missing = new ArrayList<>();
        for (long n = first.number(); n <= last.number(); n++) {
            if (!have.contains(n)) {
                missing.add(new WalSegment(first.timeline(), n, size).name());
            }
        }
        return new BaseBackup(
                m.id(),
                m.objectKey(),
                first.timeline(),
                s,
                e,
                missing.isEmpty(),
                missing.isEmpty()
                        ? null
                        : "WAL it needs to be consistent is not archived: " + missing.size() + " segment(s) from "
                                + missing.get(0));
    }

    /** Builds a {@link WalContinuity}. Not thread-safe. */
    public static final class Builder {
        private Sink sink;
        private BackupTrust trust = BackupTrust.STORE;
        private Long segmentSize;
        private HistoryReader historyReader;
        private String since;
        private Long timeline;
        private Clock clock = Clock.systemUTC();
        private WalArchive deep;
        private int parallelism = 8;
        private String systemIdentifier;

        private Builder() {}

        /**
         * The cluster whose WAL is checked ({@code pg_control_system()}'s system identifier, as a base backup's
         * manifest records it): a WAL file recorded for another cluster is rejected. By default the cluster of the
         * base backup {@link #since} names, else of the newest base backup. A restore passes the base backup it
         * chose: with two clusters archiving into one store, the newest base backup may be the other cluster's.
         */
        public Builder systemIdentifier(String id) {
            this.systemIdentifier = id;
            return this;
        }

        /** The store. Required. */
        public Builder sink(Sink sink) {
            this.sink = Objects.requireNonNull(sink, "sink");
            return this;
        }

        /** Which base backup manifests are accepted; {@link BackupTrust#STORE} by default. */
        public Builder trust(BackupTrust trust) {
            this.trust = Objects.requireNonNull(trust, "trust");
            return this;
        }

        /**
         * The WAL segment size ({@code wal_segment_size}); by default what a base backup's manifest records
         * ({@code walSegmentSize}), else 16 MiB.
         */
        public Builder segmentSize(long bytes) {
            this.segmentSize = WalSegment.checkSize(bytes);
            return this;
        }

        /** How to read a timeline history file; without one, switch points are inferred from the segments. */
        public Builder historyReader(HistoryReader reader) {
            this.historyReader = reader;
            return this;
        }

        /** Check from this base backup (id or data key) or this segment (24-hex name), not from the oldest one. */
        public Builder since(String baseOrSegment) {
            this.since = baseOrSegment;
            return this;
        }

        /**
         * Follow the timelines leading to this one (as {@code recovery_target_timeline = 'N'} does) instead of the
         * newest archived timeline; its newest segment is then the end of the check.
         */
        public Builder timeline(long timeline) {
            if (timeline < 1) {
                throw new ConfigurationException("A timeline is 1 or more, got " + timeline + ".");
            }
            this.timeline = timeline;
            return this;
        }

        /** The clock ages are measured with; {@link Clock#systemUTC()} by default. */
        public Builder clock(Clock clock) {
            this.clock = Objects.requireNonNull(clock, "clock");
            return this;
        }

        /**
         * Also fetches every counted WAL file through {@code archive} (download, SHA-256 of the stored object,
         * decryption, decompression, SHA-256 of the content, all against the authenticated manifest) into a temporary
         * file that is deleted at once; a file that fails is rejected. Costs a full download of the archive; null (the
         * default): manifests and signatures only.
         */
        public Builder deep(WalArchive archive) {
            this.deep = archive;
            return this;
        }

        /** How many manifests (or, deep, files) are checked at once; 8 by default (a remote store's latency). */
        public Builder parallelism(int threads) {
            if (threads < 1) {
                throw new IllegalArgumentException("parallelism must be >= 1, got " + threads);
            }
            this.parallelism = threads;
            return this;
        }

        /** Builds it. */
        public WalContinuity build() {
            if (sink == null) {
                throw new ConfigurationException("WalContinuity needs a store: call sink(...).");
            }
            return new WalContinuity(this);
        }
    }
}

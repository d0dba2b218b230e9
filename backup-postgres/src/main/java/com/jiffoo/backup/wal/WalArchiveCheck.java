package com.jiffoo.backup.wal;

import com.jiffoo.backup.BackupTrust;
import com.jiffoo.backup.ClockSkew;
import com.jiffoo.backup.Sink;
import com.jiffoo.backup.StorageException;
import com.jiffoo.backup.internal.Support;
import com.jiffoo.backup.monitor.Finding;
import com.jiffoo.backup.monitor.HealthStatus;
import com.jiffoo.backup.monitor.StoreCheck;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Function;

/**
 * The monitor's WAL check ({@code wal} in the report), for {@link com.jiffoo.backup.monitor.BackupMonitor.Builder#storeCheck}:
 *
 * <ul>
 *   <li>{@code wal-lag}: the newest committed WAL file is younger than the limit (5 minutes by default), else
 *       CRITICAL — archiving has stopped or fallen behind. No WAL at all is CRITICAL too.</li>
 *   <li>{@code wal-continuity}: {@link WalContinuity} from the oldest base backup finds no missing segment, no missing
 *       history file, no base backup that cannot be restored and no WAL file whose manifest fails authentication
 *       (signature, name, cluster), else CRITICAL. Only authenticated files count, for the lag too.</li>
 *   <li>{@code wal-head}: the archive's signed head ({@link WalHead}) names a later segment than the newest one
 *       present (its tail was deleted), or the head is invalid (tampered or damaged): CRITICAL. An absent head (an
 *       archive written before heads existed) is only said in the summary.</li>
 *   <li>{@code wal-uncommitted}: a data object without manifest older than the limit (a push that died and was not
 *       retried) is a WARNING.</li>
 * </ul>
 *
 * <p><b>Copies</b> ({@link #checksCopies()}): with copies, the monitor runs the same check on each copy, with its own
 * listing, manifests and base backups: {@code wal-lag} against {@link #copyMaxLag} (by default the store's limit),
 * {@code wal-continuity} from the copy's oldest base backup, {@code wal-uncommitted}; and {@code wal-behind}: WAL files
 * the store committed more than that limit ago, after the copy's newest segment, that the copy does not hold
 * (CRITICAL: a copy whose newest file was copied a moment ago may still lag behind the store). Each finding is the
 * copy's ({@link com.jiffoo.backup.monitor.CopyHealth#checks()}).
 *
 * <p>An idle server writes no WAL, so its archive ages: set {@code archive_timeout} (60 s) and a limit above it, or
 * accept the alert on a server with no writes. When the store cannot be read the check throws, and the monitor turns
 * that into a CRITICAL finding. Thread-safe.
 */
public final class WalArchiveCheck implements StoreCheck {
    /** The default limit on the age of the newest archived WAL file: 5 minutes. */
    public static final Duration DEFAULT_MAX_LAG = Duration.ofMinutes(5);

    private final BackupTrust trust;
    private final Duration maxLag;
    private final Duration copyMaxLag;
    private final Long segmentSize;
    private final Function<Sink, WalContinuity.HistoryReader> historyReaders;

    private WalArchiveCheck(
            BackupTrust trust,
            Duration maxLag,
            Duration copyMaxLag,
            Long segmentSize,
            Function<Sink, WalContinuity.HistoryReader> readers) {
        this.trust = trust;
        this.maxLag = maxLag;
        this.copyMaxLag = copyMaxLag;
        this.segmentSize = segmentSize;
        this.historyReaders = readers;
    }

    /**
     * A check that accepts the base backups {@code trust} accepts and allows {@code maxLag}.
     *
     * @param historyReader reads timeline history files (of the store, and of the copies unless
     *                      {@link #historyReaders} says otherwise), or null to infer switch points
     */
    public static WalArchiveCheck create(
            BackupTrust trust, Duration maxLag, WalContinuity.HistoryReader historyReader) {
        positive(maxLag);
        return new WalArchiveCheck(Objects.requireNonNull(trust, "trust"), maxLag, maxLag, null, s -> historyReader);
    }

    private static Duration positive(Duration lag) {
        Objects.requireNonNull(lag, "maxLag");
        if (lag.isNegative() || lag.isZero()) {
            throw new IllegalArgumentException("the WAL lag limit must be positive, got " + lag);
        }
        return lag;
    }

    /** This check with a fixed WAL segment size (else the base backups' manifests say, else 16 MiB). */
    public WalArchiveCheck withSegmentSize(long bytes) {
        return new WalArchiveCheck(trust, maxLag, copyMaxLag, WalSegment.checkSize(bytes), historyReaders);
    }

    /**
     * This check with its own limit for the copies: how old a copy's newest WAL file may be, and how long ago the
     * store may have committed a file the copy lacks ({@code wal-behind}); by default the store's limit. Raise it
     * when the copies are caught up on a schedule ({@code WAL_COPIES=later} and {@code copy --kind wal} every few
     * minutes) rather than by every push.
     */
    public WalArchiveCheck copyMaxLag(Duration lag) {
        return new WalArchiveCheck(trust, maxLag, positive(lag), segmentSize, historyReaders);
    }

    /**
     * This check reading each store's timeline history files through the reader {@code readers} gives for that store
     * (the store, or a copy); a null reader: switch points inferred in that store.
     */
    public WalArchiveCheck historyReaders(Function<Sink, WalContinuity.HistoryReader> readers) {
        return new WalArchiveCheck(trust, maxLag, copyMaxLag, segmentSize, Objects.requireNonNull(readers, "readers"));
    }

    @Override
    public String name() {
        return "wal";
    }

    /** True: the WAL archive of each copy is checked too. */
    @Override
    public boolean checksCopies() {
        return true;
    }

    @Override
    public Outcome check(Sink store, ClockSkew skew) {
        WalInventory listed = WalInventory.read(store);
        return check(store, listed, report(store, listed, skew), skew, maxLag, null, new ArrayList<>(), "");
    }

    @Override
    public Outcome checkCopy(Sink copy, Sink store, ClockSkew skew) {
        WalInventory listed = WalInventory.read(copy);
        WalContinuity.Report r = report(copy, listed, skew);
        List<Finding> findings = new ArrayList<>();
        String compared = behind(listed, r, store, skew, findings);
        return check(copy, listed, r, skew, copyMaxLag, store, findings, compared);
    }

    private WalContinuity.Report report(Sink sink, WalInventory listed, ClockSkew skew) {
        WalContinuity.Builder b = WalContinuity.builder()
                .sink(sink)
                .trust(trust)
                .historyReader(historyReaders.apply(sink))
                .clock(Clock.fixed(skew.now(), java.time.ZoneOffset.UTC));
        if (segmentSize != null) {
            b.segmentSize(segmentSize);
        }
        return b.build().check(listed);
    }

    /**
     * {@code wal-behind}: the committed files of the store after the copy's newest segment, committed there more than
     * the copy's limit ago, that the copy does not hold. Returns a note for the summary.
     */
    private String behind(WalInventory listed, WalContinuity.Report r, Sink store, ClockSkew skew, List<Finding> out) {
        if (r.newestSegment() == null) {
            return ""; // no WAL in the copy: wal-lag says so
        }
        WalInventory inStore;
        try {
            inStore = WalInventory.read(store);
        } catch (StorageException e) {
            return "; not compared with the store (" + store.location() + " cannot be listed)";
        }
        java.util.Set<String> held = new java.util.HashSet<>();
        listed.files().stream().filter(WalInventory.WalFile::committed).forEach(f -> held.add(f.name()));
        List<WalInventory.WalFile> lacking = inStore.files().stream()
                .filter(f -> f.committed()
                        && f.segment() != null
                        && f.segment().compareTo(r.newestSegment()) > 0
                        && !held.contains(f.name())
                        && Duration.between(f.lastModified(), skew.now()).compareTo(copyMaxLag) > 0)
                .sorted(java.util.Comparator.comparing(WalInventory.WalFile::name))
                .toList();
        if (!lacking.isEmpty()) {
            WalInventory.WalFile first = lacking.get(0);
            out.add(new Finding(
                    "wal-behind",
                    HealthStatus.CRITICAL,
                    "the copy lacks " + lacking.size() + " WAL file(s) that the store " + store.location()
                            + " committed more than " + Support.humanDuration(copyMaxLag) + " ago, from "
                            + first.name() + " (committed there "
                            + Support.humanDuration(Duration.between(first.lastModified(), skew.now()))
                            + " ago); the copy's newest segment is " + r.newestSegment() + ". " + CATCH_UP));
        }
        return "";
    }

    private static final String CATCH_UP =
            "Find why in wal-push's log (`FAILED in the copy`) or, with WAL_COPIES=later,"
                    + " in the scheduled `copy --kind wal`; catch the copy up with `jiffoo-backup copy --from STORE --to COPY"
                    + " --kind wal --kind base` (docs/copies.md).";

    /**
     * The findings on one store's report; {@code primary} is null for the store itself, else the store whose copy
     * {@code store} is.
     */
    private Outcome check(
            Sink store,
            WalInventory listed,
            WalContinuity.Report r,
            ClockSkew skew,
            Duration limit,
            Sink primary,
            List<Finding> findings,
            String note) {
        Map<String, Object> facts = new LinkedHashMap<>(r.facts());
        facts.put("maxLagSeconds", limit.toSeconds());
        String advice = primary == null
                ? "archiving has stopped or fallen behind (or the server writes nothing and archive_timeout is off)."
                        + " Check pg_stat_archiver (failed_count, last_failed_wal) and the server's log."
                : "the copy has fallen behind the store " + primary.location() + " (or archiving has stopped). "
                        + CATCH_UP;
        if (r.newestArchivedAt() == null) {
            findings.add(
                    0,
                    new Finding(
                            "wal-lag",
                            HealthStatus.CRITICAL,
                            primary == null
                                    ? "no WAL is archived in " + store.location() + ": set archive_mode = on and"
                                            + " archive_command = 'jiffoo-backup wal-push %p' on the server (see docs/pitr.md)"
                                            + " and check its log."
                                    : "no WAL is archived in the copy " + store.location() + ", while the store "
                                            + primary.location()
                                            + " archives WAL: every store should hold every WAL file. "
                                            + CATCH_UP));
        } else if (skew.isFuture(r.newestArchivedAt())) {
            findings.add(
                    0,
                    new Finding(
                            "wal-lag",
                            HealthStatus.CRITICAL,
                            skew.describe(r.newestArchived(), r.newestArchivedAt())
                                    + ": the WAL archive's age cannot be told. Check the clocks of this host and the store."));
        } else if (r.newestAge().compareTo(limit) > 0) {
            findings.add(
                    0,
                    new Finding(
                            "wal-lag",
                            HealthStatus.CRITICAL,
                            "the newest archived WAL file " + r.newestArchived() + " in " + store.location()
                                    + " was committed " + Support.humanDuration(r.newestAge())
                                    + " ago, more than the limit of " + Support.humanDuration(limit) + ": " + advice));
        }
        List<String> problems = new ArrayList<>();
        for (WalContinuity.Gap g : r.gaps()) {
            problems.add("missing WAL on timeline " + g.timeline() + ": " + g.describe()
                    + (g.cut().isEmpty() ? "" : "; base backups that cannot be replayed past it: " + g.cut()));
        }
        for (String h : r.missingHistories()) {
            problems.add("missing timeline history file " + h + ": recovery cannot follow the switch to its timeline");
        }
        for (WalContinuity.BaseBackup base : r.unrestorable()) {
            problems.add("the base backup " + base.id() + " cannot be restored: " + base.problem());
        }
        for (WalContinuity.Rejected x : r.rejected()) {
            problems.add("the WAL file " + x.name() + " is not counted: " + x.reason());
        }
        for (String p : problems) {
            findings.add(new Finding(
                    "wal-continuity",
                    HealthStatus.CRITICAL,
                    primary == null
                            ? p + ". Take a new base backup now (`backup base`), then find why WAL went missing"
                                    + " (`jiffoo-backup wal-verify`)."
                            : p + " in the copy. " + CATCH_UP + " When the store lacks it too, take a new base"
                                    + " backup now (`backup base`)."));
        }
        if (r.headProblem() != null) {
            findings.add(new Finding(
                    "wal-head",
                    HealthStatus.CRITICAL,
                    r.headProblem() + (primary == null ? "" : " (in the copy)") + ". A restore to the latest would"
                            + " silently end before the lost WAL: find who deleted or changed objects in "
                            + store.location() + " (the store's access log), push any segment still in the server's"
                            + " pg_wal again (wal-push pg_wal/NAME) and take a new base backup now (`backup base`);"
                            + " docs/pitr.md (The archive's head)."));
        }
        if (r.headStale() != null) {
            findings.add(new Finding(
                    "wal-head",
                    HealthStatus.WARNING,
                    r.headStale() + (primary == null ? "" : " (in the copy)") + ". Allow s3:DeleteObject on the"
                            + " single key " + WalHead.KEY + " (docs/s3.md); the next push advances it."));
        }
        long stale = r.uncommitted().isEmpty()
                ? 0
                : listed.uncommitted().stream()
                        .filter(f ->
                                Duration.between(f.lastModified(), skew.now()).compareTo(limit) > 0)
                        .count();
        if (stale > 0) {
            findings.add(new Finding(
                    "wal-uncommitted",
                    HealthStatus.WARNING,
                    stale + " WAL object(s) without manifest older than " + Support.humanDuration(limit)
                            + " (pushes that did not finish): PostgreSQL retries them; if they stay, check the"
                            + " archiver (`jiffoo-backup wal-verify` lists them)."));
        }
        String summary = r.newestSegment() == null
                ? "no WAL archived"
                : "newest " + r.newestArchived() + " " + Support.humanDuration(r.newestAge()) + " old; "
                        + r.committedSegments() + " segments from " + r.start() + " to " + r.newestSegment()
                        + (r.gaps().isEmpty() ? ", continuous" : ", " + r.gaps().size() + " gap(s)")
                        + (r.head() != null && r.head().state() == WalHead.State.ABSENT ? "; no signed head" : "")
                        + note;
        return new Outcome(summary, findings, facts);
    }
}

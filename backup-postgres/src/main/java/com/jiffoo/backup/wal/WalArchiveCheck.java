package com.jiffoo.backup.wal;

import com.jiffoo.backup.BackupTrust;
import com.jiffoo.backup.ClockSkew;
import com.jiffoo.backup.Sink;
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

/**
 * The monitor's WAL check ({@code wal} in the report), for {@link com.jiffoo.backup.monitor.BackupMonitor.Builder#storeCheck}:
 *
 * <ul>
 *   <li>{@code wal-lag}: the newest committed WAL file is younger than the limit (5 minutes by default), else
 *       CRITICAL — archiving has stopped or fallen behind. No WAL at all is CRITICAL too.</li>
 *   <li>{@code wal-continuity}: {@link WalContinuity} from the oldest base backup finds no missing segment, no missing
 *       history file, no base backup that cannot be restored and no WAL file whose manifest fails authentication
 *       (signature, name, cluster), else CRITICAL. Only authenticated files count, for the lag too.</li>
 *   <li>{@code wal-uncommitted}: a data object without manifest older than the limit (a push that died and was not
 *       retried) is a WARNING.</li>
 * </ul>
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
    private final Long segmentSize;
    private final WalContinuity.HistoryReader historyReader;

    private WalArchiveCheck(BackupTrust trust, Duration maxLag, Long segmentSize, WalContinuity.HistoryReader reader) {
        this.trust = trust;
        this.maxLag = maxLag;
        this.segmentSize = segmentSize;
        this.historyReader = reader;
    }

    /**
     * A check that accepts the base backups {@code trust} accepts and allows {@code maxLag}.
     *
     * @param historyReader reads timeline history files, or null to infer switch points
     */
    public static WalArchiveCheck create(
            BackupTrust trust, Duration maxLag, WalContinuity.HistoryReader historyReader) {
        Objects.requireNonNull(maxLag, "maxLag");
        if (maxLag.isNegative() || maxLag.isZero()) {
            throw new IllegalArgumentException("the WAL lag limit must be positive, got " + maxLag);
        }
        return new WalArchiveCheck(Objects.requireNonNull(trust, "trust"), maxLag, null, historyReader);
    }

    /** This check with a fixed WAL segment size (else the base backups' manifests say, else 16 MiB). */
    public WalArchiveCheck withSegmentSize(long bytes) {
        return new WalArchiveCheck(trust, maxLag, WalSegment.checkSize(bytes), historyReader);
    }

    @Override
    public String name() {
        return "wal";
    }

    @Override
    public Outcome check(Sink store, ClockSkew skew) {
        WalContinuity.Builder b = WalContinuity.builder()
                .sink(store)
                .trust(trust)
                .historyReader(historyReader)
                .clock(Clock.fixed(skew.now(), java.time.ZoneOffset.UTC));
        if (segmentSize != null) {
            b.segmentSize(segmentSize);
        }
        WalContinuity.Report r = b.build().check();
        List<Finding> findings = new ArrayList<>();
        Map<String, Object> facts = new LinkedHashMap<>(r.facts());
        facts.put("maxLagSeconds", maxLag.toSeconds());

        if (r.newestArchivedAt() == null) {
            findings.add(new Finding(
                    "wal-lag",
                    HealthStatus.CRITICAL,
                    "no WAL is archived in " + store.location() + ": set archive_mode = on and archive_command ="
                            + " 'jiffoo-backup wal-push %p' on the server (see docs/pitr.md) and check its log."));
        } else if (skew.isFuture(r.newestArchivedAt())) {
            findings.add(new Finding(
                    "wal-lag",
                    HealthStatus.CRITICAL,
                    skew.describe(r.newestArchived(), r.newestArchivedAt())
                            + ": the WAL archive's age cannot be told. Check the clocks of this host and the store."));
        } else if (r.newestAge().compareTo(maxLag) > 0) {
            findings.add(new Finding(
                    "wal-lag",
                    HealthStatus.CRITICAL,
                    "the newest archived WAL file " + r.newestArchived() + " was committed "
                            + Support.humanDuration(r.newestAge()) + " ago, more than the limit of "
                            + Support.humanDuration(maxLag) + ": archiving has stopped or fallen behind (or the"
                            + " server writes nothing and archive_timeout is off). Check pg_stat_archiver"
                            + " (failed_count, last_failed_wal) and the server's log."));
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
                    p + ". Take a new base backup now (`backup base`), then find why WAL went missing"
                            + " (`jiffoo-backup wal-verify`)."));
        }
        long stale = r.uncommitted().isEmpty()
                ? 0
                : WalInventory.read(store).uncommitted().stream()
                        .filter(f ->
                                Duration.between(f.lastModified(), skew.now()).compareTo(maxLag) > 0)
                        .count();
        if (stale > 0) {
            findings.add(new Finding(
                    "wal-uncommitted",
                    HealthStatus.WARNING,
                    stale + " WAL object(s) without manifest older than " + Support.humanDuration(maxLag)
                            + " (pushes that did not finish): PostgreSQL retries them; if they stay, check the"
                            + " archiver (`jiffoo-backup wal-verify` lists them)."));
        }
        String summary = r.newestSegment() == null
                ? "no WAL archived"
                : "newest " + r.newestArchived() + " " + Support.humanDuration(r.newestAge()) + " old; "
                        + r.committedSegments() + " segments from " + r.start() + " to " + r.newestSegment()
                        + (r.gaps().isEmpty() ? ", continuous" : ", " + r.gaps().size() + " gap(s)");
        return new Outcome(summary, findings, facts);
    }
}

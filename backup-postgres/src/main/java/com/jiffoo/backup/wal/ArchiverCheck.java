package com.jiffoo.backup.wal;

import com.jiffoo.backup.ClockSkew;
import com.jiffoo.backup.Sink;
import com.jiffoo.backup.SourceException;
import com.jiffoo.backup.internal.Support;
import com.jiffoo.backup.monitor.Finding;
import com.jiffoo.backup.monitor.HealthStatus;
import com.jiffoo.backup.monitor.StoreCheck;
import com.jiffoo.backup.postgres.PgConnection;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Timestamp;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The monitor's check of the server's archiver ({@code archiver} in the report), so that {@code pg_wal} never fills
 * up silently. Asks the server, over one short JDBC connection:
 *
 * <ul>
 *   <li>the backlog: {@code .ready} files in {@code pg_wal/archive_status} ({@code pg_ls_archive_statusdir()},
 *       PostgreSQL 12 and later; superuser or {@code pg_monitor}) — CRITICAL beyond the limit (10 segments by
 *       default: 160 MiB of 16 MiB segments waiting);</li>
 *   <li>{@code pg_stat_archiver}: CRITICAL when the last attempt failed ({@code last_failed_time} after
 *       {@code last_archived_time}) — {@code archive_command} fails and PostgreSQL keeps retrying;</li>
 *   <li>{@code archive_mode}: CRITICAL when it is off.</li>
 * </ul>
 *
 * <p>A server that cannot be reached or queried makes the check throw: the monitor reports that as CRITICAL.
 * Thread-safe.
 */
public final class ArchiverCheck implements StoreCheck {
    /** The default limit on {@code .ready} files: 10 segments. */
    public static final int DEFAULT_MAX_READY = 10;

    private final PgConnection connection;
    private final int maxReady;

    private ArchiverCheck(PgConnection connection, int maxReady) {
        this.connection = connection;
        this.maxReady = maxReady;
    }

    /** A check of the server {@code connection} names, allowing {@code maxReady} segments waiting. */
    public static ArchiverCheck create(PgConnection connection, int maxReady) {
        if (maxReady < 0) {
            throw new IllegalArgumentException("the archiver backlog limit is 0 or more, got " + maxReady);
        }
        return new ArchiverCheck(Objects.requireNonNull(connection, "connection"), maxReady);
    }

    @Override
    public String name() {
        return "archiver";
    }

    @Override
    public Outcome check(Sink store, ClockSkew skew) {
        try (Connection c = connection.openJdbc();
                Statement st = c.createStatement()) {
            String mode;
            try (ResultSet rs = st.executeQuery("SELECT current_setting('archive_mode')")) {
                rs.next();
                mode = rs.getString(1);
            }
            long ready;
            try (ResultSet rs =
                    st.executeQuery("SELECT count(*) FROM pg_ls_archive_statusdir() WHERE name LIKE '%.ready'")) {
                rs.next();
                ready = rs.getLong(1);
            }
            Map<String, Object> facts = new LinkedHashMap<>();
            List<Finding> findings = new ArrayList<>();
            Instant lastArchived;
            Instant lastFailed;
            try (ResultSet rs = st.executeQuery("SELECT archived_count, last_archived_wal, last_archived_time,"
                    + " failed_count, last_failed_wal, last_failed_time FROM pg_stat_archiver")) {
                rs.next();
                lastArchived = instant(rs.getTimestamp(3));
                lastFailed = instant(rs.getTimestamp(6));
                facts.put("archiveMode", mode);
                facts.put("ready", ready);
                facts.put("maxReady", maxReady);
                facts.put("archivedCount", rs.getLong(1));
                facts.put("lastArchivedWal", rs.getString(2));
                facts.put("lastArchivedTime", lastArchived == null ? null : lastArchived.toString());
                facts.put("failedCount", rs.getLong(4));
                facts.put("lastFailedWal", rs.getString(5));
                facts.put("lastFailedTime", lastFailed == null ? null : lastFailed.toString());
            }
            if (mode.equals("off")) {
                findings.add(new Finding(
                        "archiver",
                        HealthStatus.CRITICAL,
                        "archive_mode is off on " + connection.describe() + ": no WAL is archived. Set archive_mode"
                                + " = on and archive_command (docs/pitr.md), then restart the server."));
            }
            if (lastFailed != null && (lastArchived == null || lastFailed.isAfter(lastArchived))) {
                findings.add(new Finding(
                        "archiver",
                        HealthStatus.CRITICAL,
                        "the last archive attempt failed (" + facts.get("lastFailedWal") + " at " + lastFailed
                                + ", " + facts.get("failedCount") + " failures since the statistics were reset):"
                                + " archive_command fails; read the server's log and run it by hand."));
            }
            if (ready > maxReady) {
                findings.add(new Finding(
                        "archiver",
                        HealthStatus.CRITICAL,
                        ready + " WAL segments wait to be archived (.ready files), more than the limit of " + maxReady
                                + ": archiving does not keep up, and pg_wal grows until the disk is full."));
            }
            String summary = "archive_mode " + mode + ", " + ready + " segment(s) waiting"
                    + (lastArchived == null
                            ? ", nothing archived yet"
                            : ", last archived " + facts.get("lastArchivedWal") + " "
                                    + Support.humanDuration(Duration.between(lastArchived, skew.now())) + " ago");
            return new Outcome(summary, findings, facts);
        } catch (SQLException e) {
            throw new SourceException(
                    "Cannot ask " + connection.describe() + " about its archiver: " + e.getMessage()
                            + ". The monitor's database user needs pg_monitor (or superuser) for"
                            + " pg_ls_archive_statusdir().",
                    e);
        }
    }

    private static Instant instant(Timestamp t) {
        return t == null ? null : t.toInstant();
    }
}

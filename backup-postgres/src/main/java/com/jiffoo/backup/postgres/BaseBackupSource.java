package com.jiffoo.backup.postgres;

import com.github.luben.zstd.ZstdOutputStreamNoFinalizer;
import com.jiffoo.backup.BackupException;
import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.Source;
import com.jiffoo.backup.SourceException;
import com.jiffoo.backup.internal.StageStreams;
import com.jiffoo.backup.store.StoreLayout;
import java.io.IOException;
import java.io.OutputStream;
import java.net.ConnectException;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A {@link Source} that streams a physical base backup of a whole PostgreSQL cluster: {@code pg_basebackup -D - -Ft
 * -X none --checkpoint=fast} through {@link PgChild}, its tar compressed with zstd on all cores. With the archived
 * write-ahead log from its start on, it is the starting point of a point-in-time restore.
 *
 * <p><b>No copy, no file access.</b> The tar comes over the replication protocol on pg_basebackup's stdout and goes
 * straight into the compressor and the stream given to {@link #writeTo}: no temporary copy of PGDATA, no access to
 * the server's file system, memory independent of the cluster's size (zstd's workers hold a few MiB each). The WAL
 * is not in the tar ({@code -X none}): it comes from the archive at restore time, so WAL archiving must be on.
 *
 * <p><b>Requirements.</b> The user needs the {@code REPLICATION} attribute (or superuser) and the server a
 * {@code pg_hba.conf} line of type {@code replication} for this host; {@code max_wal_senders} &gt; 0 and
 * {@code wal_level} {@code replica} or {@code logical} (both defaults). pg_basebackup must be of the server's major
 * version or newer (it refuses a newer server). Only the main tablespace: {@code pg_basebackup -D -} cannot write
 * other tablespaces to one stream, so a cluster with tablespaces is refused before anything runs. {@code archive_mode}
 * must be {@code on} (or {@code always}) unless {@link Builder#allowNoArchive} says otherwise: without archived WAL a
 * base backup is no point-in-time backup.
 *
 * <p><b>Facts</b> (their names are a contract: WAL verification and retention read them): {@code systemIdentifier}
 * (text, from {@code pg_control_system()}), {@code timeline} (int, the backup label's {@code START TIMELINE}),
 * {@code startLsn} (the label's {@code START WAL LOCATION}), {@code stopLsn} (the {@code End-LSN} of the WAL range in
 * the {@code backup_manifest} that pg_basebackup adds to the tar: the server's stop point), {@code startWalSegment} and {@code stopWalSegment}
 * (24 hex digits; the stop segment named as the {@code .backup} history file names it), {@code backupLabel} (the
 * label's text, read from the tar as it passes: {@link BackupLabelScanner}), {@code serverVersion}
 * ({@code server_version_num}), {@code tablespaces} (always empty), and also {@code stopTime} (the server's clock
 * when pg_basebackup ended: a restore to a time before it cannot use this backup), {@code walSegmentSize},
 * {@code archiveMode}, {@code host}, {@code port}, {@code user}, {@code pgBasebackupVersion}, {@code format}
 * ({@code tar}), {@code compression} ({@code zstd}), {@code tarBytes}.
 *
 * <p><b>Standard artifacts.</b> The stored object is {@code base/base_backup_<time>.tar.zst.gpg}: {@code gpg -d |
 * zstd -d | tar -x -C PGDATA} restores it without Java (docs/pitr.md).
 *
 * <pre>{@code
 * BaseBackupSource source = BaseBackupSource.builder(PgConnection.fromEnvironment()).build();
 * BackupManifest m = BackupPipeline.builder().source(source).encryption(pgp).sink(sink).build().run();
 * m.sourceFacts().get("stopLsn");   // "0/2000100"
 * }</pre>
 *
 * <p>Immutable and thread-safe; each {@link #writeTo} runs its own pg_basebackup.
 */
public final class BaseBackupSource implements Source {
    private static final Logger LOG = LoggerFactory.getLogger(BaseBackupSource.class);
    /** One WAL range of backup_manifest: {@code { "Timeline": 1, "Start-LSN": "0/2000028", "End-LSN": "0/2000100" }}. */
    private static final Pattern WAL_RANGE =
            Pattern.compile("\\{\\s*\"Timeline\":\\s*(\\d+),\\s*\"Start-LSN\":\\s*\"([0-9A-Fa-f]+/[0-9A-Fa-f]+)\","
                    + "\\s*\"End-LSN\":\\s*\"([0-9A-Fa-f]+/[0-9A-Fa-f]+)\"\\s*\\}");

    private static final Pattern START =
            Pattern.compile("(?m)^START WAL LOCATION: ([0-9A-Fa-f]+/[0-9A-Fa-f]+) \\(file ([0-9A-F]{24})\\)");
    private static final Pattern TIMELINE = Pattern.compile("(?m)^START TIMELINE: (\\d+)");

    /** The default zstd level of {@link Builder#compressionLevel}. */
    public static final int DEFAULT_COMPRESSION_LEVEL = 3;

    private final PgConnection connection;
    private final PgToolLocator locator;
    private final int compressionLevel;
    private final int workers;
    private final boolean allowNoArchive;
    private final Set<PgChild> running = ConcurrentHashMap.newKeySet();

    private BaseBackupSource(Builder b) {
        this.connection = b.connection;
        this.locator = b.locator;
        this.compressionLevel = b.compressionLevel;
        this.workers = b.workers;
        this.allowNoArchive = b.allowNoArchive;
    }

    /** A builder for a base backup of the cluster {@code connection} reaches (its database is used for queries). */
    public static Builder builder(PgConnection connection) {
        return new Builder(connection);
    }

    /** Returns {@link StoreLayout#BASE_BACKUP_KIND} ({@code "base"}). */
    @Override
    public String kind() {
        return StoreLayout.BASE_BACKUP_KIND;
    }

    /** Returns {@code "base_backup"}. */
    @Override
    public String baseName() {
        return "base_backup";
    }

    /** Returns {@code ".tar.zst"}. */
    @Override
    public String suffix() {
        return ".tar.zst";
    }

    /** E.g. {@code PostgreSQL cluster on 127.0.0.1:5432 as backup (pg_basebackup, tar + zstd -3)}. */
    @Override
    public String describe() {
        return "PostgreSQL cluster on " + where() + " as " + connection.user() + " (pg_basebackup, tar + zstd -"
                + compressionLevel + ")";
    }

    private String where() {
        return connection.host() + ":" + connection.port();
    }

    /**
     * Runs pg_basebackup and streams its tar, zstd-compressed, into {@code out}, which stays open.
     *
     * @return the facts listed in the class comment
     * @throws ConfigurationException when the login or the replication connection is refused, the cluster has
     *         tablespaces, or no fitting pg_basebackup is installed
     * @throws SourceException when the server cannot be reached or pg_basebackup fails
     * @throws IOException when writing to {@code out} fails (pg_basebackup is killed first)
     */
    @Override
    public Map<String, Object> writeTo(OutputStream out) throws IOException {
        Objects.requireNonNull(out, "out");
        Map<String, Object> facts = new LinkedHashMap<>();
        facts.put("host", connection.host());
        facts.put("port", connection.port());
        facts.put("user", connection.user());
        try (Connection jdbc = connection.openJdbc()) {
            int serverVersion = inspect(jdbc, facts);
            PgTool tool = locateTool(serverVersion / 10000);
            facts.put("pgBasebackupVersion", tool.version());
            facts.put("format", "tar");
            facts.put("compression", "zstd");
            long tarBytes;
            String label;
            String manifestTail;
            List<String> argv = List.of(
                    tool.path().toString(),
                    "-D",
                    "-",
                    "-Ft",
                    "-X",
                    "none",
                    "--checkpoint=fast",
                    "--label=jiffoo-backup base",
                    "--no-password",
                    "--verbose");
            LOG.info("base backup of {} with {} {}", describe(), tool.path(), tool.version());
            PgChild child = PgChild.start(argv, connection, ProcessBuilder.Redirect.PIPE, true);
            running.add(child);
            try {
                child.stdin().close();
                ZstdOutputStreamNoFinalizer zstd =
                        new ZstdOutputStreamNoFinalizer(StageStreams.closeShield(out), compressionLevel);
                zstd.setChecksum(true);
                if (workers > 1) {
                    zstd.setWorkers(workers);
                }
                BackupLabelScanner scanner = new BackupLabelScanner(zstd);
                try (scanner) {
                    tarBytes = child.copyStdoutTo(scanner);
                }
                int exit = child.waitFor();
                if (exit != 0) {
                    throw failure(child, exit);
                }
                label = scanner.label();
                manifestTail = scanner.manifestTail();
            } finally {
                child.kill();
                running.remove(child);
            }
            facts.putAll(positions(label, manifestTail, (Long) facts.get("walSegmentSize")));
            facts.put("backupLabel", label);
            facts.put("stopTime", serverNow(jdbc));
            facts.put("tarBytes", tarBytes);
            LOG.info(
                    "base backup of {}: {} tar bytes, WAL {} .. {}",
                    describe(),
                    tarBytes,
                    facts.get("startLsn"),
                    facts.get("stopLsn"));
            return facts;
        } catch (SQLException e) {
            throw sqlFailure(e);
        }
    }

    /** Reads the server's facts and refuses a cluster with tablespaces; returns server_version_num. */
    private int inspect(Connection jdbc, Map<String, Object> facts) throws SQLException {
        int version;
        try (Statement s = jdbc.createStatement();
                ResultSet r = s.executeQuery("SELECT current_setting('server_version_num')::int,"
                        + " (SELECT system_identifier FROM pg_control_system())::text,"
                        + " (SELECT setting::bigint FROM pg_settings WHERE name = 'wal_segment_size'),"
                        + " current_setting('archive_mode'),"
                        + " (SELECT rolreplication OR rolsuper FROM pg_roles WHERE rolname = current_user)")) {
            r.next();
            version = r.getInt(1);
            facts.put("serverVersion", version);
            facts.put("systemIdentifier", r.getString(2));
            facts.put("walSegmentSize", r.getLong(3));
            facts.put("archiveMode", r.getString(4));
            if (!r.getBoolean(5)) {
                throw replicationRefused("the user " + connection.user() + " lacks the REPLICATION attribute");
            }
        }
        List<String> tablespaces = new ArrayList<>();
        try (Statement s = jdbc.createStatement();
                ResultSet r = s.executeQuery("SELECT spcname, pg_tablespace_location(oid) FROM pg_tablespace"
                        + " WHERE spcname NOT IN ('pg_default', 'pg_global') ORDER BY spcname")) {
            while (r.next()) {
                tablespaces.add(r.getString(1) + " (" + r.getString(2) + ")");
            }
        }
        if (!tablespaces.isEmpty()) {
            throw new ConfigurationException(
                    "The cluster on " + where() + " has tablespaces besides the main one: "
                            + String.join(", ", tablespaces) + ". A base backup streams one tar of the main data"
                            + " directory (pg_basebackup -D -), which cannot hold other tablespaces; nothing was"
                            + " backed up. Move their objects to pg_default (ALTER TABLE ... SET TABLESPACE"
                            + " pg_default) or back this cluster up with a tool that copies tablespaces.",
                    null,
                    where(),
                    null);
        }
        facts.put("tablespaces", List.of());
        if (!com.jiffoo.backup.wal.WalRetention.archivesWal(facts)) {
            if (!allowNoArchive) {
                throw new ConfigurationException(
                        "archive_mode is " + facts.get("archiveMode") + " on " + where() + ": no WAL of this server is"
                                + " archived, and a base backup holds no WAL (-X none): it could not even be restored"
                                + " to its own end without the WAL of its duration from elsewhere, let alone to a"
                                + " point in time. Nothing was backed up. Set archive_mode = on and"
                                + " archive_command = 'jiffoo-backup wal-push %p' and restart the server"
                                + " (docs/pitr.md); to take such a backup all the same, allow it explicitly"
                                + " (allowNoArchive, --allow-no-archive).",
                        null,
                        where(),
                        null);
            }
            LOG.warn(
                    "archive_mode is {} on {}: this base backup can only be restored with WAL archived from its"
                            + " start on, and WAL retention ignores it; set archive_mode = on and archive_command"
                            + " (docs/pitr.md)",
                    facts.get("archiveMode"),
                    where());
        }
        return version;
    }

    private PgTool locateTool(int serverMajor) {
        try {
            return locator.locate("pg_basebackup", serverMajor);
        } catch (ConfigurationException e) {
            throw new ConfigurationException(
                    e.getMessage() + " pg_basebackup must be of the server's major version (" + serverMajor
                            + ") or newer: an older one fails with \"incompatible server version\".",
                    null,
                    where(),
                    e);
        }
    }

    /**
     * startLsn, stopLsn, the segments and the timeline, from the label and the WAL range of the backup manifest that
     * pg_basebackup adds to the tar (the server's own stop point, as {@code pg_verifybackup} reads it; pg_basebackup
     * prints its "write-ahead log end point" only when it fetches WAL itself, which {@code -X none} does not).
     */
    private Map<String, Object> positions(String label, String manifestTail, long segmentSize) {
        if (label == null) {
            throw new SourceException(
                    "pg_basebackup of " + where() + " succeeded but its tar held no backup_label; the backup is"
                            + " not usable and was not committed. Report this with pg_basebackup's version.",
                    null,
                    where(),
                    null);
        }
        Matcher start = START.matcher(label);
        Matcher timeline = TIMELINE.matcher(label);
        Matcher range = WAL_RANGE.matcher(manifestTail == null ? "" : manifestTail);
        String end = null;
        while (range.find()) {
            end = range.group(3); // the last range: a backup of a standby may cross a timeline switch
        }
        if (!start.find() || !timeline.find() || end == null) {
            throw new SourceException(
                    "Could not read the WAL start and stop points of the base backup of " + where()
                            + " (backup_label: " + label.strip().replace('\n', ';') + "; backup_manifest "
                            + (manifestTail == null ? "missing" : "without a WAL range") + "). Nothing was committed.",
                    null,
                    where(),
                    null);
        }
        int tli = Integer.parseInt(timeline.group(1));
        WalPosition stop = WalPosition.parse(end);
        Map<String, Object> p = new LinkedHashMap<>();
        p.put("timeline", tli);
        p.put("startLsn", WalPosition.parse(start.group(1)).toString());
        p.put("stopLsn", stop.toString());
        p.put("startWalSegment", start.group(2));
        p.put("stopWalSegment", stop.segmentName(tli, segmentSize));
        return p;
    }

    private static String serverNow(Connection jdbc) throws SQLException {
        try (Statement s = jdbc.createStatement();
                ResultSet r = s.executeQuery(
                        "SELECT to_char(now() AT TIME ZONE 'UTC'," + " 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')")) {
            r.next();
            return r.getString(1);
        }
    }

    private BackupException failure(PgChild child, int exit) {
        String tail = connection.redact(String.join(" | ", child.tail()));
        if (child.cancelled()) {
            return new SourceException(
                    "pg_basebackup of " + where() + " was stopped because the backup was cancelled or failed"
                            + " elsewhere. Nothing was committed.",
                    null,
                    where(),
                    null);
        }
        if (child.said("replication connection")
                || child.said("must be superuser or replication role")
                || child.said("permission denied to start WAL sender")) {
            return replicationRefused("pg_basebackup said: " + tail);
        }
        if (child.said("incompatible server version")) {
            return new ConfigurationException(
                    "pg_basebackup is older than the server on " + where() + ": " + tail + ". Install"
                            + " pg_basebackup of the server's major version or newer (postgresql-client-N).",
                    null,
                    where(),
                    null);
        }
        if (child.said("password authentication failed") || child.said("no password supplied")) {
            return new ConfigurationException(
                    "PostgreSQL at " + where() + " refused the login of " + connection.user() + " for the base"
                            + " backup: " + tail + ". Check the user and password.",
                    null,
                    where(),
                    null);
        }
        return new SourceException(
                "pg_basebackup of " + where() + " " + PgChild.exitText(exit) + ": " + tail
                        + ". Nothing was committed; fix the cause and run the base backup again.",
                null,
                where(),
                null);
    }

    private ConfigurationException replicationRefused(String why) {
        return new ConfigurationException(
                "The server on " + where() + " refused a replication connection for the base backup (" + why
                        + "). A base backup needs a user with the REPLICATION attribute (ALTER ROLE "
                        + connection.user() + " REPLICATION) and a pg_hba.conf line of type replication for this"
                        + " host (host replication " + connection.user() + " <this host>/32 scram-sha-256), then"
                        + " SELECT pg_reload_conf(). Nothing was backed up.",
                null,
                where(),
                null);
    }

    private BackupException sqlFailure(SQLException e) {
        String state = e.getSQLState() == null ? "" : e.getSQLState();
        String msg = connection.redact(String.valueOf(e.getMessage()));
        if (state.equals("28P01") || state.equals("28000")) {
            return new ConfigurationException(
                    "PostgreSQL at " + where() + " refused the login of " + connection.user() + " (" + msg
                            + "). Check the user and password and the server's pg_hba.conf.",
                    null,
                    where(),
                    null);
        }
        if (state.startsWith("08") || e.getCause() instanceof ConnectException) {
            return new SourceException(
                    "Cannot reach the PostgreSQL server at " + where() + " for a base backup (" + msg
                            + "). Check that it is running and that host and port are right.",
                    null,
                    where(),
                    null);
        }
        return new SourceException(
                "Querying the server at " + where() + " for the base backup failed (" + msg + "). Nothing was"
                        + " committed.",
                null,
                where(),
                null);
    }

    /** Kills the pg_basebackup of every backup of this source in progress. */
    @Override
    public void cancel() {
        running.forEach(PgChild::cancel);
    }

    /** Builds a {@link BaseBackupSource}. Not thread-safe. */
    public static final class Builder {
        private final PgConnection connection;
        private PgToolLocator locator = PgToolLocator.system();
        private int compressionLevel = DEFAULT_COMPRESSION_LEVEL;
        private int workers = Runtime.getRuntime().availableProcessors();
        private boolean allowNoArchive;

        private Builder(PgConnection connection) {
            this.connection = Objects.requireNonNull(connection, "connection");
        }

        /** Uses pg_basebackup from this directory only (e.g. {@code /usr/lib/postgresql/16/bin}). */
        public Builder binDirectory(Path directory) {
            this.locator = PgToolLocator.inDirectory(Objects.requireNonNull(directory, "directory"));
            return this;
        }

        /** Finds pg_basebackup with this locator (default {@link PgToolLocator#system()}). */
        public Builder locator(PgToolLocator locator) {
            this.locator = Objects.requireNonNull(locator, "locator");
            return this;
        }

        /** zstd's level, 1..19 (default {@value #DEFAULT_COMPRESSION_LEVEL}). */
        public Builder compressionLevel(int level) {
            if (level < 1 || level > 19) {
                throw new ConfigurationException("The zstd level of a base backup must be 1..19, got " + level + ".");
            }
            this.compressionLevel = level;
            return this;
        }

        /** zstd's worker threads (default: the number of cores; 1 compresses on the copying thread). */
        public Builder workers(int workers) {
            if (workers < 1) {
                throw new ConfigurationException("zstd workers must be at least 1, got " + workers + ".");
            }
            this.workers = workers;
            return this;
        }

        /**
         * Takes the backup even when the server's {@code archive_mode} is off (default false: refused before anything
         * runs, with a {@link ConfigurationException}). Such a backup holds no WAL and none is archived: it
         * restores only with the WAL of its duration supplied by other means; its manifest
         * records {@code archiveMode} and WAL retention ignores it.
         */
        public Builder allowNoArchive(boolean allow) {
            this.allowNoArchive = allow;
            return this;
        }

        /** Builds the source; nothing is checked against the server until the backup runs. */
        public BaseBackupSource build() {
            return new BaseBackupSource(this);
        }
    }
}

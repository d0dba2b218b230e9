package com.jiffoo.backup.postgres;

import com.jiffoo.backup.BackupException;
import com.jiffoo.backup.BackupManifest;
import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.DrillReport;
import com.jiffoo.backup.DrillReport.Check;
import com.jiffoo.backup.DrillReport.Status;
import com.jiffoo.backup.DrillSource;
import com.jiffoo.backup.RestoreException;
import com.jiffoo.backup.internal.DrillRun;
import java.io.OutputStream;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ThreadLocalRandom;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.postgresql.PGConnection;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A restore drill of a logical (pg_dump) database backup: restores it by the ordinary restore path into a scratch
 * database, proves the data came back, measures the recovery time against its objective, and drops the scratch
 * database whatever happened.
 *
 * <h2>What it does</h2>
 * <ol>
 *   <li><b>Sweep</b>: drops scratch databases earlier drills left (killed with {@code kill -9}, or on a host that
 *       died) that are older than a day; only names of the strict form {@code jiffoo_drill_YYYYMMDD_HHMMSS_<8 hex>}
 *       are touched. A killed drill's scratch on this host is dropped sooner, by its in-progress mark
 *       ({@link RestoreMarker}), as the next restore drops a half-restored database.</li>
 *   <li><b>Lock</b>: the scratch name is reserved with a session advisory lock on the server, held until after the
 *       drop: a concurrent drill given the same name refuses ({@link ConfigurationException}) and drops nothing, and
 *       the sweep skips a name a running drill holds.</li>
 *   <li><b>locate</b>: the backup to drill ({@link DrillSource#locate()}).</li>
 *   <li><b>restore</b>: download, decrypt and {@code pg_restore} into a new database named as above, which must not
 *       exist (a name that exists is refused, never restored over): {@link PostgresRestoreTarget} in new-database
 *       mode, verified against the manifest as any restore.</li>
 *   <li><b>checks</b>: every table's row count against the manifest ({@link RowCountCheck}); every table read to
 *       its end ({@code COPY t TO STDOUT}, discarded: damaged pages or TOAST fail it); every valid btree index with
 *       amcheck's {@code bt_index_check(index, heapallindexed => true)} when {@code CREATE EXTENSION amcheck} works
 *       in the scratch database (skipped, and said so, otherwise); the operator's smoke queries, each of which must
 *       return at least one row.</li>
 *   <li><b>cleanup</b>: {@code DROP DATABASE ... WITH (FORCE)}; also from a JVM shutdown hook when the process is
 *       stopped (SIGTERM, Ctrl-C) while the drill runs.</li>
 * </ol>
 * The total from the start to the end of the cleanup is the measured RTO: over {@link Builder#rtoTarget} the drill
 * is {@link DrillReport.Outcome#OVER_TARGET} even if every check passed.
 *
 * <pre>{@code
 * DrillReport r = DatabaseDrill.builder()
 *         .server(PgConnection.fromEnvironment())
 *         .source(DrillSource.of(store, pgp, trust, "database", null))   // the newest backup
 *         .smokeQueries(List.of("SELECT 1 FROM orders WHERE created_at > now() - interval '2 days'"))
 *         .build()
 *         .run();
 * r.storeIn(store, trust);
 * }</pre>
 *
 * <p>Immutable; {@link #run()} may be called again (each run uses a new scratch name, unless one was set).
 */
public final class DatabaseDrill {
    private static final Logger log = LoggerFactory.getLogger(DatabaseDrill.class);

    /** The default recovery time objective: the runbook's 2 hours. */
    public static final Duration DEFAULT_RTO_TARGET = DrillRun.DEFAULT_RTO_TARGET;
    /** Scratch databases of earlier drills older than this are dropped by the next drill's sweep. */
    public static final Duration LEFTOVER_AGE = Duration.ofDays(1);
    /** The prefix of every scratch database's name. */
    public static final String SCRATCH_PREFIX = "jiffoo_drill_";

    private static final Pattern SCRATCH = Pattern.compile("^" + SCRATCH_PREFIX + "([0-9]{8}_[0-9]{6})_([0-9a-f]{8})$");
    /** The first key of the drills' advisory locks on scratch names ({@code 'jdrl'}); the second is the name's hash. */
    private static final int LOCK_SPACE = 0x6a64726c;

    private final PgConnection server;
    private final DrillSource source;
    private final List<String> smokeQueries;
    private final List<String> checkTables;
    private final Duration rtoTarget;
    private final String scratchName;
    private final boolean noOwner;
    private final Clock clock;

    private DatabaseDrill(Builder b) {
        this.server = Objects.requireNonNull(b.server, "server(...) is required");
        this.source = Objects.requireNonNull(b.source, "source(...) is required");
        this.smokeQueries = List.copyOf(b.smokeQueries);
        this.checkTables = List.copyOf(b.checkTables);
        this.rtoTarget = b.rtoTarget;
        this.scratchName = b.scratchName;
        this.noOwner = b.noOwner;
        this.clock = b.clock;
    }

    /** A new builder. */
    public static Builder builder() {
        return new Builder();
    }

    /** Whether {@code name} is a scratch database name of the strict form drills use. */
    public static boolean isScratchName(String name) {
        return name != null && SCRATCH.matcher(name).matches();
    }

    /** A new scratch database name made at {@code at}: {@code jiffoo_drill_YYYYMMDD_HHMMSS_<8 hex>} (UTC). */
    public static String newScratchName(Instant at) {
        return SCRATCH_PREFIX
                + DrillRun.stamp(at)
                + "_"
                + String.format(Locale.ROOT, "%08x", ThreadLocalRandom.current().nextInt());
    }

    /**
     * Runs the drill.
     *
     * @return the report: {@link DrillReport.Outcome#FAILED} when the backup did not restore (damaged, not found, the
     *         key does not open it, pg_restore failed) or a check failed
     * @throws BackupException when the drill could not run: the database server cannot be reached, the scratch name
     *                         exists, the store cannot be read. The scratch database is dropped in every case.
     */
    public DrillReport run() {
        DrillRun run = DrillRun.start(clock);
        // held to the end: the lock on the scratch name (released when it closes, also when the process dies)
        Connection lock = openMaintenance();
        try {
            return run(lock, run);
        } finally {
            try {
                lock.close();
            } catch (SQLException e) {
                log.debug("closing the drill's lock connection: {}", e.toString());
            }
        }
    }

    private DrillReport run(Connection lock, DrillRun run) {
        String scratch = pickScratchName(lock, run.startedAt(), run.findings());
        PgConnection scratchDb = server.withDatabase(scratch);
        RestoreDatabases databases = new RestoreDatabases(
                scratchDb, server.database(), "template0", null, "database " + scratch + " (drill scratch)");
        String where = "database " + scratch + " on " + server.host() + ":" + server.port();
        run.onStop(() -> dropOnShutdown(databases, scratch));
        DrillRun.Restore restore;
        try {
            restore = run.restore(
                    source,
                    () -> PostgresRestoreTarget.newDatabaseBuilder(server, scratch)
                            .noOwner(noOwner)
                            .noPrivileges(noOwner)
                            .build(),
                    log,
                    where,
                    r -> {
                        markScratch(databases, scratch);
                        if (r.result().facts().get("abandonedDatabasesDropped") instanceof List<?> dropped) {
                            run.findings().add("dropped " + dropped + ", left by a restore or drill that was killed");
                        }
                    },
                    manifest ->
                            manifest.objectSize() + " bytes stored, " + manifest.plaintextSize() + " bytes of dump");
            if (restore.restored() != null) {
                run.mark();
                runChecks(
                        scratchDb,
                        restore.manifest(),
                        PostgresRestoreTarget.rowCountCheck(
                                        restore.restored().result().facts())
                                .orElse(null),
                        run.checks());
                run.endPhase("checks");
            }
        } finally {
            run.cleanUp(() -> drop(databases, scratch)
                    ? null
                    : new DrillRun.Left(
                            "the scratch database " + scratch + " could not be dropped: drop it by hand (DROP"
                                    + " DATABASE \"" + scratch + "\" WITH (FORCE)), or the next drill drops it after a"
                                    + " day",
                            "the scratch database " + scratch + " is left"));
        }
        DrillReport report =
                run.judge("database", restore.backupKey(), restore.backupAt(), restore.store(), where, rtoTarget);
        log.info(
                "drill of {}: {} in {}",
                report.backupKey(),
                report.outcome().label(),
                DrillReport.human(report.total()));
        return report;
    }

    /**
     * The scratch name, reserved for this drill by an advisory lock held on {@code lock} until the drill ends: the
     * one set (refused when another drill holds it, when it exists, or when it is not of the strict form), else a new
     * one. Drops the leftovers of earlier drills first (never one whose name another drill holds).
     */
    private String pickScratchName(Connection lock, Instant now, List<String> findings) {
        List<String> existing = databaseNames(lock);
        for (String name : existing) {
            Matcher m = SCRATCH.matcher(name);
            if (!m.matches()) {
                continue;
            }
            Instant made;
            try {
                made = LocalDateTime.parse(m.group(1), DrillRun.STAMP).toInstant(ZoneOffset.UTC);
            } catch (DateTimeParseException e) {
                continue;
            }
            if (made.isBefore(now.minus(LEFTOVER_AGE)) && tryLock(lock, name)) {
                RestoreDatabases leftover =
                        new RestoreDatabases(server.withDatabase(name), server.database(), "template0", null, name);
                if (leftover.dropQuietly(name)) {
                    log.warn("dropped the scratch database {} an earlier drill left (made {})", name, made);
                    findings.add(
                            "dropped the scratch database " + name + " that an earlier drill left (made " + made + ")");
                }
                unlock(lock, name);
            }
        }
        if (scratchName != null) {
            if (!tryLock(lock, scratchName)) {
                throw new ConfigurationException("Another drill is using the scratch database " + scratchName + " on "
                        + server.host() + ":" + server.port() + " right now (it holds the drill lock on that name);"
                        + " a drill restores only into a database it creates, and drops only that one. Let it finish,"
                        + " or leave the name out: each drill then makes a new one.");
            }
            // listed again under the lock: a drill that held the name before may have left it
            if (databaseNames(lock).contains(scratchName)) {
                throw new ConfigurationException("The scratch database " + scratchName + " already exists on "
                        + server.host() + ":" + server.port() + "; a drill restores only into a database it creates."
                        + " Choose another name, or leave it out (a new one is made).");
            }
            return scratchName;
        }
        for (int i = 0; i < 5; i++) {
            String name = newScratchName(now);
            if (!existing.contains(name) && tryLock(lock, name)) {
                if (!databaseNames(lock).contains(name)) {
                    return name;
                }
                unlock(lock, name);
            }
        }
        throw new IllegalStateException("no free scratch database name"); // 2^32 names per second
    }

    /**
     * Takes the session advisory lock of a scratch name on {@code lock}'s server, without waiting: false when another
     * session (another drill) holds it. Two different names share a lock only when their hashes collide (about one in
     * four billion): the second drill then refuses, nothing worse.
     */
    private boolean tryLock(Connection lock, String name) {
        try (PreparedStatement p = lock.prepareStatement("SELECT pg_catalog.pg_try_advisory_lock(?, hashtext(?))")) {
            p.setInt(1, LOCK_SPACE);
            p.setString(2, name);
            try (ResultSet r = p.executeQuery()) {
                return r.next() && r.getBoolean(1);
            }
        } catch (SQLException e) {
            throw cannotConnect(e);
        }
    }

    private static void unlock(Connection lock, String name) {
        try (PreparedStatement p = lock.prepareStatement("SELECT pg_catalog.pg_advisory_unlock(?, hashtext(?))")) {
            p.setInt(1, LOCK_SPACE);
            p.setString(2, name);
            p.executeQuery().close();
        } catch (SQLException e) {
            log.debug("could not release the drill lock on {}: {}", name, e.toString());
        }
    }

    private Connection openMaintenance() {
        try {
            return server.openJdbc();
        } catch (SQLException e) {
            throw cannotConnect(e);
        }
    }

    private RestoreException cannotConnect(SQLException e) {
        return new RestoreException(
                "Cannot connect to PostgreSQL at " + server.describe() + " to run the drill: " + e.getMessage()
                        + ". Check that the server runs and that host, port, user and password are right;"
                        + " nothing was restored.",
                null,
                server.describe(),
                e);
    }

    private List<String> databaseNames(Connection c) {
        List<String> out = new ArrayList<>();
        try (Statement s = c.createStatement();
                ResultSet r = s.executeQuery("SELECT datname FROM pg_catalog.pg_database")) {
            while (r.next()) {
                out.add(r.getString(1));
            }
        } catch (SQLException e) {
            throw cannotConnect(e);
        }
        return out;
    }

    /** Marks the committed scratch database as in progress by this process, so a kill leaves it for the sweep. */
    private static void markScratch(RestoreDatabases databases, String scratch) {
        try (Connection c = databases.maintenance();
                Statement s = c.createStatement()) {
            s.execute("COMMENT ON DATABASE " + PostgresRestoreTarget.ident(scratch) + " IS "
                    + PostgresRestoreTarget.literal(RestoreMarker.drillText()));
        } catch (SQLException | RuntimeException e) {
            log.warn("could not mark the scratch database {}: {}", scratch, e.toString());
        }
    }

    /** Drops the scratch database; returns whether it is gone. */
    private static boolean drop(RestoreDatabases databases, String scratch) {
        databases.dropQuietly(scratch);
        try (Connection c = databases.maintenance();
                PreparedStatement s = c.prepareStatement("SELECT 1 FROM pg_catalog.pg_database WHERE datname = ?")) {
            s.setString(1, scratch);
            try (ResultSet r = s.executeQuery()) {
                return !r.next();
            }
        } catch (SQLException | RuntimeException e) {
            log.error("could not check that the scratch database {} is gone: {}", scratch, e.toString());
            return false;
        }
    }

    private static void dropOnShutdown(RestoreDatabases databases, String scratch) {
        log.warn("the drill was stopped: dropping its scratch database {}", scratch);
        databases.dropQuietly(scratch);
    }

    /** @param counted the row-count report the restore target made while restoring, or null */
    private void runChecks(PgConnection db, BackupManifest manifest, RowCountCheck.Report counted, List<Check> checks) {
        checks.add(rowCounts(db, manifest, counted));
        try (Connection c = db.openJdbc()) {
            checks.add(fullRead(c));
            checks.add(amcheck(c));
            if (!checkTables.isEmpty()) {
                checks.add(fingerprints(c, manifest));
            }
            if (!smokeQueries.isEmpty()) {
                checks.add(smoke(c, smokeQueries));
            }
        } catch (SQLException e) {
            checks.add(
                    new Check("connect", Status.FAILED, "cannot connect to the scratch database: " + e.getMessage()));
        }
    }

    private static Check rowCounts(PgConnection db, BackupManifest manifest, RowCountCheck.Report counted) {
        try {
            RowCountCheck.Report r = counted != null
                    ? counted // counted by the target, mostly while pg_restore was still restoring
                    : RowCountCheck.compare(db, manifest);
            return new Check(
                    "row-counts",
                    r.passed() ? Status.PASSED : Status.FAILED,
                    (r.exact() ? "exact" : "estimated") + " counts of the manifest: " + r.summary());
        } catch (ConfigurationException e) {
            return new Check("row-counts", Status.SKIPPED, "the backup records no row counts");
        } catch (BackupException e) {
            return new Check("row-counts", Status.FAILED, e.getMessage());
        }
    }

    /** Reads every counted table to its end with COPY, discarding what it reads. */
    static Check fullRead(Connection c) {
        List<String> failed = new ArrayList<>();
        long rows = 0;
        int tables = 0;
        try {
            org.postgresql.copy.CopyManager copy = c.unwrap(PGConnection.class).getCopyAPI();
            for (CountedTables.Table t : CountedTables.list(c)) {
                tables++;
                try {
                    rows += copy.copyOut("COPY " + t.quoted() + " TO STDOUT", OutputStream.nullOutputStream());
                } catch (SQLException | java.io.IOException e) {
                    failed.add(t.qualified() + ": " + e.getMessage());
                }
            }
        } catch (SQLException e) {
            return new Check("full-read", Status.FAILED, "cannot list the tables: " + e.getMessage());
        }
        if (!failed.isEmpty()) {
            return new Check(
                    "full-read",
                    Status.FAILED,
                    failed.size() + " of " + tables + " table(s) could not be read: "
                            + String.join("; ", failed.subList(0, Math.min(5, failed.size()))));
        }
        return new Check("full-read", Status.PASSED, tables + " table(s), " + rows + " row(s) read to their end");
    }

    /** amcheck's bt_index_check on every valid btree index, when the extension can be created here. */
    static Check amcheck(Connection c) {
        try (Statement s = c.createStatement()) {
            s.execute("CREATE EXTENSION IF NOT EXISTS amcheck");
        } catch (SQLException e) {
            return new Check(
                    "amcheck",
                    Status.SKIPPED,
                    "CREATE EXTENSION amcheck failed in the scratch database ("
                            + e.getMessage().strip()
                            + "); install postgresql-contrib and run the drill as a superuser to check indexes");
        }
        List<String> indexes = new ArrayList<>();
        List<Long> oids = new ArrayList<>();
        String list = "SELECT c.oid, n.nspname || '.' || c.relname FROM pg_catalog.pg_index i"
                + " JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid"
                + " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
                + " JOIN pg_catalog.pg_am am ON am.oid = c.relam"
                + " WHERE am.amname = 'btree' AND c.relkind = 'i' AND i.indisvalid AND i.indisready"
                + " AND c.relpersistence <> 't' AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'"
                + " ORDER BY 2";
        List<String> failed = new ArrayList<>();
        try (Statement s = c.createStatement();
                ResultSet r = s.executeQuery(list)) {
            while (r.next()) {
                oids.add(r.getLong(1));
                indexes.add(r.getString(2));
            }
        } catch (SQLException e) {
            return new Check("amcheck", Status.FAILED, "cannot list the indexes: " + e.getMessage());
        }
        try (PreparedStatement p = c.prepareStatement("SELECT bt_index_check(?::oid::regclass, true)")) {
            for (int i = 0; i < oids.size(); i++) {
                p.setLong(1, oids.get(i));
                try (ResultSet r = p.executeQuery()) {
                    r.next();
                } catch (SQLException e) {
                    failed.add(indexes.get(i) + ": " + e.getMessage());
                }
            }
        } catch (SQLException e) {
            return new Check("amcheck", Status.FAILED, "cannot run bt_index_check: " + e.getMessage());
        }
        if (!failed.isEmpty()) {
            return new Check(
                    "amcheck",
                    Status.FAILED,
                    failed.size() + " of " + oids.size() + " btree index(es) are inconsistent: "
                            + String.join("; ", failed.subList(0, Math.min(5, failed.size()))));
        }
        return new Check(
                "amcheck",
                Status.PASSED,
                oids.size() + " btree index(es) checked with bt_index_check (heapallindexed)");
    }

    /**
     * Each table of {@code checkTables}: its fingerprint ({@link TableFingerprints}) in the scratch database against
     * the one the backup recorded. A table the backup recorded no fingerprint of fails: it was asked for, and cannot
     * be compared.
     */
    private Check fingerprints(Connection c, BackupManifest manifest) {
        Map<?, ?> recorded = manifest.sourceFacts().get(TableFingerprints.FACT) instanceof Map<?, ?> m ? m : Map.of();
        List<String> failed = new ArrayList<>();
        List<String> matched = new ArrayList<>();
        try {
            List<CountedTables.Table> tables =
                    TableFingerprints.choose(CountedTables.list(c), checkTables, "of the restored database");
            boolean auto = c.getAutoCommit();
            c.setAutoCommit(false);
            try (Statement s = c.createStatement()) {
                TableFingerprints.pin(s);
                for (CountedTables.Table t : tables) {
                    Object want = recorded.get(t.qualified());
                    if (want == null) {
                        failed.add(t.qualified() + ": the backup recorded no fingerprint of it (back it up with"
                                + " --fingerprint-table " + t.qualified() + ")");
                        continue;
                    }
                    String got = TableFingerprints.of(c, t);
                    if (got.equals(want.toString())) {
                        matched.add(t.qualified());
                    } else {
                        failed.add(t.qualified() + ": restored " + got + " (rows:sum:sum), recorded " + want);
                    }
                }
            } finally {
                c.rollback();
                c.setAutoCommit(auto);
            }
        } catch (SQLException | ConfigurationException e) {
            return new Check("fingerprints", Status.FAILED, e.getMessage());
        }
        if (!failed.isEmpty()) {
            return new Check(
                    "fingerprints",
                    Status.FAILED,
                    failed.size() + " of " + checkTables.size() + " table(s) differ: " + String.join("; ", failed));
        }
        return new Check(
                "fingerprints",
                Status.PASSED,
                matched.size() + " table(s) have the content fingerprint recorded at backup time: "
                        + String.join(", ", matched));
    }

    /** Runs each smoke query; each must return at least one row. */
    static Check smoke(Connection c, List<String> smokeQueries) {
        List<String> failed = new ArrayList<>();
        for (String sql : smokeQueries) {
            String shown = shorten(sql);
            try (Statement s = c.createStatement()) {
                if (!s.execute(sql)) {
                    failed.add("`" + shown + "` returned no result set (a smoke query must be a query)");
                    continue;
                }
                try (ResultSet r = s.getResultSet()) {
                    if (!r.next()) {
                        failed.add("`" + shown + "` returned no rows");
                    }
                }
            } catch (SQLException e) {
                failed.add("`" + shown + "` failed: " + e.getMessage());
            }
        }
        if (!failed.isEmpty()) {
            return new Check(
                    "smoke-queries",
                    Status.FAILED,
                    failed.size() + " of " + smokeQueries.size() + " smoke query(ies) failed: "
                            + String.join("; ", failed));
        }
        return new Check("smoke-queries", Status.PASSED, smokeQueries.size() + " smoke query(ies) returned rows");
    }

    private static String shorten(String sql) {
        String one = sql.strip().replaceAll("\\s+", " ");
        return one.length() > 80 ? one.substring(0, 77) + "..." : one;
    }

    /**
     * The statements of a smoke SQL file: a statement ends with {@code ;} at the end of a line; lines that start
     * with {@code --} are comments; blank statements are left out. The last statement may lack its {@code ;}.
     */
    public static List<String> parseSmokeSql(String text) {
        List<String> out = new ArrayList<>();
        StringBuilder current = new StringBuilder();
        for (String line : text.split("\r?\n", -1)) {
            String t = line.strip();
            if (t.startsWith("--")) {
                continue;
            }
            if (t.endsWith(";")) {
                String kept = line.stripTrailing();
                current.append(kept, 0, kept.length() - 1);
                if (!current.toString().isBlank()) {
                    out.add(current.toString().strip());
                }
                current.setLength(0);
            } else {
                current.append(line).append('\n');
            }
        }
        if (!current.toString().isBlank()) {
            out.add(current.toString().strip());
        }
        return out;
    }

    /** Builds a {@link DatabaseDrill}. Not thread-safe. */
    public static final class Builder {
        private PgConnection server;
        private DrillSource source;
        private List<String> smokeQueries = List.of();
        private List<String> checkTables = List.of();
        private Duration rtoTarget = DEFAULT_RTO_TARGET;
        private String scratchName;
        private boolean noOwner;
        private Clock clock = Clock.systemUTC();

        private Builder() {}

        /**
         * The server to restore on; its database is the maintenance database the scratch one is created from
         * ({@code postgres}). Required.
         */
        public Builder server(PgConnection server) {
            this.server = server;
            return this;
        }

        /** Where the backup comes from ({@link DrillSource#of}). Required. */
        public Builder source(DrillSource source) {
            this.source = source;
            return this;
        }

        /**
         * Tables whose content fingerprint, recorded at backup time ({@code PostgresSource.Builder.fingerprintTable}),
         * is compared after the restore (check {@code fingerprints}); {@code schema.table} or a bare name.
         */
        public Builder checkTables(List<String> tables) {
            this.checkTables = List.copyOf(tables);
            return this;
        }

        /** Queries that must each return at least one row in the restored database ({@link #parseSmokeSql}). */
        public Builder smokeQueries(List<String> queries) {
            this.smokeQueries = List.copyOf(queries);
            return this;
        }

        /** The recovery time objective; {@link #DEFAULT_RTO_TARGET} by default. */
        public Builder rtoTarget(Duration target) {
            this.rtoTarget = DrillRun.requireRtoTarget(target);
            return this;
        }

        /**
         * The scratch database's name instead of a new one; it must be of the strict form
         * ({@link #isScratchName}) and must not exist when the drill runs.
         */
        public Builder scratchName(String name) {
            if (!isScratchName(name)) {
                throw new ConfigurationException("'" + name + "' is not a drill scratch name: it must look like "
                        + newScratchName(Instant.now()) + " (" + SCRATCH.pattern() + ").");
            }
            this.scratchName = name;
            return this;
        }

        /** pg_restore --no-owner --no-privileges (the dump's roles do not exist on the drill server). */
        public Builder noOwner(boolean noOwner) {
            this.noOwner = noOwner;
            return this;
        }

        /** The clock naming the scratch database and the report's start; the system's UTC clock by default. */
        public Builder clock(Clock clock) {
            this.clock = Objects.requireNonNull(clock, "clock");
            return this;
        }

        /** Builds the drill. */
        public DatabaseDrill build() {
            return new DatabaseDrill(this);
        }
    }
}

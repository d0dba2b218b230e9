package com.jiffoo.backup.postgres;

import com.jiffoo.backup.BackupException;
import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.Source;
import com.jiffoo.backup.SourceException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.ConnectException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A {@link Source} that streams {@code pg_dump} of one PostgreSQL database.
 *
 * <p><b>Format.</b> The bytes are pg_dump's <em>custom</em> format ({@code pg_dump -Fc}), compressed by pg_dump with
 * zlib at {@link Builder#compressionLevel} (default 9, as in the runbook). The suffix is {@code .sql} because the
 * runbook names backups {@code db_backup_YYYYMMDD_HHMMSS.sql.gpg}, but the content is <em>not</em> SQL text: restore
 * it with {@code pg_restore -d DB db_backup_....sql} (after {@code gpg -d}), list it with {@code pg_restore --list}.
 *
 * <p><b>Streaming.</b> pg_dump's stdout goes straight into the stream given to {@link #writeTo}, through one
 * 128 KiB buffer: no temporary file, memory independent of the database size. Its stderr is read on another thread;
 * the last 50 lines are kept for the error message, every line is logged at debug. When writing to the stream fails
 * (the store or encryption failed downstream), pg_dump is killed and the write's exception is rethrown. The stream is
 * never closed here.
 *
 * <p><b>Consistency and facts.</b> Before pg_dump starts, a JDBC connection reads the server version and database
 * size, opens a {@code REPEATABLE READ READ ONLY} transaction and exports its snapshot
 * ({@code pg_export_snapshot()}); pg_dump runs with {@code --snapshot=<id>}, so the row counts reported in the facts
 * (exact {@code count(*)} per table, by default, counted while pg_dump runs) describe exactly the data in the dump.
 * Which tables are counted, and how, is {@code CountedTables}'s rule, shared with {@link RowCountCheck}: every table
 * whose rows pg_dump dumps (leaf partitions, inheritance parents and children, unlogged tables), each
 * {@code FROM ONLY}; not partitioned parents, materialized views or foreign tables. A table whose rows pg_dump leaves
 * out ({@code --exclude-table-data}, {@code --no-unlogged-table-data}, {@code --schema-only} among the extra
 * arguments) is recorded with 0 rows, which is what the dump holds.
 * The transaction stays open until pg_dump has exited. See {@link RowCounts} for the cost and the cheaper options.
 *
 * <p><b>Secrets.</b> pg_dump receives host, port, user, database and password only through libpq variables in its
 * environment ({@link PgConnection#childEnvironment()}); its command line has no connection settings at all, so the
 * password never shows in {@code ps}. The rest of its environment is an allowlist, the same for every child process
 * of this module ({@code ChildEnvironment}): nothing of the parent's {@code AWS_*}, {@code SLACK_*},
 * {@code DB_PASSWORD}, {@code ENCRYPTION_*}, and none of its {@code PG*} variables that could redirect the connection
 * ({@code PGSERVICE}, {@code PGOPTIONS}, {@code PGHOSTADDR}, ...); SSL file locations and {@code PGCONNECT_TIMEOUT}
 * are kept, and {@code PGPASSFILE} too when the connection has no password. Error messages and logs never contain
 * the password.
 *
 * <p><b>Errors.</b> A {@link ConfigurationException} when the login is refused, the database does not exist, the
 * options are invalid, or no fitting pg_dump is installed (saying what to install); a {@link SourceException} when
 * the server cannot be reached, or pg_dump exits non-zero or is killed (quoting its last error lines, its exit code
 * or signal, the database and host).
 *
 * <pre>{@code
 * PostgresSource source = PostgresSource.builder(PgConnection.fromEnvironment())
 *         .compressionLevel(6)
 *         .excludeTable("public.audit_log")
 *         .noOwner(true)
 *         .build();
 * BackupManifest m = BackupPipeline.builder().source(source).encryption(pgp).sink(sink).build().run();
 * m.sourceFacts().get("rowCounts");   // {public.orders=12345, ...}
 * }</pre>
 *
 * <p>Immutable and thread-safe; {@link #writeTo} may be called any number of times, also concurrently (each call
 * runs its own pg_dump and JDBC connection).
 */
public final class PostgresSource implements Source {
    private static final Logger LOG = LoggerFactory.getLogger(PostgresSource.class);

    /** Bytes copied from pg_dump's stdout per read. */
    static final int BUFFER_SIZE = 128 * 1024;
    /** The default of {@link Builder#lockWaitTimeout(Duration)}. */
    public static final Duration DEFAULT_LOCK_WAIT_TIMEOUT = Duration.ofMinutes(15);
    /** Lines of pg_dump's stderr kept for the error message. */
    static final int STDERR_LINES = 50;

    /** Long options of pg_dump that extra arguments must not use (or abbreviate). */
    private static final List<String> FORBIDDEN_LONG = List.of("file", "format", "dbname", "host", "port", "username",
            "password", "snapshot", "compress", "jobs", "version", "help", "role");
    /** Short options of pg_dump that extra arguments must not use. */
    private static final String FORBIDDEN_SHORT = "fFdhpUWjZV?";
    /** Short options of pg_dump that take an argument (the rest of a bundle is that argument). */
    private static final String SHORT_WITH_ARGUMENT = "defFhjnNpStTUZ";

    /** How the facts count the rows of each dumped table. */
    public enum RowCounts {
        /**
         * {@code SELECT count(*)} of every dumped table, in the dump's snapshot, run on a second connection while
         * pg_dump runs. Exact, but each table is scanned once more. Measured on a 400,000-row, 26 MB table with
         * warm caches: 16-22 ms of counting, overlapped with a ~250 ms dump; on a cold cache a count reads the whole
         * table from disk again.
         */
        EXACT,
        /** {@code pg_class.reltuples}: free, but only as fresh as the last VACUUM/ANALYZE; -1 when never analyzed. */
        ESTIMATE,
        /** No row counts. */
        NONE
    }

    private final PgConnection connection;
    private final int compressionLevel;
    private final List<PgNamePattern> includeSchemas;
    private final List<PgNamePattern> excludeSchemas;
    private final List<PgNamePattern> includeTables;
    private final List<PgNamePattern> excludeTables;
    private final boolean noOwner;
    private final boolean noPrivileges;
    private final List<String> extraArgs;
    private final PgToolLocator locator;
    private final Path binDirectory;
    private final RowCounts rowCounts;
    private final Duration lockWaitTimeout;
    /** The runs of {@link #writeTo} in progress, for {@link #cancel()}. */
    private final Set<Run> running = ConcurrentHashMap.newKeySet();

    private PostgresSource(Builder b) {
        this.connection = b.connection;
        this.compressionLevel = b.compressionLevel;
        this.includeSchemas = List.copyOf(b.includeSchemas);
        this.excludeSchemas = List.copyOf(b.excludeSchemas);
        this.includeTables = List.copyOf(b.includeTables);
        this.excludeTables = List.copyOf(b.excludeTables);
        this.noOwner = b.noOwner;
        this.noPrivileges = b.noPrivileges;
        this.extraArgs = List.copyOf(b.extraArgs);
        this.binDirectory = b.binDirectory;
        this.locator = b.locator != null ? b.locator
                : b.binDirectory != null ? PgToolLocator.inDirectory(b.binDirectory) : PgToolLocator.system();
        this.rowCounts = b.rowCounts;
        this.lockWaitTimeout = b.lockWaitTimeout;
    }

    /**
     * A builder for a source dumping the database {@code connection} names.
     *
     * @throws NullPointerException when {@code connection} is null
     */
    public static Builder builder(PgConnection connection) {
        return new Builder(connection);
    }

    /** A builder holding this source's settings. */
    public Builder toBuilder() {
        Builder b = new Builder(connection);
        b.compressionLevel = compressionLevel;
        b.includeSchemas.addAll(includeSchemas);
        b.excludeSchemas.addAll(excludeSchemas);
        b.includeTables.addAll(includeTables);
        b.excludeTables.addAll(excludeTables);
        b.noOwner = noOwner;
        b.noPrivileges = noPrivileges;
        b.extraArgs.addAll(extraArgs);
        b.binDirectory = binDirectory;
        b.locator = binDirectory == null ? locator : null;
        b.rowCounts = rowCounts;
        b.lockWaitTimeout = lockWaitTimeout;
        return b;
    }

    /** The database dumped. */
    public PgConnection connection() {
        return connection;
    }

    /** pg_dump's {@code -Z} level, 0..9. */
    public int compressionLevel() {
        return compressionLevel;
    }

    /** How row counts are taken. */
    public RowCounts rowCounts() {
        return rowCounts;
    }

    /** Returns {@code "database"}. */
    @Override
    public String kind() {
        return "database";
    }

    /** Returns {@code "db_backup"}, the runbook's name. */
    @Override
    public String baseName() {
        return "db_backup";
    }

    /** Returns {@code ".sql"} (the runbook's name; the content is pg_dump's custom format, not SQL text). */
    @Override
    public String suffix() {
        return ".sql";
    }

    /** E.g. {@code PostgreSQL database shop on 127.0.0.1:5432 as backup (pg_dump custom, -Z 9)}; no password. */
    @Override
    public String describe() {
        return "PostgreSQL database " + connection.database() + " on " + where() + " as " + connection.user()
                + " (pg_dump custom, -Z " + compressionLevel + ")";
    }

    private String where() {
        return connection.host() + ":" + connection.port();
    }

    /**
     * Runs pg_dump and streams its custom-format output into {@code out}, which stays open.
     *
     * @return facts: {@code database}, {@code host}, {@code port}, {@code user}, {@code serverVersion},
     *         {@code serverVersionNum}, {@code pgDumpVersion}, {@code pgDumpPath}, {@code databaseSizeBytes},
     *         {@code format} ({@code custom}), {@code compressionLevel}, {@code rowCountMode}
     *         ({@code exact|estimate|none}), {@code rowCountsExact}, {@code tableCount}, {@code rowCountScope}
     *         ({@code only}: each table counted {@code FROM ONLY}) and {@code rowCounts}
     *         ({@code "schema.table" -> rows}, unless {@link RowCounts#NONE}), {@code rowCountMillis},
     *         {@code dumpBytes}, {@code dumpMillis}
     * @throws ConfigurationException when login is refused, the database does not exist or no fitting pg_dump is
     *         installed
     * @throws SourceException when the server cannot be reached or pg_dump fails or is killed
     * @throws IOException when writing to {@code out} fails (pg_dump is killed first)
     */
    @Override
    public Map<String, Object> writeTo(OutputStream out) throws IOException {
        Objects.requireNonNull(out, "out");
        long started = System.nanoTime();
        Run run = new Run();
        running.add(run);
        Connection jdbc;
        try {
            jdbc = openJdbc();
        } catch (RuntimeException e) {
            running.remove(run);
            throw e;
        }
        Process process = null;
        RowCounter counter = null;
        try {
            Map<String, Object> facts = new LinkedHashMap<>();
            int serverVersionNum;
            try (Statement s = jdbc.createStatement();
                 ResultSet r = s.executeQuery("SELECT current_setting('server_version_num')::int,"
                         + " current_setting('server_version'), pg_database_size(current_database())")) {
                r.next();
                serverVersionNum = r.getInt(1);
                facts.put("database", connection.database());
                facts.put("host", connection.host());
                facts.put("port", connection.port());
                facts.put("user", connection.user());
                facts.put("serverVersion", r.getString(2));
                facts.put("serverVersionNum", serverVersionNum);
                facts.put("databaseSizeBytes", r.getLong(3));
            }
            int serverMajor = serverVersionNum / 10000;
            PgTool pgDump = locator.locate("pg_dump", serverMajor);
            facts.put("pgDumpVersion", pgDump.version());
            facts.put("pgDumpPath", pgDump.path().toString());
            facts.put("format", "custom");
            facts.put("compressionLevel", compressionLevel);

            jdbc.setAutoCommit(false);
            String snapshot;
            try (Statement s = jdbc.createStatement()) {
                s.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY");
                // the row counts take the same share locks as pg_dump: they must not wait longer than it does
                s.execute("SET LOCAL lock_timeout = " + lockWaitTimeout.toMillis());
                if (rowCounts == RowCounts.EXACT) {
                    leanCounts(s, serverVersionNum);
                }
                try (ResultSet r = s.executeQuery("SELECT pg_export_snapshot()")) {
                    r.next();
                    snapshot = r.getString(1);
                }
            }
            List<CountedTables.Table> tables = new ArrayList<>();
            List<CountedTables.Table> withoutData = new ArrayList<>();
            if (rowCounts != RowCounts.NONE) {
                for (CountedTables.Table t : dumpedTables(jdbc)) {
                    (dataLeftOut(t) ? withoutData : tables).add(t);
                }
            }

            List<String> command = command(pgDump.path(), snapshot);
            LOG.info("dumping {} with {} {}", describe(), pgDump.path(), pgDump.version());
            LOG.debug("pg_dump command: {}", command);
            ProcessBuilder pb = ChildEnvironment.processBuilder(command, connection)
                    .redirectInput(ProcessBuilder.Redirect.PIPE);
            process = pb.start();
            run.started(process);
            process.getOutputStream().close();
            StderrDrain stderr = new StderrDrain(process.getErrorStream(), process.pid());
            stderr.start();
            if (rowCounts == RowCounts.EXACT) {
                counter = new RowCounter(jdbc, tables);
                run.counting(counter);
                counter.start();
            }

            long bytes = pump(process, out);
            int exit = waitFor(process);
            join(stderr);
            long dumpMillis = (System.nanoTime() - started) / 1_000_000;
            if (exit != 0) {
                throw failure(exit, stderr.lastLines(), bytes, run.cancelled);
            }
            if (!stderr.lastLines().isEmpty()) {
                LOG.info("pg_dump of {} succeeded with messages: {}", connection.database(),
                        String.join(" | ", stderr.lastLines()));
            }

            facts.put("rowCountMode", rowCounts.name().toLowerCase(Locale.ROOT));
            facts.put("rowCountsExact", rowCounts == RowCounts.EXACT);
            if (rowCounts != RowCounts.NONE) {
                Map<String, Long> counts = new TreeMap<>();
                withoutData.forEach(t -> counts.put(t.qualified(), 0L));
                long countMillis = 0;
                if (counter != null) {
                    join(counter);
                    if (counter.failure != null) {
                        throw new SourceException("Counting the rows of " + connection.database() + " on " + where()
                                + " failed: " + connection.redact(counter.failure.getMessage()) + ". The dump itself"
                                + " succeeded but was not committed; set rowCounts(ESTIMATE or NONE) to skip exact"
                                + " counts, or fix the cause.", null, where(), null);
                    }
                    counter.counts.forEach(counts::put);
                    countMillis = counter.millis;
                } else {
                    for (CountedTables.Table t : tables) {
                        counts.put(t.qualified(), t.estimate());
                    }
                }
                facts.put("tableCount", counts.size());
                facts.put(CountedTables.SCOPE_FACT, CountedTables.Scope.ONLY.fact());
                facts.put("rowCounts", counts);
                facts.put("rowCountMillis", countMillis);
            }
            facts.put("dumpBytes", bytes);
            facts.put("dumpMillis", dumpMillis);
            LOG.info("dumped {}: {} bytes in {} ms", describe(), bytes, dumpMillis);
            return facts;
        } catch (SQLException e) {
            throw sqlFailure(e);
        } finally {
            running.remove(run);
            if (process != null) {
                if (process.isAlive()) {
                    process.destroyForcibly();
                    waitQuietly(process);
                }
            }
            if (counter != null) {
                if (counter.isAlive()) {
                    counter.cancel();
                    joinQuietly(counter);
                }
            }
            try {
                jdbc.rollback(); // read-only: ends the transaction that held the snapshot
            } catch (SQLException e) {
                LOG.debug("ending the snapshot transaction failed: {}", e.toString());
            }
            try {
                jdbc.close();
            } catch (SQLException e) {
                LOG.debug("closing the JDBC connection failed: {}", e.toString());
            }
        }
    }

    /**
     * Kills the pg_dump of every backup of this source in progress and cancels its row counts: the pipeline calls it
     * when the backup failed or was interrupted, so that a pg_dump that writes nothing (waiting for a lock) does not
     * outlive the backup. The interrupted {@code writeTo} then fails; later backups with this source are not affected.
     */
    @Override
    public void cancel() {
        for (Run run : running) {
            run.cancel();
        }
    }

    /** One {@link #writeTo} in progress: what {@link #cancel()} must stop, also if it starts after the cancel. */
    private final class Run {
        private Process process; // guarded by this
        private RowCounter counter; // guarded by this
        volatile boolean cancelled;

        synchronized void started(Process p) {
            process = p;
            if (cancelled) {
                p.destroyForcibly();
            }
        }

        synchronized void counting(RowCounter c) {
            counter = c;
            if (cancelled) {
                c.cancel();
            }
        }

        synchronized void cancel() {
            cancelled = true;
            if (process != null && process.isAlive()) {
                LOG.info("cancelling the backup of {}: killing pg_dump (pid {})", describe(), process.pid());
                process.destroyForcibly();
            }
            if (counter != null) {
                counter.cancel();
            }
        }
    }

    /** Copies pg_dump's stdout into {@code out}; on a write failure kills pg_dump and rethrows. */
    private long pump(Process process, OutputStream out) throws IOException {
        byte[] buf = new byte[BUFFER_SIZE];
        long total = 0;
        try (InputStream in = process.getInputStream()) {
            int n;
            while ((n = in.read(buf)) > 0) {
                try {
                    out.write(buf, 0, n);
                } catch (IOException | RuntimeException e) {
                    LOG.debug("writing the dump failed downstream after {} bytes; killing pg_dump (pid {})", total,
                            process.pid());
                    process.destroyForcibly();
                    throw e;
                }
                total += n;
            }
        }
        out.flush();
        return total;
    }

    private static int waitFor(Process p) throws IOException {
        try {
            return p.waitFor();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            p.destroyForcibly();
            throw new java.io.InterruptedIOException("interrupted while waiting for pg_dump");
        }
    }

    private static void join(Thread t) throws IOException {
        try {
            t.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new java.io.InterruptedIOException("interrupted while waiting for " + t.getName());
        }
    }

    private static void waitQuietly(Process p) {
        try {
            p.waitFor();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void joinQuietly(Thread t) {
        try {
            t.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private SourceException failure(int exit, List<String> lines, long bytes, boolean cancelled) {
        String tail = lines.isEmpty() ? "" : ": " + connection.redact(String.join(" | ", lines));
        String db = "database " + connection.database() + " on " + where();
        if (cancelled) {
            return new SourceException("pg_dump of " + db + " was stopped (exit code " + exit + ") because the backup"
                    + " was cancelled or failed elsewhere, after " + bytes + " bytes. Nothing was committed.",
                    null, where(), null);
        }
        // pg_dump implements --lock-wait-timeout with statement_timeout around its LOCK TABLE statements
        if (lines.stream().anyMatch(l -> l.contains("lock timeout"))
                || (lines.stream().anyMatch(l -> l.contains("statement timeout"))
                && lines.stream().anyMatch(l -> l.contains("LOCK TABLE")))) {
            return new SourceException("pg_dump could not lock a table of " + db + " within the lock wait timeout of "
                    + lockWaitTimeout.toSeconds() + " s" + tail + ". Another session holds a conflicting lock (a"
                    + " migration, VACUUM FULL, ALTER TABLE): find it in pg_locks and pg_stat_activity, let it finish,"
                    + " and run the backup again; or raise lockWaitTimeout(...). Nothing was committed.",
                    null, where(), null);
        }
        if (exit > 128 && exit < 128 + 65) {
            int signal = exit - 128;
            return new SourceException("pg_dump was killed by signal " + signal + " (" + signalName(signal)
                    + ", exit code " + exit + ") while dumping " + db + " after " + bytes + " bytes" + tail
                    + ". The dump is incomplete and nothing was committed. Find out who stopped it (the kernel's"
                    + " out-of-memory killer sends SIGKILL; see dmesg) and run the backup again.", null, where(), null);
        }
        return new SourceException("pg_dump failed with exit code " + exit + " while dumping " + db + tail
                + ". Nothing was committed; fix what pg_dump reports and run the backup again.", null, where(), null);
    }

    private static String signalName(int signal) {
        return switch (signal) {
            case 1 -> "SIGHUP";
            case 2 -> "SIGINT";
            case 3 -> "SIGQUIT";
            case 6 -> "SIGABRT";
            case 9 -> "SIGKILL";
            case 11 -> "SIGSEGV";
            case 13 -> "SIGPIPE";
            case 15 -> "SIGTERM";
            default -> "signal " + signal;
        };
    }

    /** The command line: no connection settings and no secret (they travel in the environment). */
    List<String> command(Path pgDump, String snapshot) {
        List<String> cmd = new ArrayList<>();
        cmd.add(pgDump.toString());
        cmd.add("--format=custom");
        cmd.add("--compress=" + compressionLevel);
        cmd.add("--no-password"); // never prompt: a missing password fails instead of hanging
        if (!lockWaitTimeout.isZero() && extraArgs.stream().noneMatch(a -> a.startsWith("--lock-wait-timeout"))) {
            cmd.add("--lock-wait-timeout=" + lockWaitTimeout.toMillis());
        }
        if (snapshot != null) {
            cmd.add("--snapshot=" + snapshot);
        }
        includeSchemas.forEach(p -> cmd.add("--schema=" + p.text()));
        excludeSchemas.forEach(p -> cmd.add("--exclude-schema=" + p.text()));
        includeTables.forEach(p -> cmd.add("--table=" + p.text()));
        excludeTables.forEach(p -> cmd.add("--exclude-table=" + p.text()));
        if (noOwner) {
            cmd.add("--no-owner");
        }
        if (noPrivileges) {
            cmd.add("--no-privileges");
        }
        cmd.addAll(extraArgs);
        return cmd;
    }

    private Connection openJdbc() {
        try {
            return connection.openJdbc();
        } catch (SQLException e) {
            throw sqlFailure(e);
        }
    }

    private BackupException sqlFailure(SQLException e) {
        String state = e.getSQLState() == null ? "" : e.getSQLState();
        String msg = connection.redact(String.valueOf(e.getMessage()));
        String user = connection.user();
        String db = connection.database();
        if (state.equals("28P01") || state.equals("28000")) {
            return new ConfigurationException("PostgreSQL at " + where() + " refused the login of user " + user
                    + " to database " + db + " (" + msg + "). Check the user and password (PGUSER/PGPASSWORD or"
                    + " PgConnection) and the server's pg_hba.conf.", null, where(), null);
        }
        if (state.equals("3D000")) {
            return new ConfigurationException("The database " + db + " does not exist on " + where() + " (" + msg
                    + "). Check the database name (PGDATABASE or PgConnection.database).", null, where(), null);
        }
        if (state.startsWith("08") || e.getCause() instanceof ConnectException) {
            return new SourceException("Cannot reach the PostgreSQL server at " + where() + " to back up database "
                    + db + " (" + msg + "). Check that the server is running and that host and port are right"
                    + " (PGHOST/PGPORT), then run the backup again.", null, where(), null);
        }
        return new SourceException("Querying database " + db + " on " + where() + " before the dump failed (" + msg
                + (state.isEmpty() ? "" : ", SQLSTATE " + state) + "). Nothing was committed; fix the cause and run"
                + " the backup again.", null, where(), null);
    }

    /**
     * The tables pg_dump dumps with the configured -n/-N/-t/-T, like pg_dump selects them, of those
     * {@link CountedTables} counts (which relations count, and how, is defined there for both sides).
     */
    List<CountedTables.Table> dumpedTables(Connection jdbc) throws SQLException {
        List<CountedTables.Table> out = new ArrayList<>();
        for (CountedTables.Table t : CountedTables.list(jdbc)) {
            if (selected(t.schema(), t.name(), t.visible())) {
                out.add(t);
            }
        }
        return out;
    }

    /**
     * True when pg_dump, with the configured extra arguments, dumps the definition of {@code t} but none of its rows
     * ({@code --exclude-table-data}, {@code --no-unlogged-table-data}, {@code --schema-only}): its recorded count is
     * then 0, the rows the dump holds and a restore gives back.
     */
    boolean dataLeftOut(CountedTables.Table t) {
        for (String a : extraArgs) {
            if (a.equals("--schema-only") || a.equals("-s") || (a.equals("--no-unlogged-table-data") && t.unlogged())) {
                return true;
            }
            if (a.startsWith("--exclude-table-data=") && PgNamePattern.table(a.substring(a.indexOf('=') + 1))
                    .matchesTable(t.schema(), t.name(), t.visible())) {
                return true;
            }
        }
        return false;
    }

    private boolean selected(String schema, String name, boolean visible) {
        for (PgNamePattern p : excludeTables) {
            if (p.matchesTable(schema, name, visible)) {
                return false;
            }
        }
        if (!includeTables.isEmpty()) { // -n and -N have no effect when -t is used (pg_dump's documentation)
            return includeTables.stream().anyMatch(p -> p.matchesTable(schema, name, visible));
        }
        if (excludeSchemas.stream().anyMatch(p -> p.matchesSchema(schema))) {
            return false;
        }
        return includeSchemas.isEmpty() || includeSchemas.stream().anyMatch(p -> p.matchesSchema(schema));
    }

    /** Reads pg_dump's stderr: keeps the last lines, logs every line at debug. */
    private static final class StderrDrain extends Thread {
        private final InputStream in;
        private final Deque<String> last = new ArrayDeque<>();

        StderrDrain(InputStream in, long pid) {
            super("jiffoo-pg_dump-stderr-" + pid);
            setDaemon(true);
            this.in = in;
        }

        @Override
        public void run() {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                    LOG.debug("pg_dump: {}", line);
                    synchronized (last) {
                        if (last.size() == STDERR_LINES) {
                            last.removeFirst();
                        }
                        last.addLast(line.length() > 1000 ? line.substring(0, 1000) + "..." : line);
                    }
                }
            } catch (IOException e) {
                LOG.debug("reading pg_dump's stderr failed: {}", e.toString());
            }
        }

        List<String> lastLines() {
            synchronized (last) {
                return List.copyOf(last);
            }
        }
    }

    /**
     * Makes the exact counts of this transaction cheap for the server: they run beside pg_dump, whose compression
     * takes a whole core, so each count is one process (no parallel workers, which would compete with pg_dump and
     * the dump's own COPY for the remaining core) and is not JIT-compiled (compiling a one-line aggregate cost more
     * than it saved). The counts stay {@code count(*)} in the dump's snapshot: exactly as exact.
     */
    static void leanCounts(Statement s, int serverVersionNum) throws SQLException {
        s.execute("SET LOCAL max_parallel_workers_per_gather = 0");
        if (serverVersionNum >= 110000) { // jit exists since PostgreSQL 11
            s.execute("SET LOCAL jit = off");
        }
    }

    /** Counts rows of the dumped tables on the snapshot connection while pg_dump runs. */
    private static final class RowCounter extends Thread {
        private final Connection jdbc;
        private final List<CountedTables.Table> tables;
        final Map<String, Long> counts = new LinkedHashMap<>();
        volatile Exception failure;
        volatile long millis;
        private volatile Statement current;
        private volatile boolean cancelled;

        RowCounter(Connection jdbc, List<CountedTables.Table> tables) {
            super("jiffoo-pg-rowcount");
            setDaemon(true);
            this.jdbc = jdbc;
            this.tables = tables;
        }

        @Override
        public void run() {
            long t0 = System.nanoTime();
            try {
                for (CountedTables.Table t : tables) {
                    if (cancelled) {
                        return;
                    }
                    try (Statement s = jdbc.createStatement()) {
                        current = s;
                        try (ResultSet r = s.executeQuery(t.countSql())) {
                            r.next();
                            counts.put(t.qualified(), r.getLong(1));
                        }
                    } finally {
                        current = null;
                    }
                }
            } catch (SQLException | RuntimeException e) {
                if (!cancelled) {
                    failure = e;
                }
            } finally {
                millis = (System.nanoTime() - t0) / 1_000_000;
            }
        }

        void cancel() {
            cancelled = true;
            Statement s = current;
            if (s != null) {
                try {
                    s.cancel();
                } catch (SQLException e) {
                    LOG.debug("cancelling a row count failed: {}", e.toString());
                }
            }
        }
    }

    /**
     * Builds a {@link PostgresSource}. Setters check their arguments and throw {@link ConfigurationException}. Not
     * thread-safe.
     */
    public static final class Builder {
        private PgConnection connection;
        private int compressionLevel = 9;
        private final List<PgNamePattern> includeSchemas = new ArrayList<>();
        private final List<PgNamePattern> excludeSchemas = new ArrayList<>();
        private final List<PgNamePattern> includeTables = new ArrayList<>();
        private final List<PgNamePattern> excludeTables = new ArrayList<>();
        private boolean noOwner;
        private boolean noPrivileges;
        private final List<String> extraArgs = new ArrayList<>();
        private Path binDirectory;
        private PgToolLocator locator;
        private RowCounts rowCounts = RowCounts.EXACT;
        private Duration lockWaitTimeout = DEFAULT_LOCK_WAIT_TIMEOUT;

        private Builder(PgConnection connection) {
            connection(connection);
        }

        /** The database to dump. */
        public Builder connection(PgConnection connection) {
            this.connection = Objects.requireNonNull(connection, "connection");
            return this;
        }

        /** pg_dump's {@code -Z}: 0 (none) .. 9 (smallest, slowest; the default, as in the runbook). */
        public Builder compressionLevel(int level) {
            if (level < 0 || level > 9) {
                throw new ConfigurationException("The pg_dump compression level must be 0..9, got " + level + ".");
            }
            this.compressionLevel = level;
            return this;
        }

        /** Dumps only schemas matching this pattern ({@code -n}); may be called several times. */
        public Builder includeSchema(String pattern) {
            includeSchemas.add(PgNamePattern.schema(pattern));
            return this;
        }

        /** Leaves out schemas matching this pattern ({@code -N}); may be called several times. */
        public Builder excludeSchema(String pattern) {
            excludeSchemas.add(PgNamePattern.schema(pattern));
            return this;
        }

        /**
         * Dumps only tables matching this pattern ({@code -t}, e.g. {@code public.orders} or {@code order*}); may be
         * called several times. As with pg_dump, schema includes and excludes have no effect once a table is included.
         */
        public Builder includeTable(String pattern) {
            includeTables.add(PgNamePattern.table(pattern));
            return this;
        }

        /** Leaves out tables matching this pattern ({@code -T}); may be called several times. */
        public Builder excludeTable(String pattern) {
            excludeTables.add(PgNamePattern.table(pattern));
            return this;
        }

        /**
         * How long pg_dump (and the row counts) may wait for a table's share lock before the backup fails
         * ({@code --lock-wait-timeout}); 15 minutes by default, so that a migration or {@code VACUUM FULL} holding
         * an exclusive lock fails the backup with a clear message instead of hanging the job (a hung job also blocks
         * the next run of a CronJob with {@code concurrencyPolicy: Forbid}). {@link Duration#ZERO} waits forever,
         * as pg_dump does by default.
         */
        public Builder lockWaitTimeout(Duration timeout) {
            Objects.requireNonNull(timeout, "timeout");
            if (timeout.isNegative() || (!timeout.isZero() && timeout.toMillis() < 1)) {
                throw new ConfigurationException("The lock wait timeout must be zero (wait forever) or at least"
                        + " 1 ms, got " + timeout + ".");
            }
            this.lockWaitTimeout = timeout;
            return this;
        }

        /** {@code --no-owner}: no ALTER ... OWNER in the dump, so it restores as any user. */
        public Builder noOwner(boolean noOwner) {
            this.noOwner = noOwner;
            return this;
        }

        /** {@code --no-privileges}: no GRANT/REVOKE in the dump. */
        public Builder noPrivileges(boolean noPrivileges) {
            this.noPrivileges = noPrivileges;
            return this;
        }

        /**
         * Further pg_dump options, appended verbatim (replacing earlier ones). Each must start with {@code -}; give
         * options with values as {@code --option=value} (e.g. {@code --exclude-table-data=audit_log},
         * {@code --lock-wait-timeout=60s}). Refused: options that change the output format or destination
         * ({@code -f/--file}, {@code -F/--format}, {@code -Z/--compress}, {@code -j/--jobs}), the connection
         * ({@code -d/--dbname}, {@code -h}, {@code -p}, {@code -U}, {@code --role}), {@code -W/--password},
         * {@code --snapshot}, {@code --version}, {@code --help}, and anything carrying a password.
         */
        public Builder extraArgs(List<String> args) {
            Objects.requireNonNull(args, "args");
            List<String> copy = new ArrayList<>();
            for (String a : args) {
                validateExtraArg(a);
                copy.add(a);
            }
            extraArgs.clear();
            extraArgs.addAll(copy);
            return this;
        }

        private void validateExtraArg(String a) {
            if (a == null || a.isEmpty() || !a.startsWith("-") || a.equals("-") || a.equals("--")) {
                throw new ConfigurationException("The extra pg_dump argument '" + a + "' is not an option; give each"
                        + " as --option=value (the database comes from the connection).");
            }
            String lower = a.toLowerCase(Locale.ROOT);
            if (lower.contains("password=") || lower.matches(".*://[^/@\\s]*:[^/@\\s]*@.*")
                    || (connection.hasPassword() && connection.redact(a).contains("***"))) {
                throw new ConfigurationException("An extra pg_dump argument carries a password; passwords go only"
                        + " through PgConnection (the child's environment), never the command line.");
            }
            if (a.startsWith("--")) {
                String name = a.substring(2).split("=", 2)[0];
                for (String f : FORBIDDEN_LONG) {
                    if (f.startsWith(name)) {
                        throw new ConfigurationException("The extra pg_dump argument --" + name + " is not allowed: "
                                + why(f) + ".");
                    }
                }
                return;
            }
            for (int i = 1; i < a.length(); i++) {
                char c = a.charAt(i);
                if (FORBIDDEN_SHORT.indexOf(c) >= 0) {
                    throw new ConfigurationException("The extra pg_dump argument -" + c + " (in '" + a + "') is not"
                            + " allowed: " + why(String.valueOf(c)) + ".");
                }
                if (SHORT_WITH_ARGUMENT.indexOf(c) >= 0) {
                    return; // the rest of the bundle is this option's value
                }
            }
        }

        private static String why(String option) {
            return switch (option) {
                case "file", "f", "format", "F", "jobs", "j" -> "the dump is always custom format on stdout, streamed"
                        + " into the backup";
                case "compress", "Z" -> "use compressionLevel(...)";
                case "dbname", "d", "host", "h", "port", "p", "username", "U", "role" -> "the connection comes from"
                        + " PgConnection";
                case "password", "W" -> "pg_dump must never prompt; the password comes from PgConnection";
                case "snapshot" -> "the source sets the snapshot itself, to count rows consistently";
                default -> "it does not write a dump";
            };
        }

        /** Uses pg_dump from this directory only (e.g. {@code /usr/lib/postgresql/16/bin}), instead of searching. */
        public Builder binDirectory(Path directory) {
            this.binDirectory = Objects.requireNonNull(directory, "directory");
            this.locator = null;
            return this;
        }

        /** Finds pg_dump with this locator (default {@link PgToolLocator#system()}). */
        public Builder locator(PgToolLocator locator) {
            this.locator = Objects.requireNonNull(locator, "locator");
            this.binDirectory = null;
            return this;
        }

        /** How the facts count rows: {@link RowCounts#EXACT} (default), {@code ESTIMATE} or {@code NONE}. */
        public Builder rowCounts(RowCounts mode) {
            this.rowCounts = Objects.requireNonNull(mode, "mode");
            return this;
        }

        /** Builds the source. Nothing is checked against the server until the backup runs. */
        public PostgresSource build() {
            return new PostgresSource(this);
        }
    }
}

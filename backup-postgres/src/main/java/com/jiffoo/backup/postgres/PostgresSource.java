package com.jiffoo.backup.postgres;

import com.jiffoo.backup.BackupException;
import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.Source;
import com.jiffoo.backup.SourceException;
import java.io.IOException;
import java.io.OutputStream;
import java.net.ConnectException;
import java.nio.file.Path;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A {@link Source} that streams {@code pg_dump} of one PostgreSQL database.
 *
 * <p><b>Format.</b> The bytes are pg_dump's <em>custom</em> format ({@code pg_dump -Fc}), compressed by pg_dump with
 * zlib at {@link Builder#compressionLevel} (default 9, as in the runbook). The suffix is {@code .sql} because the
 * runbook names backups {@code db_backup_YYYYMMDD_HHMMSS.sql.gpg}, but the content is <em>not</em> SQL text: restore
 * it with {@code pg_restore -d DB db_backup_....sql} (after {@code gpg -d}), list it with {@code pg_restore --list}.
 *
 * <p><b>Streaming.</b> pg_dump's stdout goes straight into the stream given to {@link #writeTo}, through one
 * 128 KiB buffer: no temporary file, memory independent of the database size. pg_dump is started by {@link PgChild},
 * the module's one launcher: its stderr's last 50 lines are kept for the error message, every line is logged at
 * debug; when writing to the stream fails (the store or encryption failed downstream), pg_dump is killed and the
 * write's exception is rethrown. The stream is never closed here.
 *
 * <p><b>Consistency and facts.</b> Before pg_dump starts, a {@link DumpSnapshot} reads the server version and
 * database size, opens a {@code REPEATABLE READ READ ONLY} transaction and exports its snapshot; pg_dump runs with
 * {@code --snapshot=<id>} ({@link DumpCommand}), so the row counts reported in the facts ({@link RowCounter}: exact
 * {@code count(*)} per table, by default, counted while pg_dump runs) describe exactly the data in the dump. Which
 * tables are counted, and how, is {@code CountedTables}'s rule, shared with {@link RowCountCheck}; a table whose rows
 * pg_dump leaves out ({@code --exclude-table-data}, {@code --no-unlogged-table-data}, {@code --schema-only} among the
 * extra arguments) is recorded with 0 rows, which is what the dump holds. The transaction stays open until pg_dump
 * has exited. See {@link RowCounts} for the cost and the cheaper options.
 *
 * <p><b>Secrets.</b> pg_dump receives host, port, user, database and password only through libpq variables in its
 * environment ({@link PgConnection#childEnvironment()}); its command line has no connection settings at all, so the
 * password never shows in {@code ps}. The rest of its environment is the allowlist of every child process of this
 * module ({@code ChildEnvironment}). Error messages and logs never contain the password.
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

    /** The default of {@link Builder#lockWaitTimeout(Duration)}. */
    public static final Duration DEFAULT_LOCK_WAIT_TIMEOUT = Duration.ofMinutes(15);

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
    private final DumpCommand command;
    private final PgToolLocator locator;
    private final Path binDirectory;
    private final RowCounts rowCounts;
    private final List<String> fingerprintTables;
    private final int compressionThreads;
    /** The runs of {@link #writeTo} in progress, for {@link #cancel()}. */
    private final Set<Run> running = ConcurrentHashMap.newKeySet();

    private PostgresSource(Builder b) {
        this.connection = b.connection;
        this.command = new DumpCommand(
                b.compressionLevel,
                b.includeSchemas,
                b.excludeSchemas,
                b.includeTables,
                b.excludeTables,
                b.noOwner,
                b.noPrivileges,
                b.extraArgs,
                b.lockWaitTimeout);
        this.binDirectory = b.binDirectory;
        this.locator = b.locator != null
                ? b.locator
                : b.binDirectory != null ? PgToolLocator.inDirectory(b.binDirectory) : PgToolLocator.system();
        this.rowCounts = b.rowCounts;
        this.fingerprintTables = List.copyOf(b.fingerprintTables);
        this.compressionThreads = b.compressionThreads;
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
        b.compressionLevel = command.compressionLevel();
        b.includeSchemas.addAll(command.includeSchemas());
        b.excludeSchemas.addAll(command.excludeSchemas());
        b.includeTables.addAll(command.includeTables());
        b.excludeTables.addAll(command.excludeTables());
        b.noOwner = command.noOwner();
        b.noPrivileges = command.noPrivileges();
        b.extraArgs.addAll(command.extraArgs());
        b.binDirectory = binDirectory;
        b.locator = binDirectory == null ? locator : null;
        b.rowCounts = rowCounts;
        b.fingerprintTables.addAll(fingerprintTables);
        b.lockWaitTimeout = command.lockWaitTimeout();
        b.compressionThreads = compressionThreads;
        return b;
    }

    /** The database dumped. */
    public PgConnection connection() {
        return connection;
    }

    /** pg_dump's {@code -Z} level, 0..9. */
    public int compressionLevel() {
        return command.compressionLevel();
    }

    /**
     * The threads that compress the dump's data beside pg_dump ({@link Builder#compressionThreads}); 0 when pg_dump
     * compresses on its own.
     */
    public int compressionThreads() {
        return compressionThreads;
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
                + " (pg_dump custom, -Z " + command.compressionLevel() + ")";
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
     *         {@code dumpBytes} (the archive's), {@code dumpMillis}, {@code compressedBy} ({@code jiffoo-backup} or
     *         {@code pg_dump}), with the library compressing {@code compressionThreads} and {@code pgDumpBytes} (the
     *         uncompressed archive pg_dump wrote)
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
        try (DumpSnapshot snapshot = DumpSnapshot.open(connection, command.lockWaitTimeout())) {
            Map<String, Object> facts = new LinkedHashMap<>();
            facts.put("database", connection.database());
            facts.put("host", connection.host());
            facts.put("port", connection.port());
            facts.put("user", connection.user());
            facts.putAll(snapshot.facts());
            PgTool pgDump = locator.locate("pg_dump", snapshot.serverVersionNum() / 10000);
            facts.put("pgDumpVersion", pgDump.version());
            facts.put("pgDumpPath", pgDump.path().toString());
            facts.put("format", "custom");
            facts.put("compressionLevel", command.compressionLevel());
            boolean parallel = command.compressionLevel() > 0
                    && compressionThreads > 0
                    && CustomFormatCompressor.supports(pgDump.major());
            facts.put("compressedBy", parallel ? "jiffoo-backup" : "pg_dump");
            if (parallel) {
                facts.put("compressionThreads", compressionThreads);
            }
            RowCounter counter = RowCounter.plan(rowCounts, snapshot, command, connection, fingerprintTables);

            List<String> argv = command.argv(pgDump.path(), snapshot.id(), parallel ? 0 : command.compressionLevel());
            LOG.info("dumping {} with {} {}", describe(), pgDump.path(), pgDump.version());
            LOG.debug("pg_dump command: {}", argv);
            PgChild child = PgChild.start(argv, connection, ProcessBuilder.Redirect.PIPE, true);
            try {
                run.started(child, counter);
                child.stdin().close();
                counter.start();
                long bytes = parallel ? compressed(child, out, facts) : child.copyStdoutTo(out);
                int exit = child.waitFor();
                long dumpMillis = (System.nanoTime() - started) / 1_000_000;
                if (exit != 0) {
                    throw failure(exit, child.tail(), bytes, child.cancelled());
                }
                if (!child.tail().isEmpty()) {
                    LOG.info(
                            "pg_dump of {} succeeded with messages: {}",
                            connection.database(),
                            String.join(" | ", child.tail()));
                }
                facts.putAll(counter.facts());
                facts.put("dumpBytes", bytes);
                facts.put("dumpMillis", dumpMillis);
                LOG.info("dumped {}: {} bytes in {} ms", describe(), bytes, dumpMillis);
                return facts;
            } finally {
                child.kill();
                counter.stop();
            }
        } catch (SQLException e) {
            throw sqlFailure(e);
        } finally {
            running.remove(run);
        }
    }

    /**
     * Copies pg_dump's uncompressed archive into {@code out} through a {@link CustomFormatCompressor}. When the archive
     * ends early, pg_dump stopped: its own failure (exit code and messages) is what the operator needs.
     *
     * @return the bytes of the compressed archive; the fact {@code pgDumpBytes} holds those pg_dump wrote
     */
    private long compressed(PgChild child, OutputStream out, Map<String, Object> facts) throws IOException {
        CustomFormatCompressor compressor = new CustomFormatCompressor(command.compressionLevel(), compressionThreads);
        try {
            facts.put("pgDumpBytes", child.transformStdout(compressor::compress, out));
            return compressor.bytesWritten();
        } catch (CustomFormatCompressor.Truncated e) {
            int exit = child.waitFor();
            if (exit != 0) {
                throw failure(exit, child.tail(), compressor.bytesRead(), child.cancelled());
            }
            throw new SourceException(
                    "pg_dump of database " + connection.database() + " on " + where() + " exited 0 but its archive"
                            + " was incomplete (" + e.getMessage() + "). Nothing was committed. Run the backup again;"
                            + " if it recurs, set the dump's compression threads to 0 (pg_dump compresses itself)"
                            + " and report it.",
                    null,
                    where(),
                    e);
        } catch (CustomFormatCompressor.FormatException e) {
            throw new SourceException(
                    "pg_dump's output for database " + connection.database() + " could not be compressed: "
                            + e.getMessage() + ". Nothing was committed.",
                    null,
                    where(),
                    e);
        } finally {
            compressor.close();
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
    private static final class Run {
        private PgChild child; // guarded by this
        private RowCounter counter; // guarded by this
        private boolean cancelled; // guarded by this

        synchronized void started(PgChild c, RowCounter r) {
            child = c;
            counter = r;
            if (cancelled) {
                cancel();
            }
        }

        synchronized void cancel() {
            cancelled = true;
            if (child != null) {
                child.cancel();
                counter.cancel();
            }
        }
    }

    private SourceException failure(int exit, List<String> lines, long bytes, boolean cancelled) {
        String tail = lines.isEmpty() ? "" : ": " + connection.redact(String.join(" | ", lines));
        String db = "database " + connection.database() + " on " + where();
        if (cancelled) {
            return new SourceException(
                    "pg_dump of " + db + " was stopped (exit code " + exit + ") because the backup"
                            + " was cancelled or failed elsewhere, after " + bytes + " bytes. Nothing was committed.",
                    null,
                    where(),
                    null);
        }
        // pg_dump implements --lock-wait-timeout with statement_timeout around its LOCK TABLE statements
        if (lines.stream().anyMatch(l -> l.contains("lock timeout"))
                || (lines.stream().anyMatch(l -> l.contains("statement timeout"))
                        && lines.stream().anyMatch(l -> l.contains("LOCK TABLE")))) {
            return new SourceException(
                    "pg_dump could not lock a table of " + db + " within the lock wait timeout of "
                            + command.lockWaitTimeout().toSeconds() + " s" + tail
                            + ". Another session holds a conflicting"
                            + " lock (a migration, VACUUM FULL, ALTER TABLE): find it in pg_locks and pg_stat_activity, let it"
                            + " finish, and run the backup again; or raise lockWaitTimeout(...). Nothing was committed.",
                    null,
                    where(),
                    null);
        }
        if (PgChild.signal(exit) != 0) {
            return new SourceException(
                    "pg_dump " + PgChild.exitText(exit) + " while dumping " + db + " after " + bytes
                            + " bytes" + tail
                            + ". The dump is incomplete and nothing was committed. Find out who stopped it"
                            + " (the kernel's out-of-memory killer sends SIGKILL; see dmesg) and run the backup again.",
                    null,
                    where(),
                    null);
        }
        return new SourceException(
                "pg_dump " + PgChild.exitText(exit) + " while dumping " + db + tail
                        + ". Nothing was committed; fix what pg_dump reports and run the backup again.",
                null,
                where(),
                null);
    }

    /** pg_dump's command line and what it selects. */
    DumpCommand command() {
        return command;
    }

    private BackupException sqlFailure(SQLException e) {
        String state = e.getSQLState() == null ? "" : e.getSQLState();
        String msg = connection.redact(String.valueOf(e.getMessage()));
        String user = connection.user();
        String db = connection.database();
        if (state.equals("28P01") || state.equals("28000")) {
            return new ConfigurationException(
                    "PostgreSQL at " + where() + " refused the login of user " + user
                            + " to database " + db + " (" + msg + "). Check the user and password (PGUSER/PGPASSWORD or"
                            + " PgConnection) and the server's pg_hba.conf.",
                    null,
                    where(),
                    null);
        }
        if (state.equals("3D000")) {
            return new ConfigurationException(
                    "The database " + db + " does not exist on " + where() + " (" + msg
                            + "). Check the database name (PGDATABASE or PgConnection.database).",
                    null,
                    where(),
                    null);
        }
        if (state.startsWith("08") || e.getCause() instanceof ConnectException) {
            return new SourceException(
                    "Cannot reach the PostgreSQL server at " + where() + " to back up database "
                            + db + " (" + msg + "). Check that the server is running and that host and port are right"
                            + " (PGHOST/PGPORT), then run the backup again.",
                    null,
                    where(),
                    null);
        }
        return new SourceException(
                "Querying database " + db + " on " + where() + " before the dump failed (" + msg
                        + (state.isEmpty() ? "" : ", SQLSTATE " + state)
                        + "). Nothing was committed; fix the cause and run"
                        + " the backup again.",
                null,
                where(),
                null);
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
        private final List<String> fingerprintTables = new ArrayList<>();
        private Duration lockWaitTimeout = DEFAULT_LOCK_WAIT_TIMEOUT;
        /** The default's cap: a container without a CPU limit reports the host's cores. */
        static final int MAX_DEFAULT_COMPRESSION_THREADS = 8;

        private int compressionThreads = defaultCompressionThreads();

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

        /**
         * How many threads compress the dump's data (default: the number of processors, at most {@value
         * #MAX_DEFAULT_COMPRESSION_THREADS}; 0 on a single one). pg_dump
         * compresses on one core, which makes it the slowest stage of a backup at {@code -Z 9}; with threads, pg_dump
         * runs with {@code --compress=0} and the library deflates its table data at {@link #compressionLevel} on these
         * threads into the archive pg_dump would have written: {@code pg_restore} reads it as ever, its size is
         * within about 1 % of pg_dump's. 0 lets pg_dump compress. Taken for pg_dump 11 to 15 (archive versions 1.13
         * and 1.14; tested with pg_dump 15); with a newer pg_dump, pg_dump compresses (the manifest's
         * {@code compressedBy} tells which). Memory: about 3 MiB per thread.
         */
        public Builder compressionThreads(int threads) {
            if (threads < 0 || threads > 64) {
                throw new ConfigurationException("The dump's compression threads must be 0..64, got " + threads + ".");
            }
            this.compressionThreads = threads;
            return this;
        }

        private static int defaultCompressionThreads() {
            int cpus = Runtime.getRuntime().availableProcessors();
            return cpus > 1 ? Math.min(cpus, MAX_DEFAULT_COMPRESSION_THREADS) : 0;
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
                DumpCommand.checkExtraArg(a, connection);
                copy.add(a);
            }
            extraArgs.clear();
            extraArgs.addAll(copy);
            return this;
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

        /**
         * Records a content fingerprint of this table in the manifest ({@code fingerprints}: {@code "schema.table" ->
         * rows:sum1:sum2}, computed by PostgreSQL in the dump's snapshot after the exact row counts), which a restore
         * drill's {@code checkTables} compares after its restore. {@code schema.table}, or a bare name of one table;
         * repeatable. Needs {@link RowCounts#EXACT}; it reads the whole table once more while pg_dump runs.
         */
        public Builder fingerprintTable(String table) {
            if (table == null || table.isBlank()) {
                throw new IllegalArgumentException("a table to fingerprint is schema.table or a table name");
            }
            this.fingerprintTables.add(table.strip());
            return this;
        }

        /** Builds the source. Nothing is checked against the server until the backup runs. */
        public PostgresSource build() {
            if (!fingerprintTables.isEmpty() && rowCounts != RowCounts.EXACT) {
                throw new ConfigurationException("Table fingerprints are taken with the exact row counts: leave"
                        + " rowCounts at EXACT, or record no fingerprint.");
            }
            return new PostgresSource(this);
        }
    }
}

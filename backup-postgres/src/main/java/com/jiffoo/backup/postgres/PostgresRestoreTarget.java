package com.jiffoo.backup.postgres;

import com.jiffoo.backup.BackupManifest;
import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.RestoreException;
import com.jiffoo.backup.RestorePipeline;
import com.jiffoo.backup.RestoreTarget;
import com.jiffoo.backup.StagedRestore;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A {@link RestoreTarget} that runs {@code pg_restore} on the plaintext of a database backup (pg_dump's custom
 * format, {@code pg_dump -Fc}), streamed into pg_restore's stdin: no temporary file unless {@link Builder#jobs(int)
 * parallel restore} is asked for.
 *
 * <h2>Two modes</h2>
 * <ul>
 *   <li><b>Into a new database</b> ({@link #newDatabase(PgConnection, String)}, the default and the safe one: for
 *       restore drills, tests, "restore into the test environment"). {@link #stage} refuses a name that already
 *       exists, runs {@code CREATE DATABASE name TEMPLATE template0} (template and owner configurable), and runs
 *       pg_restore into it. If pg_restore fails, the new database is dropped again before {@code stage} throws.
 *       {@link StagedRestore#commit()} keeps it; {@link StagedRestore#close()} without a commit drops it. So
 *       {@link #stagesSafely()} is true: when the {@link RestorePipeline} finds a checksum mismatch after the
 *       stream, the database simply disappears.</li>
 *   <li><b>Into an existing database</b> ({@link #existingDatabase(PgConnection)}). By default <b>by a swap</b>
 *       ({@link DatabaseSwap}): {@link #stage} refuses while other sessions are connected, creates a fresh database
 *       {@code <name>_jbr_<hex>} with the existing one's owner, encoding, locale, tablespace, connection limit,
 *       privileges and settings, and restores into it (dropped on failure, exactly like a new database: the
 *       existing database is not touched, so {@link #stagesSafely()} is true and parallel jobs work).
 *       When the manifest records row counts, {@link RowCountCheck} compares them on the restored copy before
 *       anything is swapped (an {@code IntegrityException} when they do not match; the fact
 *       {@value #ROW_COUNT_CHECK} holds the report). {@link StagedRestore#commit()} renames both in one transaction (the existing one to
 *       {@code <name>_jbp_<hex>}, the fresh one to its name) and drops the previous database, unless it holds
 *       relations the restore lacks (tables made after the backup, or left out of it): then it is kept under that
 *       name, logged and named in the facts ({@code previousDatabase}, {@code relationsOnlyInPrevious}). This works
 *       for every schema, partitioned ones included, and needs CREATEDB, ownership of the database and room for a
 *       second copy while it runs.
 *       <br>With {@link Builder#cleanInPlace(boolean) cleanInPlace(true)}, pg_restore runs {@code --clean
 *       --if-exists} in the database itself: objects in the dump are dropped and recreated; objects that are not
 *       in the dump stay. This changes the target while the stream is read, so {@link #stagesSafely()} is
 *       <b>false</b>: the pipeline verifies the whole stored backup (decrypting it and checking its SHA-256) before
 *       it calls {@code stage} (DESIGN promise 5). It runs {@code --single-transaction --exit-on-error}: a failing
 *       restore (damaged dump, missing role, killed stream) is rolled back and leaves the old content.
 *       {@code commit()} and {@code close()} do nothing then. It cannot restore partitioned tables: pg_restore drops
 *       a partition's inherited constraint before its parent's, which PostgreSQL refuses ("cannot drop inherited
 *       constraint"), and the transaction is rolled back. <b>Without single-transaction</b> (e.g. with
 *       {@code jobs > 1}) nothing can undo what pg_restore already did when it fails half-way; the database is
 *       then left partly restored, and the exception says so.</li>
 * </ul>
 * The database restored into is the one of the {@link PgConnection} given, whatever host or database the backup
 * came from: restoring production's backup into a test server just works.
 *
 * <h2>Parallel restore</h2>
 * pg_restore cannot restore in parallel from stdin. With {@link Builder#jobs(int) jobs(n)}, n &gt; 1, the target
 * first spools the stream into a temporary file (mode 0600, in a private 0700 directory
 * {@code jiffoo-pgrestore-<pid>-<random>}) in {@link Builder#spoolDirectory(Path)} (default {@code java.io.tmpdir}),
 * then runs {@code pg_restore -j n}. On Linux the file is unlinked as soon as it is opened, before a byte is
 * written, and handed to pg_restore as its standard input ({@code /proc/self/fd/0}): it has no name on disk and
 * disappears with the processes holding it, even after a {@code kill -9}. Elsewhere it is deleted afterwards, and a
 * spool whose process is gone is deleted by the next parallel restore. Either way it is a plaintext copy of the dump
 * that costs disk space equal to the dump's size (the manifest's {@code plaintextSize}); the facts say so
 * ({@code spooledBytes}). {@code --single-transaction} cannot be combined with {@code -j}; the builder refuses that
 * combination.
 *
 * <h2>Killed restores</h2>
 * pg_restore is started through {@code setpriv --pdeathsig KILL} where util-linux has it, so it dies with the JVM
 * instead of finishing into the database unchecked. A new database carries the comment {@code jiffoo-backup: restore
 * in progress by pid N (started T) on host H ...} until {@link StagedRestore#commit()} clears it. Every
 * {@link #stage} first drops the databases so marked whose process (on this host) is gone, and logs those it leaves
 * (a restore still running, or one of another host); the facts name them ({@code abandonedDatabasesDropped},
 * {@code markedDatabasesLeft}).
 *
 * <h2>Secrets and output</h2>
 * The password reaches pg_restore only through its environment ({@link PgConnection#childEnvironment()}), never its
 * command line ({@link RestoreCommand}), and is never logged. pg_restore is started by {@link PgChild}, the module's
 * one launcher: its stderr is drained concurrently; its last {@value PgChild#KEPT_LINES} lines are quoted in errors.
 * The databases are created, checked and dropped by {@link RestoreDatabases}.
 *
 * <h2>Facts</h2>
 * {@code database}, {@code host} ({@code host:port}), {@code mode} ({@code new-database}/{@code existing-database}),
 * {@code method} (existing database: {@code swap}/{@code clean-in-place}; after a swap's commit also
 * {@code previousDatabase}, {@code relationsOnlyInPrevious}),
 * {@code jobs}, {@code singleTransaction}, {@code durationMillis}, {@code warnings} (pg_restore's warning lines),
 * {@code spooledBytes} and {@code spool} (when parallel); when the manifest records row counts (and
 * {@link Builder#checkRowCounts(boolean)} is on, the default), {@value #ROW_COUNT_CHECK} (the
 * {@link RowCountCheck.Report}) and {@code tablesCountedDuringRestore} (how many tables were counted while pg_restore
 * was still running: with one job and no single transaction, each table once pg_restore has moved past its data).
 *
 * <pre>{@code
 * RestoreTarget drill = PostgresRestoreTarget.newDatabase(PgConnection.fromEnvironment(), "jiffoo_drill_20260111")
 *         .toBuilder().noOwner(true).jobs(4).build();
 * RestoreResult r = RestorePipeline.builder().sink(sink).decryption(pgp).target(drill).build()
 *         .restoreLatest("database");
 * }</pre>
 *
 * <p>Immutable and thread-safe; {@link #stage} may be called again for another restore (in new-database mode, the
 * name must then be free again). Do not run two restores into the same database at once.
 */
public final class PostgresRestoreTarget implements RestoreTarget {
    private static final Logger log = LoggerFactory.getLogger(PostgresRestoreTarget.class);

    /** Where a restore goes. */
    public enum Mode {
        /** Create a new database and restore into it; drop it on failure or discard. */
        NEW_DATABASE("new-database"),
        /** Replace an existing database: by a swap (default) or with {@code pg_restore --clean} in place. */
        EXISTING_DATABASE("existing-database");

        private final String label;

        Mode(String label) {
            this.label = label;
        }

        /** The name used in facts and messages. */
        public String label() {
            return label;
        }
    }

    /**
     * The fact holding the {@link RowCountCheck.Report} of a swap, compared on the restored copy before it replaced
     * the database (when the manifest records row counts); the swap does not happen when it fails.
     */
    public static final String ROW_COUNT_CHECK = "rowCountCheck";

    /** The {@value #ROW_COUNT_CHECK} report among a restore's facts, if the target made one. */
    public static java.util.Optional<RowCountCheck.Report> rowCountCheck(Map<String, Object> facts) {
        return facts.get(ROW_COUNT_CHECK) instanceof RowCountCheck.Report r
                ? java.util.Optional.of(r)
                : java.util.Optional.empty();
    }

    private final Mode mode;
    private final PgConnection connection;
    private final String maintenanceDatabase;
    private final String template;
    private final String owner;
    private final RestoreCommand command;
    private final Path spoolDirectory;
    private final RestoreDatabases databases;
    private final boolean checkRowCounts;

    private PostgresRestoreTarget(Builder b) {
        this.mode = b.mode;
        this.connection = b.connection;
        this.maintenanceDatabase = b.maintenanceDatabase;
        this.template = b.template;
        this.owner = b.owner;
        boolean cleanInPlace = b.mode == Mode.EXISTING_DATABASE && b.cleanInPlace;
        this.command = new RestoreCommand(
                b.pgRestore,
                cleanInPlace,
                b.exitOnError,
                b.singleTransaction != null ? b.singleTransaction : cleanInPlace,
                b.noOwner,
                b.noPrivileges,
                b.role,
                b.jobs);
        this.spoolDirectory = b.spoolDirectory;
        this.databases = new RestoreDatabases(connection, maintenanceDatabase, template, owner, describe());
        this.checkRowCounts = b.checkRowCounts;
    }

    /**
     * A target that creates the database {@code name} on {@code server} and restores into it, with the defaults
     * (template0, owner = the connecting user, exit-on-error, streamed, no single transaction). Customise with
     * {@link #toBuilder()}.
     *
     * @param server how to reach the server; its database is not used (CREATE DATABASE runs while connected to
     *               {@link Builder#maintenanceDatabase(String) postgres})
     * @param name   the new database's name, 1..63 bytes; it must not exist when {@link #stage} runs
     */
    public static PostgresRestoreTarget newDatabase(PgConnection server, String name) {
        return newDatabaseBuilder(server, name).build();
    }

    /** A builder for {@link #newDatabase(PgConnection, String)}. */
    public static Builder newDatabaseBuilder(PgConnection server, String name) {
        Objects.requireNonNull(server, "server");
        Builder b = new Builder(Mode.NEW_DATABASE, server.withDatabase(checkName(name)));
        return b;
    }

    /**
     * A target that replaces the existing database of {@code database} by a restored copy swapped in by name when
     * every check passed (see the class comment); {@link Builder#cleanInPlace(boolean)} restores in place with
     * {@code pg_restore --clean} instead.
     */
    public static PostgresRestoreTarget existingDatabase(PgConnection database) {
        return existingDatabaseBuilder(database).build();
    }

    /** A builder for {@link #existingDatabase(PgConnection)}. */
    public static Builder existingDatabaseBuilder(PgConnection database) {
        Objects.requireNonNull(database, "database");
        return new Builder(Mode.EXISTING_DATABASE, database);
    }

    /** A builder holding this target's settings. */
    public Builder toBuilder() {
        Builder b = new Builder(mode, connection);
        b.maintenanceDatabase = maintenanceDatabase;
        b.template = template;
        b.owner = owner;
        b.noOwner = command.noOwner();
        b.role = command.role();
        b.noPrivileges = command.noPrivileges();
        b.exitOnError = command.exitOnError();
        b.singleTransaction = command.singleTransaction();
        b.jobs = command.jobs();
        b.spoolDirectory = spoolDirectory;
        b.pgRestore = command.pgRestore();
        b.cleanInPlace = command.cleanInPlace();
        b.checkRowCounts = checkRowCounts;
        return b;
    }

    /** The mode. */
    public Mode mode() {
        return mode;
    }

    /** The connection of the database restored into (its database is the target's name). */
    public PgConnection connection() {
        return connection;
    }

    /**
     * Whether the database this target restores into exists on the server now: a new-database target refuses one
     * that does, an existing-database target needs it. For callers that check before any backup is read (the
     * launcher's {@code restore database}); {@link #stage} checks again. A database that a killed restore of this
     * host left half restored (marked, its process gone) does not count: {@link #stage} drops it first.
     *
     * @throws RestoreException when the server cannot be reached
     */
    public boolean databaseExists() {
        return databases.existsUnabandoned();
    }

    /** The number of parallel pg_restore jobs; 1 streams. */
    public int jobs() {
        return command.jobs();
    }

    /** Whether pg_restore runs {@code --single-transaction}. */
    public boolean singleTransaction() {
        return command.singleTransaction();
    }

    /**
     * Existing-database mode only: true when pg_restore {@code --clean} works in the database itself
     * ({@link Builder#cleanInPlace(boolean)}), false (the default) when the restore goes into a fresh database that
     * is swapped in by name.
     */
    public boolean cleanInPlace() {
        return command.cleanInPlace();
    }

    /** E.g. {@code new PostgreSQL database jiffoo_test@db:5432/drill}; never with the password. */
    @Override
    public String describe() {
        return (mode == Mode.NEW_DATABASE ? "new" : "existing") + " PostgreSQL database " + connection.describe();
    }

    /**
     * True in new-database mode and when an existing database is replaced by a swap (nothing changes before
     * {@link StagedRestore#commit()}); false with {@link Builder#cleanInPlace(boolean)} (it changes the database while
     * reading).
     */
    @Override
    public boolean stagesSafely() {
        return !command.cleanInPlace();
    }

    /**
     * Restores the dump in {@code plaintext} (pg_dump custom format) with pg_restore. Blocks until pg_restore ends.
     * {@code plaintext} is read up to where pg_restore stops and not closed.
     *
     * @return the staged restore (see the class comment for what commit and close do per mode); the caller commits
     *         or closes it
     * @throws RestoreException when the database exists (new mode) or does not (existing mode), the server cannot be
     *                          reached, or pg_restore fails; the message quotes pg_restore's last lines. In new mode
     *                          the new database is dropped first.
     * @throws IOException      when reading {@code plaintext} fails (pg_restore is stopped, a new database dropped)
     */
    @Override
    public StagedRestore stage(InputStream plaintext, BackupManifest manifest) throws IOException {
        Objects.requireNonNull(plaintext, "plaintext");
        return stage(setUp(), plaintext, manifest);
    }

    /**
     * What a restore does before it needs a byte of the backup: drops what killed restores left, creates the new
     * database (or, for a swap, the fresh copy to restore into), or checks that the database to clean exists.
     */
    private Setup setUp() {
        long started = System.nanoTime();
        Map<String, Object> leftovers = databases.dropAbandoned();
        if (mode == Mode.NEW_DATABASE) {
            databases.create(connection.database(), null);
            return new Setup(started, leftovers, connection, null, null);
        } else if (command.cleanInPlace()) {
            databases.requireExisting();
            return new Setup(started, leftovers, connection, null, null);
        }
        DatabaseSwap swap = DatabaseSwap.prepare(databases, connection, maintenanceDatabase);
        databases.create(swap.staging(), swap);
        return new Setup(started, leftovers, connection.withDatabase(swap.staging()), swap, null);
    }

    /**
     * The outcome of {@link #setUp()}: where pg_restore restores into, and (when {@link #prepare()} found it
     * beforehand) which pg_restore, else null.
     */
    private record Setup(
            long started, Map<String, Object> leftovers, PgConnection into, DatabaseSwap swap, Path pgRestore) {
        Setup withPgRestore(Path bin) {
            return new Setup(started, leftovers, into, swap, bin);
        }
    }

    /** Drops what {@link #setUp()} created (the new database, a swap's fresh copy); never throws. */
    private void undo(Setup setup) {
        if (mode == Mode.NEW_DATABASE) {
            databases.dropQuietly(connection.database());
        } else if (setup.swap() != null) {
            databases.dropQuietly(setup.swap().staging());
        }
    }

    private StagedRestore stage(Setup setup, InputStream plaintext, BackupManifest manifest) throws IOException {
        String what = manifest == null ? "a dump" : manifest.objectKey();
        long started = setup.started();
        Map<String, Object> leftovers = setup.leftovers();
        PgConnection into = setup.into();
        DatabaseSwap swap = setup.swap();
        log.info(
                "pg_restore of {} into {} started ({} job(s){}{})",
                what,
                describe(),
                command.jobs(),
                command.singleTransaction() ? ", single transaction" : "",
                swap == null ? "" : ", into " + swap.staging() + " to be swapped in by name");
        boolean ok = false;
        RowCountCheck.WhileRestoring early = null;
        try {
            boolean counted = (checkRowCounts || swap != null)
                    && manifest != null
                    && manifest.sourceFacts().get(RowCountCheck.ROW_COUNTS) != null;
            if (counted
                    && command.jobs() == 1
                    && !command.singleTransaction()
                    // a count with inheritance children (old manifests) changes until the children's data is in
                    && CountedTables.Scope.of(manifest.sourceFacts()) == CountedTables.Scope.ONLY) {
                early = new RowCountCheck.WhileRestoring(into, manifest);
            }
            Map<String, Object> facts = run(plaintext, what, into, early, setup.pgRestore());
            if (counted) {
                // judged before a swap, so that a restore the backup's counts reject never replaces the database
                RowCountCheck.Report counts = early != null ? early.finish() : RowCountCheck.compare(into, manifest);
                facts.put(ROW_COUNT_CHECK, counts);
                facts.put(
                        "tablesCountedDuringRestore",
                        early == null ? 0 : early.countedSoFar().size());
                if (swap != null) {
                    counts.orThrow();
                }
            }
            facts.put("durationMillis", (System.nanoTime() - started) / 1_000_000);
            if (mode == Mode.EXISTING_DATABASE) {
                facts.put("method", swap == null ? "clean-in-place" : "swap");
            }
            facts.putAll(leftovers);
            ok = true;
            log.info(
                    "pg_restore of {} into {} done in {} ms, {} warning(s)",
                    what,
                    describe(),
                    facts.get("durationMillis"),
                    facts.get("warnings"));
            // a new database's commit clears its mark on the connection that counted (a swap renames the database:
            // no connection to it may stay open)
            Connection counting =
                    early != null && swap == null && mode == Mode.NEW_DATABASE ? early.takeConnection() : null;
            return new Staged(facts, swap, counting);
        } finally {
            if (early != null) {
                early.close(); // its connection closes before the database may be dropped
            }
            if (!ok) {
                undo(setup);
            }
        }
    }

    /**
     * Starts, on a thread of its own, what a restore does before it needs a byte of the backup — dropping what killed
     * restores left and {@code CREATE DATABASE} (for a swap: the fresh copy) — so that it runs while the caller lists
     * the store and checks the manifest, and pg_restore starts sooner. The returned target's {@link #stage} waits for
     * that work (and throws what it threw), then restores as this target does (a second stage, e.g. from another store
     * after a failure, starts from the beginning as this target's would).
     * {@link Prepared#close()} drops what the preparation created unless a stage took it over: close it when the
     * restore ends, however it ends.
     *
     * <pre>{@code
     * try (PostgresRestoreTarget.Prepared target = PostgresRestoreTarget.newDatabase(server, "shop_copy").prepare()) {
     *     RestorePipeline.builder().sink(sink).decryption(pgp).target(target).build().restoreLatest("database");
     * }
     * }</pre>
     */
    public Prepared prepare() {
        return new Prepared(() -> {});
    }

    /**
     * {@link #prepare()} with a check of the caller's that runs first on the preparing thread, e.g. whether the
     * database exists ({@link #databaseExists()}) where the caller refuses one that does. What the check throws,
     * {@link Prepared#checkReady} and {@link Prepared#stage} throw, and nothing is created: a refusal is reported
     * before any byte of the backup is read, without holding up the listing of the store and the manifest's checks.
     */
    public Prepared prepare(Runnable check) {
        Objects.requireNonNull(check, "check");
        return new Prepared(check);
    }

    /** A target whose database work has started: see {@link #prepare()}. Thread-safe. */
    public final class Prepared implements RestoreTarget, AutoCloseable {
        private final java.util.concurrent.CompletableFuture<Setup> setup;
        /** Completed once the caller's check passed (before {@code CREATE DATABASE}); failed with what it threw. */
        private final java.util.concurrent.CompletableFuture<Void> checked =
                new java.util.concurrent.CompletableFuture<>();

        private final java.util.concurrent.CompletableFuture<Path> pgRestore =
                new java.util.concurrent.CompletableFuture<>();
        private boolean taken;
        private boolean closed;

        private Prepared(Runnable check) {
            setup = new java.util.concurrent.CompletableFuture<>();
            // which pg_restore (each candidate asked its version) and the child processes' death-signal probe: two
            // process starts that would otherwise come after CREATE DATABASE, before pg_restore starts
            Thread tool = new Thread(
                    () -> {
                        try {
                            PgChild.warmUp();
                            pgRestore.complete(command.binary());
                        } catch (Throwable e) {
                            pgRestore.completeExceptionally(e);
                        }
                    },
                    "jiffoo-restore-tool");
            tool.setDaemon(true);
            tool.start();
            Thread t = new Thread(
                    () -> {
                        try {
                            // one maintenance connection for the check, the abandoned restores and CREATE DATABASE
                            databases.inSession(() -> {
                                check.run();
                                checked.complete(null);
                                setup.complete(setUp());
                            });
                        } catch (Throwable e) {
                            checked.completeExceptionally(e); // no effect once the check passed
                            setup.completeExceptionally(e);
                        }
                    },
                    "jiffoo-restore-prepare");
            t.setDaemon(true);
            t.start();
        }

        @Override
        public String describe() {
            return PostgresRestoreTarget.this.describe();
        }

        @Override
        public boolean stagesSafely() {
            return PostgresRestoreTarget.this.stagesSafely();
        }

        /**
         * Waits for the caller's check (and the search for pg_restore) and throws what it threw, so that a refusal
         * comes before the pipeline reads the backup. Does not wait for {@code CREATE DATABASE}: the pipeline opens
         * the backup and sets up its decoders while the server creates the database, and {@link #stage} waits for it
         * (and throws what it threw). Once a stage took the preparation over, returns at once.
         */
        @Override
        public void checkReady(BackupManifest manifest) {
            synchronized (this) {
                if (taken || closed) {
                    return;
                }
            }
            await(checked);
            await(pgRestore); // pg_restore not found: before the backup is read, too
        }

        @Override
        public StagedRestore stage(InputStream plaintext, BackupManifest manifest) throws IOException {
            Objects.requireNonNull(plaintext, "plaintext");
            boolean again;
            synchronized (this) {
                if (closed) {
                    throw new IllegalStateException(
                            "the prepared restore into " + describe() + " was closed; prepare() again");
                }
                again = taken;
                taken = true;
            }
            // staged again (another store after a failure): from the start, as the target itself does
            return again
                    ? PostgresRestoreTarget.this.stage(plaintext, manifest)
                    : PostgresRestoreTarget.this.stage(firstSetup(), plaintext, manifest);
        }

        /** The preparation with the pg_restore found beforehand; drops the database when pg_restore was not found. */
        private Setup firstSetup() {
            Setup s = awaitSetup();
            try {
                return s.withPgRestore(await(pgRestore));
            } catch (RuntimeException | Error e) {
                undo(s);
                throw e;
            }
        }

        private Setup awaitSetup() {
            return await(setup);
        }

        private static <T> T await(java.util.concurrent.CompletableFuture<T> f) {
            try {
                return f.join();
            } catch (java.util.concurrent.CompletionException e) {
                if (e.getCause() instanceof RuntimeException r) {
                    throw r;
                }
                if (e.getCause() instanceof Error err) {
                    throw err;
                }
                throw e;
            }
        }

        /** Waits for the preparation; drops what it created unless a stage took it over. Never throws. */
        @Override
        public void close() {
            synchronized (this) {
                if (closed) {
                    return;
                }
                closed = true;
                if (taken) {
                    return;
                }
            }
            Setup s;
            try {
                s = setup.join();
            } catch (RuntimeException e) {
                return; // nothing was created (a failed creation drops its own database)
            }
            log.info("the restore into {} did not start; dropping what was prepared for it", describe());
            undo(s);
        }
    }

    private Map<String, Object> run(
            InputStream plaintext, String what, PgConnection into, RowCountCheck.WhileRestoring early, Path pgRestore)
            throws IOException {
        DumpSpool spool = null;
        long spooled = -1;
        try {
            List<String> cmd = command.argv(into, pgRestore);
            PgChild child;
            if (command.jobs() > 1) {
                spool = createSpool();
                spooled = spool.write(plaintext);
                cmd.add(spool.argument());
                child = PgChild.start(cmd, into, spool.stdin(), false);
                if (spool.unlinked()) {
                    spool.close(); // pg_restore holds the file: it goes when pg_restore ends
                }
                child.stdin().close();
            } else if (early != null) {
                cmd.add("--verbose"); // names each table as its data goes in: counted while the rest restores
                child = PgChild.start(
                        cmd, into, ProcessBuilder.Redirect.PIPE, false, new RestoreCommand.Progress(early::loaded));
                child.feed(plaintext);
            } else {
                child = PgChild.start(cmd, into, ProcessBuilder.Redirect.PIPE, false);
                child.feed(plaintext); // a failing stream kills pg_restore: it must not commit a partial restore
            }
            int exit = child.waitFor();
            if (exit != 0) {
                throw failure(child, exit, what);
            }
            Map<String, Object> facts = new LinkedHashMap<>();
            facts.put("database", connection.database());
            facts.put("host", connection.host() + ":" + connection.port());
            facts.put("mode", mode.label());
            facts.put("jobs", command.jobs());
            facts.put("singleTransaction", command.singleTransaction());
            facts.put("warnings", child.warnings());
            if (spool != null) {
                facts.put("spooledBytes", spooled);
                facts.put(
                        "spool",
                        "temporary plaintext copy of the dump in " + spoolDirectory()
                                + " for parallel restore, "
                                + (spool.unlinked() ? "unlinked while written (no name on disk)" : "deleted"));
            }
            return facts;
        } finally {
            if (spool != null) {
                try {
                    spool.close();
                } catch (IOException e) {
                    log.error(
                            "could not delete the temporary dump copy in {}: {}; delete it by hand",
                            spoolDirectory(),
                            e.toString());
                }
            }
        }
    }

    private Path spoolDirectory() {
        return spoolDirectory != null ? spoolDirectory : Path.of(System.getProperty("java.io.tmpdir"));
    }

    private DumpSpool createSpool() throws IOException {
        Path dir = spoolDirectory();
        try {
            return DumpSpool.create(dir);
        } catch (UnsupportedOperationException e) {
            throw new ConfigurationException("The spool directory " + dir + " does not support POSIX permissions,"
                    + " so the temporary dump copy could not be made private. Choose another spoolDirectory(...).");
        } catch (IOException e) {
            throw new RestoreException(
                    "Cannot create the temporary dump copy for a parallel restore in " + dir
                            + ": " + e.getMessage()
                            + ". Set spoolDirectory(...) to a writable directory with room for the"
                            + " whole dump, or restore with jobs(1) (streamed, no copy).",
                    null,
                    describe(),
                    e);
        }
    }

    private RestoreException failure(PgChild child, int exit, String what) {
        String lines = child.lastLines();
        String advice = RestoreCommand.advice(child, connection);
        String state;
        if (mode == Mode.NEW_DATABASE) {
            state = "The new database " + connection.database() + " is dropped again.";
        } else if (!command.cleanInPlace()) {
            state = "The restore went into a fresh database, which is dropped again: " + connection.database()
                    + " was not touched and keeps its previous content.";
        } else if (command.singleTransaction()) {
            state = "The restore ran in a single transaction, which was rolled back: " + connection.database()
                    + " keeps its previous content.";
        } else {
            state = "The restore did not run in a single transaction: " + connection.database()
                    + " may be partly restored now. Restore again into it, or into a new database.";
        }
        return new RestoreException(
                "pg_restore of " + what + " into " + describe() + " " + PgChild.exitText(exit) + ". " + state + " "
                        + advice + "\npg_restore said:\n" + lines,
                null,
                describe(),
                null);
    }

    static String ident(String name) {
        return "\"" + name.replace("\"", "\"\"") + "\"";
    }

    static String literal(String s) {
        return "'" + s.replace("'", "''") + "'";
    }

    private static String checkName(String name) {
        if (name == null || name.isBlank()) {
            throw new ConfigurationException("The name of the database to restore into must not be empty.");
        }
        if (name.getBytes(StandardCharsets.UTF_8).length > 63 || name.indexOf('\0') >= 0) {
            throw new ConfigurationException("The database name '" + name + "' is longer than PostgreSQL's 63 bytes"
                    + " or holds a NUL character; choose a shorter name.");
        }
        return name;
    }

    @Override
    public String toString() {
        return "PostgresRestoreTarget{" + describe() + ", jobs=" + command.jobs()
                + (command.singleTransaction() ? ", single-transaction" : "") + "}";
    }

    /** The result of one stage. */
    private final class Staged implements StagedRestore {
        private final Map<String, Object> facts;
        private final DatabaseSwap swap;
        /** An open connection to the restored database the commit may use, or null; closed by commit or close. */
        private Connection counted;

        private boolean committed;
        private boolean closed;

        Staged(Map<String, Object> facts, DatabaseSwap swap, Connection counted) {
            this.facts = facts;
            this.swap = swap;
            this.counted = counted;
        }

        @Override
        public synchronized Map<String, Object> facts() {
            return Collections.unmodifiableMap(new LinkedHashMap<>(facts));
        }

        @Override
        public synchronized void commit() {
            if (closed) {
                throw new IllegalStateException("the staged restore into " + describe() + " was already discarded");
            }
            if (committed) {
                return;
            }
            if (swap != null) {
                facts.putAll(swap.swapIn());
            } else if (mode == Mode.NEW_DATABASE && !clearedOnCountingConnection()) {
                try (Connection c = connection.withDatabase(maintenanceDatabase).openJdbc();
                        Statement s = c.createStatement()) {
                    s.execute(clear());
                } catch (SQLException e) {
                    throw new RestoreException(
                            "Cannot clear the in-progress mark of the restored database "
                                    + connection.database() + ": " + e.getMessage()
                                    + ". The restore is not committed (the"
                                    + " database is dropped); restore again.",
                            null,
                            describe(),
                            e);
                }
            }
            committed = true;
        }

        /** How long the commit waits for the counting connection to answer before it uses a new one. */
        private static final int VALID_SECONDS = 5;

        /** The statement that clears a new database's in-progress mark: the commit. */
        private String clear() {
            return "COMMENT ON DATABASE " + ident(connection.database()) + " IS NULL";
        }

        /**
         * Runs {@link #clear()} on the connection that counted the rows and closes it; false when there is none or it
         * failed (the server closed it, say), for the caller to clear on a new connection (clearing twice is harmless).
         */
        private boolean clearedOnCountingConnection() {
            Connection c = counted;
            counted = null;
            if (c == null) {
                return false;
            }
            try (c;
                    Statement s = c.createStatement()) {
                // a caller may hold the staged restore a while: a connection a firewall dropped silently would
                // otherwise block the statement for the kernel's TCP retries (~15 min)
                if (!c.isValid(VALID_SECONDS)) {
                    log.debug("the counting connection to {} is gone; clearing the mark on a new one", describe());
                    return false;
                }
                s.execute(clear());
                return true;
            } catch (SQLException e) {
                log.debug("clearing the mark of {} on the counting connection failed: {}", describe(), e.toString());
                return false;
            }
        }

        @Override
        public synchronized void close() {
            if (closed) {
                return;
            }
            closed = true;
            PgConnection.closeQuietly(counted); // before the database may be dropped
            counted = null;
            if (!committed && mode == Mode.NEW_DATABASE) {
                log.info("discarding the staged restore into {}", describe());
                databases.dropQuietly(connection.database());
            } else if (!committed && swap != null) {
                log.info(
                        "discarding the staged restore into {} (database {}); {} is unchanged",
                        describe(),
                        swap.staging(),
                        connection.database());
                databases.dropQuietly(swap.staging());
            }
        }
    }

    /** Builds a {@link PostgresRestoreTarget}. Not thread-safe. */
    public static final class Builder {
        private final Mode mode;
        private PgConnection connection;
        private String maintenanceDatabase = "postgres";
        private String template = "template0";
        private String owner;
        private boolean noOwner;
        private String role;
        private boolean noPrivileges;
        private boolean exitOnError = true;
        private Boolean singleTransaction;
        private int jobs = 1;
        private Path spoolDirectory;
        private Path pgRestore;
        private boolean cleanInPlace;
        private boolean checkRowCounts = true;

        private Builder(Mode mode, PgConnection connection) {
            this.mode = mode;
            this.connection = connection;
        }

        /** The database restored into, for this mode (a new name in new-database mode). */
        public Builder connection(PgConnection connection) {
            Objects.requireNonNull(connection, "connection");
            this.connection =
                    mode == Mode.NEW_DATABASE ? connection.withDatabase(checkName(connection.database())) : connection;
            return this;
        }

        /** The database connected to for CREATE/DROP DATABASE and existence checks; {@code postgres} by default. */
        public Builder maintenanceDatabase(String name) {
            this.maintenanceDatabase = checkName(name);
            return this;
        }

        /** New-database mode: the template; {@code template0} by default (an empty database, as pg_dump expects). */
        public Builder template(String template) {
            this.template = checkName(template);
            return this;
        }

        /** New-database mode: the new database's owner role; null (default) for the connecting user. */
        public Builder owner(String owner) {
            this.owner = owner == null ? null : checkName(owner);
            return this;
        }

        /**
         * Whether {@link #stage} compares the restored database's row counts with those the backup's manifest records
         * (when it records any), into the fact {@value #ROW_COUNT_CHECK}; true by default. With one job and no
         * single transaction the tables are counted while pg_restore goes on ({@code --verbose} names each table whose
         * data is in), so the check adds little time after pg_restore. A swap ({@link #existingDatabase}) never
         * replaces the database when the counts differ; a new database is kept, and the caller judges the report. A
         * swap always checks when the manifest records counts.
         */
        public Builder checkRowCounts(boolean check) {
            this.checkRowCounts = check;
            return this;
        }

        /** {@code --no-owner}: objects belong to the restoring user instead of their original owners. */
        public Builder noOwner(boolean noOwner) {
            this.noOwner = noOwner;
            return this;
        }

        /** {@code --role}: pg_restore runs {@code SET ROLE role} after connecting; null for none. */
        public Builder role(String role) {
            if (role != null && (role.isBlank() || role.startsWith("-"))) {
                throw new ConfigurationException("The role '" + role + "' is not a valid role name.");
            }
            this.role = role;
            return this;
        }

        /** {@code --no-privileges}: skip GRANT/REVOKE. */
        public Builder noPrivileges(boolean noPrivileges) {
            this.noPrivileges = noPrivileges;
            return this;
        }

        /** {@code --exit-on-error} (default on): stop at the first SQL error instead of counting errors. */
        public Builder exitOnError(boolean exitOnError) {
            this.exitOnError = exitOnError;
            return this;
        }

        /**
         * Existing-database mode: {@code true} runs {@code pg_restore --clean --if-exists} in the database itself, in
         * one transaction (objects that are not in the dump stay; fails on partitioned tables, where pg_restore
         * cannot drop a partition's inherited constraints); {@code false} (the default) restores into a fresh
         * database and swaps it in by name when every check passed (see the class comment).
         */
        public Builder cleanInPlace(boolean cleanInPlace) {
            if (cleanInPlace && mode != Mode.EXISTING_DATABASE) {
                throw new ConfigurationException("cleanInPlace applies only to existingDatabase(...): a new database"
                        + " has nothing to clean.");
            }
            this.cleanInPlace = cleanInPlace;
            return this;
        }

        /**
         * {@code --single-transaction}: all or nothing. Default on with {@link #cleanInPlace(boolean)}, off otherwise
         * (a failed new or fresh database is dropped anyway). Cannot be combined with {@code jobs > 1}.
         */
        public Builder singleTransaction(boolean singleTransaction) {
            this.singleTransaction = singleTransaction;
            return this;
        }

        /**
         * Parallel restore with {@code n} pg_restore jobs (default 1 = streamed from stdin). With n &gt; 1 the
         * stream is first copied to a temporary 0600 file of the dump's size in {@link #spoolDirectory(Path)},
         * deleted afterwards; single-transaction must then be off.
         */
        public Builder jobs(int n) {
            if (n < 1 || n > 64) {
                throw new ConfigurationException("pg_restore jobs must be 1..64, got " + n + ".");
            }
            this.jobs = n;
            return this;
        }

        /** Where the temporary dump copy of a parallel restore goes; {@code java.io.tmpdir} by default. */
        public Builder spoolDirectory(Path dir) {
            this.spoolDirectory = Objects.requireNonNull(dir, "dir").toAbsolutePath();
            return this;
        }

        /** The pg_restore binary; by default found on PATH or in /usr/lib/postgresql/N/bin (newest N). */
        public Builder pgRestore(Path binary) {
            this.pgRestore = Objects.requireNonNull(binary, "binary");
            return this;
        }

        /**
         * Builds the target.
         *
         * @throws ConfigurationException when single-transaction is combined with {@code jobs > 1}
         */
        public PostgresRestoreTarget build() {
            boolean single =
                    singleTransaction != null ? singleTransaction : mode == Mode.EXISTING_DATABASE && cleanInPlace;
            if (single && jobs > 1) {
                throw new ConfigurationException("pg_restore cannot combine --single-transaction with -j " + jobs
                        + ". Call singleTransaction(false) to restore in parallel (a failure half-way then leaves "
                        + connection.database() + " partly restored), or keep jobs(1).");
            }
            if (spoolDirectory != null && jobs > 1 && !Files.isDirectory(spoolDirectory)) {
                throw new ConfigurationException("The spool directory " + spoolDirectory + " does not exist.");
            }
            return new PostgresRestoreTarget(this);
        }
    }
}

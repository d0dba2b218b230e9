package com.jiffoo.backup.postgres;

import com.jiffoo.backup.BackupManifest;
import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.IntegrityException;
import com.jiffoo.backup.RestoreException;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Compares the row counts of a restored database with those the backup recorded: the manifest's source facts
 * {@code rowCounts} (a map {@code "schema.table" -> count}) and {@code rowCountsExact} (true when the counts are
 * exact {@code count(*)}, false or absent when they are planner estimates).
 *
 * <p>The restored database's tables are listed and counted exactly by the same rule the backup recorded them with
 * ({@code CountedTables}): every table whose rows pg_dump dumps — plain tables, leaf partitions (so a partitioned
 * table is judged partition by partition), inheritance parents and children, unlogged tables — each with
 * {@code SELECT count(*) FROM ONLY}; not partitioned parents, materialized views, foreign tables or extensions' tables.
 * A manifest from before that rule (no {@code rowCountScope} fact) is compared the way it was recorded, counting
 * inheritance children's rows in their parents' counts. The {@link Report} lists matches, differences, tables the
 * backup has and the database lacks, and tables the database has beyond the backup.
 *
 * <pre>{@code
 * RowCountCheck.Report r = RowCountCheck.compare(drillDb, result.manifest());
 * r.orThrow();   // IntegrityException when exact counts differ or tables are missing
 * }</pre>
 *
 * <p>Stateless and thread-safe. Counting reads every table: it takes about as long as a sequential scan of the
 * database.
 */
public final class RowCountCheck {

    /** The source fact holding the counts. */
    public static final String ROW_COUNTS = "rowCounts";
    /** The source fact saying whether the counts are exact. */
    public static final String ROW_COUNTS_EXACT = "rowCountsExact";

    private RowCountCheck() {}

    /** A table whose count differs. */
    public record Difference(String table, long expected, long actual) {}

    /**
     * The outcome of a comparison. Immutable.
     *
     * @param database      the restored database ({@code user@host:port/db})
     * @param exact         whether the backup's counts were exact
     * @param matches       tables whose counts are equal, with the count
     * @param differences   tables whose counts differ
     * @param missingTables tables in the backup's counts but not in the database
     * @param extraTables   tables in the database but not in the backup's counts
     */
    public record Report(
            String database,
            boolean exact,
            Map<String, Long> matches,
            List<Difference> differences,
            List<String> missingTables,
            List<String> extraTables) {
        /** Copies the collections. */
        public Report {
            matches = Map.copyOf(matches);
            differences = List.copyOf(differences);
            missingTables = List.copyOf(missingTables);
            extraTables = List.copyOf(extraTables);
        }

        /**
         * True when the restore is as the backup recorded: no table missing and, for exact counts, no difference and
         * no extra table. With estimates only missing tables fail (differences are reported, not judged).
         */
        public boolean passed() {
            return missingTables.isEmpty() && (!exact || (differences.isEmpty() && extraTables.isEmpty()));
        }

        /** Returns this report when {@link #passed()}, else throws an IntegrityException describing the mismatch. */
        public Report orThrow() {
            if (!passed()) {
                throw new IntegrityException("The restored database " + database + " does not match the backup's "
                        + (exact ? "exact" : "estimated") + " row counts: " + summary() + ". The restore is"
                        + " incomplete or the backup recorded other data; do not rely on it.");
            }
            return this;
        }

        /** A one-line summary for logs. */
        public String summary() {
            StringBuilder s = new StringBuilder(matches.size() + " table(s) match");
            if (!differences.isEmpty()) {
                s.append("; differ: ");
                differences.stream()
                        .limit(10)
                        .forEach(d -> s.append(d.table())
                                .append(" ")
                                .append(d.expected())
                                .append(" -> ")
                                .append(d.actual())
                                .append(", "));
                s.setLength(s.length() - 2);
                if (differences.size() > 10) {
                    s.append(" and ").append(differences.size() - 10).append(" more");
                }
            }
            if (!missingTables.isEmpty()) {
                s.append("; missing: ").append(missingTables);
            }
            if (!extraTables.isEmpty()) {
                s.append("; not in the backup: ").append(extraTables);
            }
            return s.toString();
        }
    }

    /**
     * Counts the rows of every table in {@code restored} and compares them with {@code manifest}'s recorded counts.
     *
     * @throws ConfigurationException when the manifest records no {@code rowCounts}
     * @throws RestoreException       when the database cannot be reached or counted
     */
    public static Report compare(PgConnection restored, BackupManifest manifest) {
        return compare(restored, manifest, PARALLEL_BYTES);
    }

    /** {@link #compare(PgConnection, BackupManifest)}, counting on several connections from {@code parallelBytes}. */
    static Report compare(PgConnection restored, BackupManifest manifest, long parallelBytes) {
        return compare(restored, manifest, parallelBytes, Map.of());
    }

    /**
     * {@link #compare(PgConnection, BackupManifest, long)}, taking the counts in {@code counted} (table → rows, counted
     * earlier by {@link WhileRestoring}) as they are and counting only the other tables.
     */
    private static Report compare(
            PgConnection restored, BackupManifest manifest, long parallelBytes, Map<String, Long> counted) {
        return compare(restored, null, manifest, parallelBytes, counted);
    }

    /**
     * {@link #compare(PgConnection, BackupManifest, long, Map)} on {@code open} (a connection to {@code restored},
     * left open) when not null, else on a connection of its own.
     */
    private static Report compare(
            PgConnection restored,
            Connection open,
            BackupManifest manifest,
            long parallelBytes,
            Map<String, Long> counted) {
        Objects.requireNonNull(restored, "restored");
        Map<String, Long> expected = expected(manifest);
        Object exactFact = manifest.sourceFacts().get(ROW_COUNTS_EXACT);
        boolean exact = Boolean.TRUE.equals(exactFact) || "true".equals(String.valueOf(exactFact));
        CountedTables.Scope scope = CountedTables.Scope.of(manifest.sourceFacts());
        Map<String, Long> actual;
        try {
            actual = count(restored, open, scope, parallelBytes, counted);
        } catch (SQLException e) {
            throw new RestoreException(
                    "Cannot count the rows of " + restored.describe() + ": " + e.getMessage()
                            + ". Check that the database exists and is reachable.",
                    manifest.objectKey(),
                    restored.describe(),
                    e);
        }
        Map<String, Long> matches = new TreeMap<>();
        List<Difference> differences = new ArrayList<>();
        List<String> missing = new ArrayList<>();
        for (Map.Entry<String, Long> e : expected.entrySet()) {
            Long got = actual.get(e.getKey());
            if (got == null) {
                missing.add(e.getKey());
            } else if (got.equals(e.getValue())) {
                matches.put(e.getKey(), got);
            } else {
                differences.add(new Difference(e.getKey(), e.getValue(), got));
            }
        }
        List<String> extra = new ArrayList<>(new TreeSet<>(actual.keySet()));
        extra.removeAll(expected.keySet());
        return new Report(restored.describe(), exact, matches, differences, missing, extra);
    }

    private static Map<String, Long> expected(BackupManifest manifest) {
        Object counts = manifest.sourceFacts().get(ROW_COUNTS);
        if (!(counts instanceof Map<?, ?> map)) {
            throw new ConfigurationException(
                    "The backup " + manifest.objectKey() + " records no row counts (source"
                            + " fact '" + ROW_COUNTS
                            + "'), so there is nothing to compare with. Make backups with row counts"
                            + " enabled.",
                    manifest.objectKey(),
                    null,
                    null);
        }
        Map<String, Long> out = new TreeMap<>();
        for (Map.Entry<?, ?> e : map.entrySet()) {
            if (!(e.getValue() instanceof Number n)) {
                throw new IntegrityException(
                        "The row count of " + e.getKey() + " in the manifest of " + manifest.objectKey()
                                + " is not a number: " + e.getValue() + ".",
                        manifest.objectKey(),
                        null,
                        null);
            }
            out.put(String.valueOf(e.getKey()), n.longValue());
        }
        return out;
    }

    /**
     * Bytes of table data from which the counts run on several connections at once (one per processor, at most
     * {@value #MAX_COUNTING_CONNECTIONS}): a count reads its whole table, and after a restore the server is otherwise
     * idle, so the tables are counted side by side, largest first. Below it one connection counts them in turn.
     */
    static final long PARALLEL_BYTES = 64L * 1024 * 1024;

    static final int MAX_COUNTING_CONNECTIONS = 4;

    private static Map<String, Long> count(
            PgConnection restored,
            Connection open,
            CountedTables.Scope scope,
            long parallelBytes,
            Map<String, Long> counted)
            throws SQLException {
        List<CountedTables.Table> tables;
        List<CountedTables.Table> uncounted = new ArrayList<>();
        Map<String, Long> sizes = new HashMap<>();
        Map<String, Long> counts = new ConcurrentHashMap<>();
        int workers;
        try (Connection own = open == null ? restored.openJdbc() : null) {
            Connection c = open == null ? own : open;
            tables = CountedTables.list(c);
            for (CountedTables.Table t : tables) {
                Long early = counted.get(t.qualified());
                if (early != null) {
                    counts.put(t.qualified(), early);
                } else {
                    uncounted.add(t);
                }
            }
            if (uncounted.isEmpty()) {
                return ordered(tables, counts);
            }
            long total = 0;
            try (Statement s = c.createStatement();
                    ResultSet r = s.executeQuery("SELECT n.nspname, c.relname, pg_catalog.pg_relation_size(c.oid)"
                            + " FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
                            + " WHERE c.relkind = 'r'")) {
                while (r.next()) {
                    sizes.put(r.getString(1) + "." + r.getString(2), r.getLong(3));
                }
            }
            for (CountedTables.Table t : uncounted) {
                total += sizes.getOrDefault(t.qualified(), 0L);
            }
            workers = Math.min(
                    uncounted.size(),
                    Math.min(MAX_COUNTING_CONNECTIONS, Runtime.getRuntime().availableProcessors()));
            if (total < parallelBytes || workers < 2) {
                countQueued(c, new ConcurrentLinkedQueue<>(uncounted), scope, counts);
                return ordered(tables, counts);
            }
        }
        // largest first, so that the last table to finish is a small one
        List<CountedTables.Table> bySize = new ArrayList<>(uncounted);
        bySize.sort(Comparator.comparingLong((CountedTables.Table t) -> sizes.getOrDefault(t.qualified(), 0L))
                .reversed());
        ConcurrentLinkedQueue<CountedTables.Table> queue = new ConcurrentLinkedQueue<>(bySize);
        // an open connection is one of the workers (this thread's): no more connections than without it
        int opened = open == null ? workers : workers - 1;
        ExecutorService pool = Executors.newFixedThreadPool(opened, r -> {
            Thread t = new Thread(r, "jiffoo-row-count-check");
            t.setDaemon(true);
            return t;
        });
        try {
            List<Future<Void>> done = new ArrayList<>();
            for (int i = 0; i < opened; i++) {
                done.add(pool.submit(() -> {
                    try (Connection c = restored.openJdbc()) {
                        countQueued(c, queue, scope, counts);
                    }
                    return null;
                }));
            }
            if (open != null) {
                countQueued(open, queue, scope, counts);
            }
            for (Future<Void> f : done) {
                f.get();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new SQLException("interrupted while counting rows", e);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof SQLException se) {
                throw se;
            }
            throw new SQLException(String.valueOf(e.getCause()), e.getCause());
        } finally {
            pool.shutdownNow();
        }
        return ordered(tables, counts);
    }

    /** Counts the tables it takes from {@code queue} until none is left (other connections may take some too). */
    private static void countQueued(
            Connection c,
            ConcurrentLinkedQueue<CountedTables.Table> queue,
            CountedTables.Scope scope,
            Map<String, Long> counts)
            throws SQLException {
        try (Statement s = c.createStatement()) {
            CountedTables.Table t;
            while ((t = queue.poll()) != null) {
                countOne(s, t, scope, counts);
            }
        }
    }

    private static void countOne(
            Statement s, CountedTables.Table t, CountedTables.Scope scope, Map<String, Long> counts)
            throws SQLException {
        try (ResultSet r = s.executeQuery(t.countSql(scope))) {
            r.next();
            counts.put(t.qualified(), r.getLong(1));
        }
    }

    /** The counts in the tables' order (schema, name). */
    private static Map<String, Long> ordered(List<CountedTables.Table> tables, Map<String, Long> counts) {
        Map<String, Long> out = new LinkedHashMap<>();
        for (CountedTables.Table t : tables) {
            out.put(t.qualified(), counts.get(t.qualified()));
        }
        return out;
    }

    /**
     * Counts a database's tables while pg_restore is still restoring into it, so that the check after the restore
     * has little left to do. pg_restore (one job, {@code --verbose}, not in a single transaction) names each table
     * whose data it loads; once it has moved on to the next item, that table's COPY has been committed and no later
     * item of a restore changes its rows (triggers, rules and foreign keys come after all data, in post-data), so
     * {@link #loaded} queues it and one connection of its own counts it, beside pg_restore's next table or its index
     * builds: in one server process (no parallel workers) and without JIT, so that it takes at most one core from
     * pg_restore's backend (docs/benchmarks.md, "A small restore's fixed cost"). Not counted early, so counted by
     * {@link #finish()} after pg_restore: leaf partitions (a dump made with {@code --load-via-partition-root} routes
     * each partition's rows through the root, so another partition's data may still land in one counted before),
     * tables pg_restore did not name (a translated pg_restore, the last table of the data section), and every table
     * when counting early failed. The report is the same as {@link #compare(PgConnection, BackupManifest)}'s.
     *
     * <p>{@link #loaded} may be called from any thread; {@link #finish()} and {@link #close()} from one.
     */
    static final class WhileRestoring implements AutoCloseable {
        private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(WhileRestoring.class);
        private static final String END = new String("end of the restore"); // compared by identity

        private final PgConnection database;
        private final BackupManifest manifest;
        private final long parallelBytes;
        private final CountedTables.Scope scope;
        private final java.util.concurrent.BlockingQueue<String> queue =
                new java.util.concurrent.LinkedBlockingQueue<>();
        private final Map<String, Long> counts = new ConcurrentHashMap<>();
        private final Thread worker;
        private volatile boolean started;
        /** Set by {@link #finish()} before it ends the worker: the worker then compares on its own connection. */
        private volatile boolean finishing;
        /** The worker's comparison (on the connection it counted on), or null when it made none. */
        private volatile Report finished;
        /** The connection the worker compared on, left open for {@link #takeConnection()}; null once taken. */
        private Connection kept;
        /** Set by {@link #close()}: a worker that ends later closes its connection instead of keeping it. */
        private boolean closed;

        /**
         * @param database the database pg_restore restores into
         * @param manifest the backup's manifest, which records the row counts
         */
        WhileRestoring(PgConnection database, BackupManifest manifest) {
            this(database, manifest, PARALLEL_BYTES);
        }

        /** With the table data from which the counts after pg_restore use several connections (tests). */
        WhileRestoring(PgConnection database, BackupManifest manifest, long parallelBytes) {
            this.parallelBytes = parallelBytes;
            this.database = Objects.requireNonNull(database, "database");
            this.manifest = Objects.requireNonNull(manifest, "manifest");
            this.scope = CountedTables.Scope.of(manifest.sourceFacts());
            this.worker = new Thread(this::work, "jiffoo-row-count-early");
            this.worker.setDaemon(true);
        }

        /** pg_restore has loaded and committed the data of {@code table}, as it names it ({@code schema.table}). */
        void loaded(String table) {
            synchronized (this) {
                if (!started) {
                    started = true;
                    worker.start();
                }
            }
            queue.add(table);
        }

        /** The tables counted so far (for tests). */
        Map<String, Long> countedSoFar() {
            return Map.copyOf(counts);
        }

        /**
         * Waits for the early counts, counts every table not counted yet, and compares all with the manifest.
         *
         * @throws RestoreException when the database cannot be reached or counted
         */
        Report finish() {
            finishing = true;
            stopWorker(false);
            Report report = finished;
            // the worker compared on the connection it counted on (no new connection after pg_restore, ~30 ms of
            // the server's time to a backend); else, or when that failed, on a connection of its own
            return report != null ? report : compare(database, manifest, parallelBytes, Map.copyOf(counts));
        }

        /**
         * After {@link #finish()}: the open connection (to the restored database) the counts were compared on, for
         * the caller to use and close, or null when there is none. {@link #close()} no longer closes it.
         */
        synchronized Connection takeConnection() {
            Connection c = kept;
            kept = null;
            return c;
        }

        /** Ends the counting; closes the connection it compared on unless {@link #takeConnection()} took it. */
        @Override
        public void close() {
            stopWorker(true);
            Connection c;
            synchronized (this) {
                closed = true;
                c = takeConnection();
            }
            PgConnection.closeQuietly(c);
        }

        private void stopWorker(boolean interrupt) {
            synchronized (this) {
                if (!started) {
                    started = true; // nothing may start it now
                    return;
                }
            }
            queue.add(END);
            if (interrupt) {
                worker.interrupt();
            }
            try {
                worker.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                worker.interrupt();
            }
        }

        private void work() {
            Map<String, CountedTables.Table> byName = null;
            Connection c = null;
            try {
                c = database.openJdbc();
                try (Statement s = c.createStatement()) {
                    // one process, not JIT-compiled: pg_restore's backend (a COPY, an index build) keeps the other core
                    int version = c.getMetaData().getDatabaseMajorVersion() * 10000;
                    RowCounter.leanCounts(s, version, false);
                    String table;
                    while ((table = queue.take()) != END) {
                        if (byName == null) {
                            byName = new HashMap<>();
                            for (CountedTables.Table t : CountedTables.list(c)) {
                                // two tables printed alike ("a.b"."c" and "a"."b.c") are left to the end
                                byName.merge(t.qualified(), t, (x, y) -> AMBIGUOUS);
                            }
                        }
                        CountedTables.Table t = byName.get(table);
                        // a partition's rows may also come with another table's data (--load-via-partition-root)
                        if (t != null && t != AMBIGUOUS && !t.partition()) {
                            countOne(s, t, scope, counts);
                        }
                    }
                    if (finishing) {
                        finishOn(c, s, version);
                    }
                }
                if (finished != null) {
                    synchronized (this) {
                        if (!closed) {
                            kept = c; // the commit may use it: no new connection, no new backend after pg_restore
                            c = null;
                        }
                    }
                }
            } catch (InterruptedException e) {
                // closed: the restore failed
            } catch (SQLException | RuntimeException e) {
                // what was not counted yet is counted after pg_restore, where a failure is reported
                counts.clear();
                log.debug("counting rows during the restore into {} failed: {}", database.describe(), e.toString());
            } finally {
                PgConnection.closeQuietly(c);
            }
        }

        /**
         * The comparison after pg_restore on the connection that counted during it. It sat idle through pg_restore's
         * index builds, which may take hours: when it no longer answers within {@value #VALID_SECONDS} s (closed by
         * the server's {@code idle_session_timeout}, dropped by a firewall), or fails here at all, {@link #finish()}
         * compares on a new connection, keeping the early counts; a real error is reported from there.
         */
        private void finishOn(Connection c, Statement s, int version) {
            try {
                if (!c.isValid(VALID_SECONDS)) {
                    log.debug("the connection that counted during the restore into {} is gone", database.describe());
                    return;
                }
                // pg_restore is done: what is left to count may use the server's parallel workers again
                RowCounter.ordinaryCounts(s, version);
                finished = compare(database, c, manifest, parallelBytes, Map.copyOf(counts));
            } catch (SQLException | RuntimeException e) {
                log.debug(
                        "counting after the restore into {} on the connection that counted during it failed: {}",
                        database.describe(),
                        e.toString());
            }
        }

        private static final int VALID_SECONDS = 5;

        private static final CountedTables.Table AMBIGUOUS = new CountedTables.Table("", "", 0, false, false, false);
    }
}

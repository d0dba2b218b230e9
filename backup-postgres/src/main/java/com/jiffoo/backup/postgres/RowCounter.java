package com.jiffoo.backup.postgres;

import com.jiffoo.backup.SourceException;
import java.io.InterruptedIOException;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The row counts in a dump's facts, taken in the dump's snapshot ({@link DumpSnapshot}): which tables count, and
 * how, is {@link CountedTables}'s rule; which of them pg_dump dumps, and which without rows (recorded with 0), is
 * {@link DumpCommand}'s. In {@link PostgresSource.RowCounts#EXACT} mode, {@link #start()} runs
 * {@code SELECT count(*) FROM ONLY t} per table on a thread of its own, on the snapshot's connection, while pg_dump
 * runs; {@code ESTIMATE} takes {@code pg_class.reltuples}; {@code NONE} records no counts.
 *
 * <p>Use: {@link #plan}, {@link #start()}, then {@link #facts()} once pg_dump succeeded; {@link #stop()} in any case
 * before the snapshot is closed. {@link #cancel()} may be called from another thread.
 */
final class RowCounter {
    private static final Logger LOG = LoggerFactory.getLogger(RowCounter.class);

    private final PostgresSource.RowCounts mode;
    private final DumpSnapshot snapshot;
    private final PgConnection connection;
    private final List<CountedTables.Table> counted;
    private final List<CountedTables.Table> withoutData;
    private final List<CountedTables.Table> fingerprinted;
    private final Map<String, Long> counts = new LinkedHashMap<>();
    private final Map<String, String> fingerprints = new TreeMap<>();
    private final Thread thread = new Thread(this::count, "jiffoo-pg-rowcount");
    private volatile Exception failure;
    private volatile long millis;
    private volatile Statement current;
    private volatile boolean stopped;

    private RowCounter(
            PostgresSource.RowCounts mode,
            DumpSnapshot snapshot,
            PgConnection connection,
            List<CountedTables.Table> counted,
            List<CountedTables.Table> withoutData,
            List<CountedTables.Table> fingerprinted) {
        this.fingerprinted = fingerprinted;
        this.mode = mode;
        this.snapshot = snapshot;
        this.connection = connection;
        this.counted = counted;
        this.withoutData = withoutData;
        thread.setDaemon(true);
    }

    /**
     * Lists, in the snapshot, the tables {@code command} dumps (none in mode NONE), and those of {@code fingerprint}
     * ({@link TableFingerprints}: only in mode EXACT, after the counts, on the same thread and snapshot).
     *
     * @throws com.jiffoo.backup.ConfigurationException when a table to fingerprint is not dumped with its rows
     */
    static RowCounter plan(
            PostgresSource.RowCounts mode,
            DumpSnapshot snapshot,
            DumpCommand command,
            PgConnection connection,
            List<String> fingerprint)
            throws SQLException {
        List<CountedTables.Table> counted = new ArrayList<>();
        List<CountedTables.Table> withoutData = new ArrayList<>();
        if (mode != PostgresSource.RowCounts.NONE) {
            for (CountedTables.Table t : command.dumpedTables(snapshot.connection())) {
                (command.dataLeftOut(t) ? withoutData : counted).add(t);
            }
        }
        List<CountedTables.Table> chosen = fingerprint.isEmpty()
                ? List.of()
                : TableFingerprints.choose(counted, fingerprint, "this backup dumps with their rows");
        return new RowCounter(mode, snapshot, connection, counted, withoutData, chosen);
    }

    /**
     * Makes the exact counts of this transaction cheap for the server: they run beside pg_dump, whose compression
     * takes a whole core, so each count is one process (no parallel workers, which would compete with pg_dump and
     * the dump's own COPY for the remaining core) and is not JIT-compiled (compiling a one-line aggregate cost more
     * than it saved). The counts stay {@code count(*)} in the dump's snapshot: exactly as exact.
     */
    static void leanCounts(Statement s, int serverVersionNum) throws SQLException {
        leanCounts(s, serverVersionNum, true);
    }

    /**
     * {@link #leanCounts(Statement, int)} for the rest of the transaction ({@code local}) or of the session (a
     * connection in autocommit that only counts, as {@link RowCountCheck.WhileRestoring}'s beside pg_restore).
     */
    static void leanCounts(Statement s, int serverVersionNum, boolean local) throws SQLException {
        String set = local ? "SET LOCAL " : "SET ";
        s.execute(set + "max_parallel_workers_per_gather = 0");
        if (serverVersionNum >= 110000) { // jit exists since PostgreSQL 11
            s.execute(set + "jit = off");
        }
    }

    /** Undoes {@link #leanCounts(Statement, int, boolean)} for the session (the server's settings again). */
    static void ordinaryCounts(Statement s, int serverVersionNum) throws SQLException {
        s.execute("RESET max_parallel_workers_per_gather");
        if (serverVersionNum >= 110000) {
            s.execute("RESET jit");
        }
    }

    /** Starts the exact counts (in mode EXACT; nothing otherwise). */
    void start() {
        if (mode == PostgresSource.RowCounts.EXACT) {
            thread.start();
        }
    }

    private void count() {
        long t0 = System.nanoTime();
        Connection jdbc = snapshot.connection();
        try {
            try (Statement s = jdbc.createStatement()) {
                leanCounts(s, snapshot.serverVersionNum());
            }
            for (CountedTables.Table t : counted) {
                if (stopped) {
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
            if (!fingerprinted.isEmpty()) {
                try (Statement s = jdbc.createStatement()) {
                    TableFingerprints.pin(s);
                }
            }
            for (CountedTables.Table t : fingerprinted) {
                if (stopped) {
                    return;
                }
                fingerprints.put(t.qualified(), TableFingerprints.of(jdbc, t));
            }
        } catch (SQLException | RuntimeException e) {
            if (!stopped) {
                failure = e;
            }
        } finally {
            millis = (System.nanoTime() - t0) / 1_000_000;
        }
    }

    /** Cancels the count running (if any) and the rest; does not wait. Never throws. */
    void cancel() {
        stopped = true;
        Statement s = current;
        if (s != null) {
            try {
                s.cancel();
            } catch (SQLException e) {
                LOG.debug("cancelling a row count failed: {}", e.toString());
            }
        }
    }

    /** {@link #cancel()}, then waits up to 10 s for the counting thread. Never throws. */
    void stop() {
        cancel();
        if (thread.isAlive()) {
            try {
                thread.join(10_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /**
     * Waits for the counts and returns the facts {@code rowCountMode}, {@code rowCountsExact} and, unless mode NONE,
     * {@code tableCount}, {@code rowCountScope}, {@code rowCounts} ({@code "schema.table" -> rows}),
     * {@code rowCountMillis}.
     *
     * @throws SourceException when an exact count failed
     */
    Map<String, Object> facts() throws InterruptedIOException {
        Map<String, Object> facts = new LinkedHashMap<>();
        facts.put("rowCountMode", mode.name().toLowerCase(Locale.ROOT));
        facts.put("rowCountsExact", mode == PostgresSource.RowCounts.EXACT);
        if (mode == PostgresSource.RowCounts.NONE) {
            return facts;
        }
        Map<String, Long> all = new TreeMap<>();
        withoutData.forEach(t -> all.put(t.qualified(), 0L));
        if (mode == PostgresSource.RowCounts.EXACT) {
            try {
                thread.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("interrupted while waiting for " + thread.getName());
            }
            if (failure != null) {
                String where = connection.host() + ":" + connection.port();
                throw new SourceException(
                        "Counting the rows of " + connection.database() + " on " + where
                                + " failed: " + connection.redact(failure.getMessage())
                                + ". The dump itself succeeded but was"
                                + " not committed; set rowCounts(ESTIMATE or NONE) to skip exact counts, or fix the cause.",
                        null,
                        where,
                        null);
            }
            all.putAll(counts);
        } else {
            counted.forEach(t -> all.put(t.qualified(), t.estimate()));
        }
        facts.put("tableCount", all.size());
        facts.put(CountedTables.SCOPE_FACT, CountedTables.Scope.ONLY.fact());
        facts.put("rowCounts", all);
        facts.put("rowCountMillis", mode == PostgresSource.RowCounts.EXACT ? millis : 0L);
        if (!fingerprinted.isEmpty()) {
            facts.put(TableFingerprints.FACT, new TreeMap<>(fingerprints));
        }
        return facts;
    }
}

package com.jiffoo.backup.postgres;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.jiffoo.backup.BackupManifest;
import com.jiffoo.backup.RestoreException;
import com.jiffoo.backup.StagedRestore;
import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Row counts taken while pg_restore is still restoring ({@link RowCountCheck.WhileRestoring}, fed by
 * {@link RestoreCommand.Progress} from pg_restore's own {@code --verbose} output): the real pg_restore names every table
 * whose data it loads, the counts made early agree with a count after the restore, leaf partitions are left to the
 * end, a wrong count is still found, and pg_restore's errors still reach the message. On the hand-written
 * {@link MallSchema} (partitions, inheritance, materialized views, large objects, a foreign table).
 */
class RowCountsWhileRestoringTest {
    @TempDir
    static Path shared;

    static String source;
    static Path dump;
    static Map<String, Long> counts;

    private final TestDatabases dbs = new TestDatabases();

    @BeforeAll
    static void makeSource() throws Exception {
        source = PgTestServer.get().createDatabase("rcwr_src");
        MallSchema.create(PgTestServer.get(), source);
        dump = PgTools.dump(source, shared.resolve("mall.dump"));
        try (Connection c = PgTestServer.get().connect(source)) {
            counts = MallSchema.countsOnly(c);
        }
    }

    @AfterAll
    static void dropSource() throws Exception {
        PgTestServer.get().dropDatabase(source);
    }

    @AfterEach
    void dropCreated() throws Exception {
        dbs.dropAll();
    }

    /** A manifest as a backup of the source writes it: exact counts, each table's own rows. */
    private static BackupManifest manifest(Map<String, Long> rowCounts) {
        return RowCountCheckTest.manifest(new java.util.TreeMap<>(rowCounts), true, CountedTables.Scope.ONLY.fact());
    }

    private static final List<String> LEAF_PARTITIONS = MallSchema.TABLES_WITH_DATA.stream()
            .filter(t -> t.startsWith("sales.orders_") || t.startsWith("sales.order_lines_"))
            .toList();

    /** The tables whose data the dump holds, in its order, as {@code pg_restore -l} lists them. */
    private static List<String> tableDataEntries() throws Exception {
        Process p = new ProcessBuilder("pg_restore", "-l", dump.toString())
                .redirectError(ProcessBuilder.Redirect.DISCARD)
                .start();
        List<String> out = new ArrayList<>();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = r.readLine()) != null) {
                // "3412; 0 16439 TABLE DATA sales orders_2025_11 postgres"
                int at = line.indexOf(" TABLE DATA ");
                if (!line.startsWith(";") && at > 0) {
                    String[] f = line.substring(at + " TABLE DATA ".length()).split(" ");
                    out.add(f[0] + "." + f[1]);
                }
            }
        }
        assertThat(p.waitFor(1, TimeUnit.MINUTES)).isTrue();
        return out;
    }

    /** Runs the real {@code pg_restore --verbose} of {@code file} into {@code db}; returns its stderr lines. */
    private static List<String> pgRestoreVerbose(Path file, String db) throws Exception {
        ProcessBuilder pb = new ProcessBuilder("pg_restore", "--verbose", "--exit-on-error", "-d", db, file.toString())
                .redirectOutput(ProcessBuilder.Redirect.DISCARD);
        pb.environment().putAll(PgTools.connection(db).childEnvironment());
        Process p = pb.start();
        List<String> lines = new ArrayList<>();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getErrorStream(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = r.readLine()) != null) {
                lines.add(line);
            }
        }
        assertThat(p.waitFor(5, TimeUnit.MINUTES)).isTrue();
        return lines;
    }

    @Test
    void pgRestoresVerboseOutputNamesEveryTableWithDataInTheDumpsOrder() throws Exception {
        String db = dbs.create("rcwr_v");
        List<String> lines = pgRestoreVerbose(dump, db);
        List<String> loaded = new ArrayList<>();
        RestoreCommand.Progress progress = new RestoreCommand.Progress(loaded::add);
        List<String> kept = new ArrayList<>();
        for (String line : lines) {
            if (!progress.test(line)) {
                kept.add(line);
            }
        }
        assertThat(tableDataEntries()).containsExactlyInAnyOrderElementsOf(MallSchema.TABLES_WITH_DATA);
        assertThat(loaded).containsExactlyElementsOf(tableDataEntries());
        // a clean restore of this schema (extensions, large objects, matviews, a foreign table) says nothing else
        assertThat(kept).isEmpty();
        assertThat(lines).anyMatch(l -> l.contains("large object")).anyMatch(l -> l.contains("MATERIALIZED VIEW"));

        // a damaged dump: its error lines are kept for the message, the progress lines before them are not
        String db2 = dbs.create("rcwr_v2");
        Path bad = PgTools.truncated(dump, 0.8, shared.resolve("bad.dump"));
        List<String> badLines = pgRestoreVerbose(bad, db2);
        RestoreCommand.Progress p2 = new RestoreCommand.Progress(t -> {});
        List<String> badKept = badLines.stream().filter(l -> !p2.test(l)).toList();
        assertThat(badKept).isNotEmpty().anyMatch(l -> l.contains("error"));
        assertThat(badKept).noneMatch(l -> l.contains("processing data for table"));
    }

    /** A committed restore of the dump with the target's own row-count check turned off; returns its name. */
    private String restoredWithoutCounts(String prefix) throws Exception {
        String db = dbs.newName(prefix);
        try (InputStream in = Files.newInputStream(dump);
                StagedRestore staged = PostgresRestoreTarget.newDatabaseBuilder(PgTools.connection("postgres"), db)
                        .checkRowCounts(false)
                        .build()
                        .stage(in, manifest(counts))) {
            assertThat(staged.facts()).doesNotContainKey(PostgresRestoreTarget.ROW_COUNT_CHECK);
            staged.commit();
        }
        return db;
    }

    @Test
    void countsMadeWhileRestoringAgreeWithACountAfterAndLeaveLeafPartitionsToTheEnd() throws Exception {
        String db = restoredWithoutCounts("rcwr_w");
        BackupManifest m = manifest(counts);
        RowCountCheck.Report after = RowCountCheck.compare(PgTools.connection(db), m);
        assertThat(after.passed()).isTrue();

        RowCountCheck.Report during;
        Map<String, Long> early;
        try (RowCountCheck.WhileRestoring w = new RowCountCheck.WhileRestoring(PgTools.connection(db), m)) {
            for (String t : MallSchema.TABLES_WITH_DATA) {
                w.loaded(t);
            }
            w.loaded("no_such_schema.no_such_table");
            during = w.finish();
            early = w.countedSoFar();
        }
        List<String> notPartitions = new ArrayList<>(MallSchema.TABLES_WITH_DATA);
        notPartitions.removeAll(LEAF_PARTITIONS);
        assertThat(LEAF_PARTITIONS).hasSize(11);
        assertThat(early.keySet()).containsExactlyInAnyOrderElementsOf(notPartitions);
        assertThat(during).isEqualTo(after);

        // nothing named early: everything is counted at the end, with the same report
        try (RowCountCheck.WhileRestoring w = new RowCountCheck.WhileRestoring(PgTools.connection(db), m)) {
            assertThat(w.finish()).isEqualTo(after);
            assertThat(w.countedSoFar()).isEmpty();
        }
    }

    /**
     * After pg_restore, what is left (the listing, the leaf partitions) is counted on the connection that counted
     * during the restore: no new backend on the way to the result. The database refuses new connections
     * ({@code ALLOW_CONNECTIONS false}, which leaves open ones alone) once the early counts have started.
     */
    @Test
    void theCountsAfterPgRestoreUseTheConnectionThatCountedDuringIt() throws Exception {
        Restored restored = restoredAndCountedAfter("rcwr_c");
        String db = restored.db();
        try (Connection admin = PgTestServer.get().connect("postgres");
                RowCountCheck.WhileRestoring w = restored.countingCustomersEarly(RowCountCheck.PARALLEL_BYTES)) {
            try (java.sql.Statement st = admin.createStatement()) {
                st.execute("ALTER DATABASE " + db + " ALLOW_CONNECTIONS false");
            }
            assertThatThrownBy(() -> RowCountCheck.compare(PgTools.connection(db), restored.manifest()))
                    .as("a new connection is refused")
                    .isInstanceOf(RestoreException.class);
            RowCountCheck.Report finished = w.finish();
            assertThat(finished).isEqualTo(restored.after());
            assertThat(finished.passed()).isTrue();
            try (java.sql.Statement st = admin.createStatement()) {
                st.execute("ALTER DATABASE " + db + " ALLOW_CONNECTIONS true");
            }
        }
    }

    /**
     * Much left to count after pg_restore (here every table but one, and any size counts as much): the connection
     * that counted during the restore is one of the connections that count in parallel, and the result is the same.
     */
    @Test
    void theCountsAfterPgRestoreInParallelIncludeTheConnectionThatCountedDuringIt() throws Exception {
        Restored restored = restoredAndCountedAfter("rcwr_p");
        String db = restored.db();
        try (RowCountCheck.WhileRestoring w = restored.countingCustomersEarly(0)) {
            RowCountCheck.Report finished = w.finish();
            assertThat(finished).isEqualTo(restored.after());
            assertThat(finished.passed()).isTrue();
        }
    }

    /** A restored copy of the dump, the manifest of its counts, and the check's report counted after the restore. */
    private record Restored(String db, BackupManifest manifest, RowCountCheck.Report after) {
        /**
         * Counts on {@code db} as during a restore (several connections after it from {@code parallelBytes}), with
         * one table named and counted early.
         */
        RowCountCheck.WhileRestoring countingCustomersEarly(long parallelBytes) throws InterruptedException {
            RowCountCheck.WhileRestoring w =
                    new RowCountCheck.WhileRestoring(PgTools.connection(db), manifest, parallelBytes);
            try {
                countCustomersEarly(w);
            } catch (Throwable e) {
                w.close();
                throw e;
            }
            return w;
        }
    }

    private Restored restoredAndCountedAfter(String prefix) throws Exception {
        String db = restoredWithoutCounts(prefix);
        BackupManifest m = manifest(counts);
        return new Restored(db, m, RowCountCheck.compare(PgTools.connection(db), m));
    }

    /** Names one table to {@code w} and waits until its worker (connected by then) has counted it. */
    private static void countCustomersEarly(RowCountCheck.WhileRestoring w) throws InterruptedException {
        w.loaded("public.customers");
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(1);
        while (w.countedSoFar().isEmpty() && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertThat(w.countedSoFar()).containsOnlyKeys("public.customers");
    }

    /**
     * The connection that counted during the restore was closed by the server before pg_restore ended (an
     * {@code idle_session_timeout}, here {@code pg_terminate_backend}): the counts after it run on a new connection,
     * and the early ones are kept, not counted again.
     */
    @Test
    void aCountingConnectionTheServerClosedFallsBackToANewOneAndKeepsTheEarlyCounts() throws Exception {
        Restored restored = restoredAndCountedAfter("rcwr_k");
        String db = restored.db();
        try (Connection admin = PgTestServer.get().connect("postgres");
                java.sql.Statement st = admin.createStatement();
                RowCountCheck.WhileRestoring w = restored.countingCustomersEarly(RowCountCheck.PARALLEL_BYTES)) {
            try (java.sql.ResultSet r = st.executeQuery("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    + " WHERE datname = '" + db + "' AND pid <> pg_backend_pid()")) {
                assertThat(r.next()).isTrue();
                assertThat(r.getInt(1)).as("the worker's connection").isEqualTo(1);
            }
            RowCountCheck.Report finished = w.finish();
            assertThat(finished).isEqualTo(restored.after());
            assertThat(w.countedSoFar()).as("the early count is kept").containsOnlyKeys("public.customers");
        }
    }

    @Test
    void aRestoreCountsItsTablesWhilePgRestoreRunsAndStillFindsAWrongCount() throws Exception {
        String db = dbs.newName("rcwr_r");
        try (InputStream in = Files.newInputStream(dump);
                StagedRestore staged = PostgresRestoreTarget.newDatabase(PgTools.connection("postgres"), db)
                        .stage(in, manifest(counts))) {
            assertThat(staged.facts().get(PostgresRestoreTarget.ROW_COUNT_CHECK))
                    .isInstanceOfSatisfying(RowCountCheck.Report.class, r -> {
                        assertThat(r.passed()).isTrue();
                        assertThat(r.matches()).isEqualTo(counts);
                    });
            // every table but the leaf partitions was counted before pg_restore ended
            assertThat(staged.facts().get("tablesCountedDuringRestore"))
                    .isEqualTo(MallSchema.TABLES_WITH_DATA.size() - LEAF_PARTITIONS.size());
            staged.commit();
        }

        Map<String, Long> wrong = new LinkedHashMap<>(counts);
        wrong.merge("public.customers", 1L, Long::sum);
        wrong.merge("sales.orders_2025_12", -1L, Long::sum);
        String db2 = dbs.newName("rcwr_r2");
        try (InputStream in = Files.newInputStream(dump);
                StagedRestore staged = PostgresRestoreTarget.newDatabase(PgTools.connection("postgres"), db2)
                        .stage(in, manifest(wrong))) {
            RowCountCheck.Report r = (RowCountCheck.Report) staged.facts().get(PostgresRestoreTarget.ROW_COUNT_CHECK);
            assertThat(r.passed()).isFalse();
            assertThat(r.differences())
                    .containsExactlyInAnyOrder(
                            new RowCountCheck.Difference(
                                    "public.customers",
                                    counts.get("public.customers") + 1,
                                    counts.get("public.customers")),
                            new RowCountCheck.Difference(
                                    "sales.orders_2025_12",
                                    counts.get("sales.orders_2025_12") - 1,
                                    counts.get("sales.orders_2025_12")));
        }
    }

    @Test
    void theCommitClearsTheMarkOnTheConnectionThatCountedAndOnANewOneWhenThatIsGone() throws Exception {
        // a maintenance database of the test's own, dropped before the commit: the commit has only the counting
        // connection (to the restored database), which a commit on a new maintenance connection would not use
        String maintenance = dbs.create("rcwr_maint");
        String db = dbs.newName("rcwr_c");
        PostgresRestoreTarget target = PostgresRestoreTarget.newDatabaseBuilder(PgTools.connection("postgres"), db)
                .maintenanceDatabase(maintenance)
                .build();
        try (InputStream in = Files.newInputStream(dump);
                StagedRestore staged = target.stage(in, manifest(counts))) {
            assertThat(staged.facts().get("tablesCountedDuringRestore")).isNotEqualTo(0);
            assertThat(mark(db)).as("the in-progress mark before the commit").isNotNull();
            PgTestServer.get().dropDatabase(maintenance);
            staged.commit();
        }
        assertThat(mark(db)).as("cleared by the commit").isNull();
        assertThat(PgTools.hashes(db)).isEqualTo(PgTools.hashes(source));

        // the counting connection closed by the server (idle_session_timeout, a firewall): a new connection clears it
        String db2 = dbs.newName("rcwr_c2");
        try (InputStream in = Files.newInputStream(dump);
                StagedRestore staged = PostgresRestoreTarget.newDatabase(PgTools.connection("postgres"), db2)
                        .stage(in, manifest(counts));
                Connection admin = PgTestServer.get().connect("postgres");
                java.sql.Statement st = admin.createStatement();
                java.sql.ResultSet r = st.executeQuery("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                        + " WHERE datname = '" + db2 + "'")) {
            assertThat(r.next()).isTrue();
            assertThat(r.getInt(1)).as("the counting connection").isEqualTo(1);
            assertThat(mark(db2)).isNotNull();
            staged.commit();
        }
        assertThat(mark(db2)).as("cleared on a new connection").isNull();
        assertThat(PgTools.hashes(db2)).isEqualTo(PgTools.hashes(source));
    }

    /** The comment of database {@code db}: a restore's in-progress mark until its commit. */
    private static String mark(String db) throws Exception {
        try (Connection c = PgTestServer.get().connect("postgres");
                java.sql.PreparedStatement ps = c.prepareStatement(
                        "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = ?")) {
            ps.setString(1, db);
            try (java.sql.ResultSet r = ps.executeQuery()) {
                assertThat(r.next()).as("database %s exists", db).isTrue();
                return r.getString(1);
            }
        }
    }

    @Test
    void aFailedRestoreQuotesPgRestoresErrorNotItsProgressAndLeavesNoDatabase() throws Exception {
        String db = dbs.newName("rcwr_f");
        Path bad = PgTools.truncated(dump, 0.7, shared.resolve("bad2.dump"));
        PostgresRestoreTarget target = PostgresRestoreTarget.newDatabase(PgTools.connection("postgres"), db);
        assertThatThrownBy(() -> {
                    try (InputStream in = Files.newInputStream(bad)) {
                        target.stage(in, manifest(counts)).close();
                    }
                })
                .isInstanceOf(RestoreException.class)
                .hasMessageContaining("pg_restore said:")
                .hasMessageNotContaining("processing data for table");
        assertThat(target.databaseExists()).isFalse();
    }
}

package com.jiffoo.backup.postgres;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.jiffoo.backup.BackupManifest;
import com.jiffoo.backup.BackupPipeline;
import com.jiffoo.backup.IntegrityException;
import com.jiffoo.backup.RestorePipeline;
import com.jiffoo.backup.RestoreResult;
import com.jiffoo.backup.crypto.OpenPgpTransform;
import com.jiffoo.backup.crypto.PassphraseKeyFile;
import com.jiffoo.backup.store.LocalDirectorySink;
import com.jiffoo.backup.testutil.TestKeys;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The hand-written operator schema ({@link MallSchema}: partitions, inheritance, materialized views, extensions, large
 * objects, collations, ...) through the library: backup, restore into a new database, row counts per table and
 * content equal, the row-count check passing, and failing by name when a partition loses rows; manifests written
 * before the counting rule changed; tables whose data pg_dump leaves out.
 */
class RealisticSchemaRoundTripTest {
    @TempDir
    static Path shared;

    static String source;
    static TableHashes original;
    static Map<String, String> originalExtras;
    static LocalDirectorySink sink;
    static OpenPgpTransform pgp;
    static BackupManifest manifest;

    private final TestDatabases dbs = new TestDatabases();

    @BeforeAll
    static void makeSourceAndBackUp() throws Exception {
        source = PgTestServer.get().createDatabase("mall_src");
        MallSchema.create(PgTestServer.get(), source);
        original = PgTools.hashes(source);
        try (Connection c = PgTestServer.get().connect(source)) {
            originalExtras = MallSchema.extras(c);
        }
        pgp = OpenPgpTransform.builder()
                .passphrase(PassphraseKeyFile.read(TestKeys.keyFile(shared, "backup.key")))
                .build();
        sink = LocalDirectorySink.create(shared.resolve("store"));
        manifest = BackupPipeline.builder()
                .source(PostgresSource.builder(PgTools.connection(source)).build())
                .encryption(pgp)
                .sink(sink)
                .build()
                .run();
    }

    @AfterAll
    static void dropSource() throws Exception {
        PgTestServer.get().dropDatabase(source);
    }

    @AfterEach
    void dropCreated() throws Exception {
        dbs.dropAll();
    }

    private static RestoreResult restore(PostgresRestoreTarget target) {
        return RestorePipeline.builder()
                .sink(sink)
                .decryption(pgp)
                .target(target)
                .build()
                .restore(manifest.objectKey());
    }

    private String restoreIntoNewDatabase() {
        String db = dbs.newName("mall_new");
        restore(PostgresRestoreTarget.newDatabase(PgTools.connection("postgres"), db));
        return db;
    }

    private static void sql(String db, String sql) throws Exception {
        try (Connection c = PgTestServer.get().connect(db);
                Statement s = c.createStatement()) {
            s.execute(sql);
        }
    }

    @Test
    void theManifestCountsEachTableThatHoldsRowsOnceAndNothingElse() throws Exception {
        Map<String, Long> expected;
        try (Connection c = PgTestServer.get().connect(source)) {
            expected = MallSchema.countsOnly(c);
        }
        assertThat(manifest.sourceFacts())
                .containsEntry("rowCountScope", "only")
                .containsEntry("tableCount", MallSchema.TABLES_WITH_DATA.size());
        assertThat(manifest.sourceFacts().get("rowCounts")).isEqualTo(new TreeMap<>(expected));
        // a partitioned table's rows are in its partitions, an inheritance parent's own rows in the parent only
        long orders = expected.entrySet().stream()
                .filter(e -> e.getKey().startsWith("sales.orders_"))
                .mapToLong(Map.Entry::getValue)
                .sum();
        assertThat(orders).isEqualTo(4500L).isEqualTo(original.count("sales.orders"));
        assertThat(expected)
                .containsEntry("ops.notes", 2L)
                .containsEntry("ops.customer_notes", 25L)
                .containsEntry("ops.order_notes", 40L)
                .containsEntry("sales.orders_2026_12", 0L)
                .containsEntry("ops.session_cache", 60L);
        assertThat(expected.get("sales.orders_default")).isPositive();
        assertThat(expected.get("sales.order_lines_other")).isPositive();
    }

    @Test
    void restoreIntoANewDatabaseIsEqualAndTheRowCountCheckPassesThenNamesAPartitionThatLostRows() throws Exception {
        String db = restoreIntoNewDatabase();
        assertThat(PgTools.hashes(db)).isEqualTo(original);
        try (Connection c = PgTestServer.get().connect(db)) {
            assertThat(MallSchema.extras(c)).isEqualTo(originalExtras);
            assertThat(MallSchema.countsOnly(c))
                    .isEqualTo(manifest.sourceFacts().get("rowCounts"));
        }
        assertThat(originalExtras.get("matview populated")).isEqualTo("revenue_by_month=true,top_customers=false");
        assertThat(originalExtras.get("large objects")).startsWith("12:");

        RowCountCheck.Report ok =
                RowCountCheck.compare(PgTools.connection(db), manifest).orThrow();
        assertThat(ok.matches()).hasSize(MallSchema.TABLES_WITH_DATA.size());
        assertThat(ok.extraTables()).isEmpty();
        assertThat(ok.missingTables()).isEmpty();

        long before = ok.matches().get("sales.orders_2025_12");
        sql(db, "DELETE FROM sales.orders_2025_12 WHERE id % 10 = 0");
        long deleted = before - count(db, "sales.orders_2025_12");
        assertThat(deleted).isPositive();
        RowCountCheck.Report bad = RowCountCheck.compare(PgTools.connection(db), manifest);
        assertThat(bad.passed()).isFalse();
        assertThat(bad.differences())
                .containsExactly(new RowCountCheck.Difference("sales.orders_2025_12", before, before - deleted));
        assertThatThrownBy(bad::orThrow)
                .isInstanceOf(IntegrityException.class)
                .hasMessageContaining("sales.orders_2025_12 " + before + " -> " + (before - deleted));
    }

    @Test
    void restoreOverAChangedCopyWithExistingGivesTheBackupsContentAndCountsBack() throws Exception {
        String db = restoreIntoNewDatabase();
        // an operator's day: rows gone from a partition, a partition detached and dropped, a new one, changed rows,
        // a sequence moved on, a materialized view refreshed over other data, a large object removed
        sql(db, """
                DELETE FROM sales.orders_2026_01 WHERE id % 3 = 0;
                ALTER TABLE sales.orders DETACH PARTITION sales.orders_2025_11;
                DROP TABLE sales.orders_2025_11;
                CREATE TABLE sales.orders_2027_01 PARTITION OF sales.orders
                    FOR VALUES FROM ('2027-01-01 00:00:00+00') TO ('2027-02-01 00:00:00+00');
                UPDATE public.customers SET prefs = prefs || hstore('lang', 'fr') WHERE id < 40;
                DELETE FROM ops.notes WHERE id = 1;
                INSERT INTO ops.order_notes (id, body, written, order_id) VALUES (5000, 'neu', now(), 1);
                SELECT setval('sales.invoice_no', 99999);
                REFRESH MATERIALIZED VIEW reporting.revenue_by_month;
                REFRESH MATERIALIZED VIEW reporting.top_customers;
                SELECT lo_unlink(manual) FROM sales.products WHERE id = 10;
                """);
        assertThat(PgTools.hashes(db)).isNotEqualTo(original);

        // pg_restore --clean in place cannot drop a partition's inherited constraint; it rolls back untouched
        TableHashes changed = PgTools.hashes(db);
        assertThatThrownBy(() -> restore(PostgresRestoreTarget.existingDatabaseBuilder(PgTools.connection(db))
                        .cleanInPlace(true)
                        .build()))
                .hasMessageContaining("cannot drop inherited constraint")
                .hasMessageContaining("keeps its previous content");
        assertThat(PgTools.hashes(db)).isEqualTo(changed);

        // a swap whose fresh copy does not match the backup's counts (pg_dump's own dump of the source, one
        // partition's count recorded one higher) never replaces the database and leaves no copy
        Path dump = PgTools.dump(source, shared.resolve("mall-swap.dump"));
        @SuppressWarnings("unchecked")
        Map<String, Object> wrong =
                new TreeMap<>((Map<String, Object>) manifest.sourceFacts().get("rowCounts"));
        long orders = ((Number) wrong.get("sales.orders_2026_02")).longValue();
        wrong.put("sales.orders_2026_02", orders + 1);
        assertThatThrownBy(() -> {
                    try (java.io.InputStream in = java.nio.file.Files.newInputStream(dump)) {
                        PostgresRestoreTarget.existingDatabase(PgTools.connection(db))
                                .stage(in, RowCountCheckTest.manifest(wrong, true, CountedTables.Scope.ONLY.fact()))
                                .close();
                    }
                })
                .isInstanceOf(IntegrityException.class)
                .hasMessageContaining("sales.orders_2026_02 " + (orders + 1) + " -> " + orders);
        assertThat(PgTools.hashes(db)).isEqualTo(changed);
        assertThat(PostgresRestoreTargetTest.databasesStartingWith(db + "_jb")).isEmpty();

        RestoreResult r = restore(PostgresRestoreTarget.existingDatabase(PgTools.connection(db)));
        // the partition made after the backup is not in it: the previous content is kept, not silently dropped
        String previous = dbs.remember(String.valueOf(r.facts().get("previousDatabase")));
        assertThat(r.facts())
                .containsEntry("method", "swap")
                .containsEntry("relationsOnlyInPrevious", List.of("sales.orders_2027_01"));
        assertThat(PgTools.hashes(previous)).isEqualTo(changed);
        assertThat(PgTools.hashes(db)).isEqualTo(original);
        try (Connection c = PgTestServer.get().connect(db)) {
            assertThat(MallSchema.extras(c)).isEqualTo(originalExtras);
        }
        RowCountCheck.Report counts =
                RowCountCheck.compare(PgTools.connection(db), manifest).orThrow();
        assertThat(counts.matches()).hasSize(MallSchema.TABLES_WITH_DATA.size());
        assertThat(counts.extraTables()).isEmpty();
    }

    @Test
    void aManifestWrittenBeforeTheCountingRuleChangedStillCompares() throws Exception {
        String db = restoreIntoNewDatabase();
        // what backups recorded up to now: every ordinary table (leaf partitions too), counted with its inheritance
        // children, and no rowCountScope fact
        Map<String, Object> legacy = new TreeMap<>();
        try (Connection c = PgTestServer.get().connect(source);
                Statement s = c.createStatement();
                ResultSet r = s.executeQuery("SELECT n.nspname || '.' || c.relname, format('%I.%I', n.nspname,"
                        + " c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                        + " WHERE c.relkind = 'r' AND n.nspname IN ('public', 'sales', 'ops')")) {
            while (r.next()) {
                legacy.put(r.getString(1), count(source, r.getString(2), false));
            }
        }
        assertThat(legacy).containsEntry("ops.notes", 67L); // 2 + 25 + 40: the old rule counted children too
        Map<String, Object> facts = new LinkedHashMap<>(manifest.sourceFacts());
        facts.remove("rowCountScope");
        facts.put("rowCounts", legacy);
        BackupManifest old = BackupManifest.fromJson(
                manifest.toBuilder().sourceFacts(facts).build().toJson(), manifest.manifestKey());

        RowCountCheck.Report r =
                RowCountCheck.compare(PgTools.connection(db), old).orThrow();
        assertThat(r.matches()).containsEntry("ops.notes", 67L).hasSize(MallSchema.TABLES_WITH_DATA.size());
    }

    @Test
    void tablesWhoseDataPgDumpLeavesOutAreRecordedWithTheirZeroRows() throws Exception {
        LocalDirectorySink store = LocalDirectorySink.create(shared.resolve("store-no-data"));
        BackupManifest m = BackupPipeline.builder()
                .source(PostgresSource.builder(PgTools.connection(source))
                        .extraArgs(List.of("--exclude-table-data=sales.order_audit", "--no-unlogged-table-data"))
                        .build())
                .encryption(pgp)
                .sink(store)
                .build()
                .run();
        @SuppressWarnings("unchecked")
        Map<String, Long> counts = (Map<String, Long>) m.sourceFacts().get("rowCounts");
        assertThat(counts)
                .containsEntry("sales.order_audit", 0L)
                .containsEntry("ops.session_cache", 0L)
                .containsEntry("ops.notes", 2L)
                .hasSize(MallSchema.TABLES_WITH_DATA.size());

        String db = dbs.newName("mall_nodata");
        RestorePipeline.builder()
                .sink(store)
                .decryption(pgp)
                .target(PostgresRestoreTarget.newDatabase(PgTools.connection("postgres"), db))
                .build()
                .restore(m.objectKey());
        assertThat(count(db, "sales.order_audit")).isZero();
        assertThat(RowCountCheck.compare(PgTools.connection(db), m).passed()).isTrue();
    }

    @Test
    void tablesLeftOutByPatternsAreNeitherCountedNorMissedAfterTheRestore() throws Exception {
        LocalDirectorySink store = LocalDirectorySink.create(shared.resolve("store-filtered"));
        BackupManifest m = BackupPipeline.builder()
                .source(PostgresSource.builder(PgTools.connection(source))
                        .excludeTable("sales.orders_2025_11")
                        .excludeTable("ops.session_*")
                        .build())
                .encryption(pgp)
                .sink(store)
                .build()
                .run();
        @SuppressWarnings("unchecked")
        Map<String, Long> counts = (Map<String, Long>) m.sourceFacts().get("rowCounts");
        assertThat(counts)
                .doesNotContainKeys("sales.orders_2025_11", "ops.session_cache")
                .hasSize(MallSchema.TABLES_WITH_DATA.size() - 2);

        String db = dbs.newName("mall_filtered");
        RestorePipeline.builder()
                .sink(store)
                .decryption(pgp)
                .target(PostgresRestoreTarget.newDatabase(PgTools.connection("postgres"), db))
                .build()
                .restore(m.objectKey());
        RowCountCheck.Report r =
                RowCountCheck.compare(PgTools.connection(db), m).orThrow();
        assertThat(r.matches()).hasSize(MallSchema.TABLES_WITH_DATA.size() - 2);
        assertThat(r.extraTables()).isEmpty();
    }

    private static long count(String db, String table) throws Exception {
        return count(db, table, true);
    }

    private static long count(String db, String table, boolean only) throws Exception {
        try (Connection c = PgTestServer.get().connect(db);
                Statement s = c.createStatement();
                ResultSet r = s.executeQuery("SELECT count(*) FROM " + (only ? "ONLY " : "") + table)) {
            r.next();
            return r.getLong(1);
        }
    }
}

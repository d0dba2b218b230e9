package com.jiffoo.backup.postgres;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.jiffoo.backup.BackupManifest;
import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.IntegrityException;
import com.jiffoo.backup.StagedRestore;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RowCountCheckTest {
    @TempDir
    Path tmp;

    private final List<String> created = new ArrayList<>();

    @AfterEach
    void drop() throws Exception {
        for (String db : created) {
            PgTestServer.get().dropDatabase(db);
        }
    }

    private String shop(int orders) throws Exception {
        String db = PgTestServer.get().createDatabase("rc");
        created.add(db);
        try (Connection c = PgTestServer.get().connect(db)) {
            ShopSchema.create(c, orders);
        }
        return db;
    }

    private static Map<String, Object> counts(String db) throws Exception {
        try (Connection c = PgTestServer.get().connect(db)) {
            return ShopSchema.rowCounts(c);
        }
    }

    /** A manifest as the pg_dump side writes it, read back from JSON (so counts are JSON numbers). */
    static BackupManifest manifest(Map<String, Object> counts, Boolean exact) {
        return manifest(counts, exact, null);
    }

    /** {@link #manifest(Map, Boolean)} with the {@code rowCountScope} fact ({@code "only"}), or without it (null). */
    static BackupManifest manifest(Map<String, ?> counts, Boolean exact, String scope) {
        Map<String, Object> facts = new LinkedHashMap<>();
        facts.put("database", "shop");
        facts.put("rowCounts", counts);
        if (exact != null) {
            facts.put("rowCountsExact", exact);
        }
        if (scope != null) {
            facts.put(CountedTables.SCOPE_FACT, scope);
        }
        BackupManifest m = BackupManifest.builder()
                .id("db_backup_20260111_020000")
                .kind("database")
                .startedAt(Instant.parse("2026-01-11T02:00:00Z"))
                .completedAt(Instant.parse("2026-01-11T02:01:00Z"))
                .sourceFacts(facts)
                .object("database/db_backup_20260111_020000.sql.gpg", 1, "0".repeat(64))
                .plaintext(1, "0".repeat(64))
                .build();
        return BackupManifest.fromJson(m.toJson(), m.manifestKey());
    }

    private static void sql(String db, String sql) throws Exception {
        try (Connection c = PgTestServer.get().connect(db);
                Statement s = c.createStatement()) {
            s.execute(sql);
        }
    }

    @Test
    void countsMatchAfterARestoreAndDifferAfterDeletingRows() throws Exception {
        String source = shop(5_000);
        Map<String, Object> counts = counts(source);
        Path dump = PgTools.dump(source, tmp.resolve("shop.dump"));
        String restored = "jb_rc_restored_" + Long.toHexString(System.nanoTime());
        created.add(restored);
        try (InputStream in = Files.newInputStream(dump);
                StagedRestore staged = PostgresRestoreTarget.newDatabase(PgTools.connection("postgres"), restored)
                        .stage(in, null)) {
            staged.commit();
        }
        BackupManifest m = manifest(counts, true);

        RowCountCheck.Report ok =
                RowCountCheck.compare(PgTools.connection(restored), m).orThrow();
        assertThat(ok.passed()).isTrue();
        assertThat(ok.exact()).isTrue();
        assertThat(ok.matches()).hasSize(5).containsEntry("public.order_items", 10_000L);
        assertThat(ok.differences()).isEmpty();
        assertThat(ok.missingTables()).isEmpty();
        assertThat(ok.extraTables()).isEmpty();

        sql(restored, "DELETE FROM order_items WHERE order_id <= 10");
        RowCountCheck.Report bad = RowCountCheck.compare(PgTools.connection(restored), m);
        assertThat(bad.passed()).isFalse();
        assertThat(bad.differences())
                .containsExactly(new RowCountCheck.Difference("public.order_items", 10_000L, 9_980L));
        assertThat(bad.matches()).hasSize(4);
        assertThatThrownBy(bad::orThrow)
                .isInstanceOf(IntegrityException.class)
                .hasMessageContaining("public.order_items 10000 -> 9980");
    }

    @Test
    void countingOnSeveralConnectionsGivesTheSameReportAsOne() throws Exception {
        String db = shop(3_000);
        Map<String, Object> counts = counts(db);
        sql(db, "CREATE TABLE \"Odd Name\" (x int); INSERT INTO \"Odd Name\" SELECT generate_series(1, 77)");
        counts.put("public.Odd Name", 77L);
        BackupManifest m = manifest(counts, true);
        // from 0 bytes on, every table is counted on its own connection (as many as processors, at most 4)
        RowCountCheck.Report parallel = RowCountCheck.compare(PgTools.connection(db), m, 0);
        RowCountCheck.Report serial = RowCountCheck.compare(PgTools.connection(db), m, Long.MAX_VALUE);
        assertThat(parallel.passed()).isTrue();
        assertThat(parallel.matches()).isEqualTo(serial.matches()).hasSize(counts.size());
        assertThat(parallel.matches())
                .containsEntry("public.Odd Name", 77L)
                .containsEntry("public.order_items", 6_000L);

        sql(db, "DELETE FROM order_items WHERE order_id <= 5; DELETE FROM \"Odd Name\" WHERE x > 70");
        RowCountCheck.Report bad = RowCountCheck.compare(PgTools.connection(db), m, 0);
        assertThat(bad.passed()).isFalse();
        assertThat(bad.differences())
                .containsExactlyInAnyOrder(
                        new RowCountCheck.Difference("public.Odd Name", 77L, 70L),
                        new RowCountCheck.Difference("public.order_items", 6_000L, 5_990L));
        assertThat(bad.differences())
                .isEqualTo(RowCountCheck.compare(PgTools.connection(db), m, Long.MAX_VALUE)
                        .differences());
    }

    @Test
    void estimatedCountsAreReportedButDoNotFail() throws Exception {
        String db = shop(500);
        Map<String, Object> counts = counts(db);
        counts.put("public.orders", 480L);
        RowCountCheck.Report r = RowCountCheck.compare(PgTools.connection(db), manifest(counts, false));
        assertThat(r.exact()).isFalse();
        assertThat(r.differences()).containsExactly(new RowCountCheck.Difference("public.orders", 480, 500));
        assertThat(r.passed()).isTrue();
        assertThat(r.orThrow()).isSameAs(r);
        assertThat(RowCountCheck.compare(PgTools.connection(db), manifest(counts, null))
                        .passed())
                .isTrue();
    }

    @Test
    void reportsMissingAndExtraTables() throws Exception {
        String db = shop(200);
        Map<String, Object> counts = counts(db);
        sql(db, "DROP TABLE shop_audit.events; CREATE TABLE \"Odd Name\" (x int); INSERT INTO \"Odd Name\" VALUES (1)");
        RowCountCheck.Report r = RowCountCheck.compare(PgTools.connection(db), manifest(counts, true));
        assertThat(r.missingTables()).containsExactly("shop_audit.events");
        assertThat(r.extraTables()).containsExactly("public.Odd Name");
        assertThat(r.passed()).isFalse();
        RowCountCheck.Report estimated = RowCountCheck.compare(PgTools.connection(db), manifest(counts, false));
        assertThat(estimated.passed()).isFalse(); // a missing table fails even with estimates
    }

    @Test
    void manifestWithoutRowCountsIsAConfigurationError() {
        BackupManifest m = manifest(Map.of(), true).toBuilder()
                .sourceFacts(Map.of("database", "shop"))
                .build();
        assertThatThrownBy(() -> RowCountCheck.compare(PgTools.connection("postgres"), m))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("rowCounts");
    }
}

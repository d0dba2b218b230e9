package com.jiffoo.backup.postgres;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.jiffoo.backup.BackupPipeline;
import com.jiffoo.backup.BackupTrust;
import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.DrillReport;
import com.jiffoo.backup.DrillSource;
import com.jiffoo.backup.RestoreTarget;
import com.jiffoo.backup.store.LocalDirectorySink;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Instant;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Scratch names and smoke SQL files of {@link DatabaseDrill}; on the test server: a scratch name that exists is
 * refused before anything is read and that database keeps its content; an empty store fails the drill (nothing to
 * restore) and leaves no scratch database; two drills at once: the second with the same scratch name refuses while
 * the first holds it (and drops nothing), one with a name of its own passes beside it.
 */
class DatabaseDrillTest {
    @Test
    void scratchNamesAreOfTheStrictFormAndOthersAreRefused() {
        String name = DatabaseDrill.newScratchName(Instant.parse("2026-12-02T04:05:06Z"));
        assertThat(name).matches("jiffoo_drill_20261202_040506_[0-9a-f]{8}");
        assertThat(DatabaseDrill.isScratchName(name)).isTrue();
        assertThat(DatabaseDrill.isScratchName("jiffoo_drill_20261202_040506_keep"))
                .isFalse();
        assertThat(DatabaseDrill.isScratchName("shop")).isFalse();
        assertThat(DatabaseDrill.isScratchName(name + "x")).isFalse();
        assertThatThrownBy(() -> DatabaseDrill.builder().scratchName("shop"))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("not a drill scratch name");
    }

    @Test
    void smokeSqlSplitsAtSemicolonsThatEndALineAndSkipsComments() {
        String sql = "-- orders of the last days\nSELECT 1\n  FROM orders\n  WHERE x = ';';\n\n"
                + "SELECT 2; \n-- trailing comment\nSELECT 3";
        assertThat(DatabaseDrill.parseSmokeSql(sql))
                .containsExactly("SELECT 1\n  FROM orders\n  WHERE x = ';'", "SELECT 2", "SELECT 3");
        assertThat(DatabaseDrill.parseSmokeSql("-- nothing\n\n")).isEmpty();
    }

    @TempDir
    Path dir;

    @Test
    void aScratchNameThatExistsIsRefusedAndTheDatabaseKeepsItsContent() throws Exception {
        PgTestServer pg = PgTestServer.get();
        String name = DatabaseDrill.newScratchName(Instant.now());
        try (Connection c = pg.connect("postgres");
                Statement s = c.createStatement()) {
            s.execute("CREATE DATABASE " + name);
        }
        try {
            try (Connection c = pg.connect(name);
                    Statement s = c.createStatement()) {
                s.execute("CREATE TABLE precious AS SELECT 42 AS answer");
            }
            try (LocalDirectorySink sink = LocalDirectorySink.create(dir)) {
                DatabaseDrill drill = DatabaseDrill.builder()
                        .server(pg.connection("postgres"))
                        .source(DrillSource.of(sink, null, BackupTrust.STORE, "database", null))
                        .scratchName(name)
                        .build();
                assertThatThrownBy(drill::run)
                        .isInstanceOf(ConfigurationException.class)
                        .hasMessageContaining(name + " already exists");
            }
            try (Connection c = pg.connect(name);
                    Statement s = c.createStatement();
                    ResultSet r = s.executeQuery("SELECT answer FROM precious")) {
                assertThat(r.next()).isTrue();
                assertThat(r.getInt(1)).isEqualTo(42);
            }
        } finally {
            pg.dropDatabase(name);
        }
    }

    @Test
    void anEmptyStoreFailsTheDrillAndLeavesNoScratch() throws Exception {
        PgTestServer pg = PgTestServer.get();
        try (LocalDirectorySink sink = LocalDirectorySink.create(dir)) {
            DrillReport r = DatabaseDrill.builder()
                    .server(pg.connection("postgres"))
                    .source(DrillSource.of(sink, null, BackupTrust.STORE, "database", null))
                    .build()
                    .run();
            assertThat(r.outcome()).isEqualTo(DrillReport.Outcome.FAILED);
            assertThat(r.checks()).extracting(DrillReport.Check::name).containsExactly("locate");
            assertThat(r.findings().get(0)).contains("No committed database backup");
            String scratch = r.scratch().split(" ")[1];
            assertThat(DatabaseDrill.isScratchName(scratch)).isTrue();
            assertThat(pg.databaseExists(scratch)).isFalse();
        }
    }

    @Test
    void aDrillOfAPartitionedSchemaPassesItsRowCountsAndReadsEachTableThatHoldsRowsOnce() throws Exception {
        // MallSchema: range, list, hash and default partitions, inheritance, an unlogged table, materialized views, a
        // foreign table, large objects; counted as the backup counted it (leaf partitions, each table's own rows)
        PgTestServer pg = PgTestServer.get();
        String db = pg.createDatabase("drill_mall");
        try (LocalDirectorySink sink = LocalDirectorySink.create(dir)) {
            MallSchema.create(pg, db);
            java.util.Map<String, Long> counts;
            try (Connection c = pg.connect(db)) {
                counts = MallSchema.countsOnly(c);
            }
            backUp(pg, db, sink);
            DrillReport r = DatabaseDrill.builder()
                    .server(pg.connection("postgres"))
                    .source(DrillSource.of(sink, null, BackupTrust.STORE, "database", null))
                    .build()
                    .run();
            assertThat(r.passed()).as(r.toString()).isTrue();
            assertThat(r.checks())
                    .filteredOn(c -> c.name().equals("row-counts"))
                    .singleElement()
                    .satisfies(c -> assertThat(c.status()).isEqualTo(DrillReport.Status.PASSED))
                    .satisfies(c -> assertThat(c.detail()).startsWith("exact counts of the manifest"));
            long rows = counts.values().stream().mapToLong(Long::longValue).sum();
            assertThat(r.checks())
                    .filteredOn(c -> c.name().equals("full-read"))
                    .singleElement()
                    .satisfies(c -> assertThat(c.detail())
                            .isEqualTo(MallSchema.TABLES_WITH_DATA.size() + " table(s), " + rows
                                    + " row(s) read to their end"));
        } finally {
            pg.dropDatabase(db);
        }
    }

    @Test
    void aSecondDrillWithTheSameScratchNameRefusesWhileTheFirstHoldsItAndDropsNothing() throws Exception {
        PgTestServer pg = PgTestServer.get();
        String db = pg.createDatabase("drill_concurrent");
        CountDownLatch located = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        try (LocalDirectorySink sink = LocalDirectorySink.create(dir)) {
            try (Connection c = pg.connect(db);
                    Statement s = c.createStatement()) {
                s.execute("CREATE TABLE orders AS SELECT g AS id FROM generate_series(1, 1000) g");
            }
            backUp(pg, db, sink);
            DrillSource real = DrillSource.of(sink, null, BackupTrust.STORE, "database", null);
            // the first drill stops after choosing its scratch name, before it creates the database: the moment
            // a second drill that lists the databases finds the name free
            DrillSource held = new DrillSource() {
                @Override
                public String locate() {
                    located.countDown();
                    try {
                        assertThat(release.await(120, TimeUnit.SECONDS)).isTrue();
                    } catch (InterruptedException e) {
                        throw new IllegalStateException(e);
                    }
                    return real.locate();
                }

                @Override
                public Restored restore(String key, RestoreTarget target) {
                    return real.restore(key, target);
                }

                @Override
                public String describe() {
                    return real.describe();
                }
            };
            String name = DatabaseDrill.newScratchName(Instant.now());
            CompletableFuture<DrillReport> first = CompletableFuture.supplyAsync(() -> DatabaseDrill.builder()
                    .server(pg.connection("postgres"))
                    .source(held)
                    .scratchName(name)
                    .smokeQueries(java.util.List.of("SELECT 1 FROM orders HAVING count(*) = 1000"))
                    .build()
                    .run());
            assertThat(located.await(60, TimeUnit.SECONDS)).isTrue();
            assertThatThrownBy(() -> DatabaseDrill.builder()
                            .server(pg.connection("postgres"))
                            .source(real)
                            .scratchName(name)
                            .build()
                            .run())
                    .isInstanceOf(ConfigurationException.class)
                    .hasMessageContaining("Another drill is using the scratch database " + name);
            // a drill with a name of its own runs beside it
            DrillReport beside = DatabaseDrill.builder()
                    .server(pg.connection("postgres"))
                    .source(real)
                    .build()
                    .run();
            assertThat(beside.passed()).as(beside.toString()).isTrue();
            release.countDown();
            DrillReport r = first.get(120, TimeUnit.SECONDS);
            assertThat(r.passed()).as(r.toString()).isTrue();
            assertThat(r.scratch()).startsWith("database " + name + " ");
            assertThat(pg.databaseExists(name)).isFalse();
        } finally {
            release.countDown();
            pg.dropDatabase(db);
        }
    }

    /** An unencrypted backup of {@code db} into {@code sink}. */
    private static void backUp(PgTestServer pg, String db, LocalDirectorySink sink) {
        BackupPipeline.builder()
                .unencrypted()
                .source(PostgresSource.builder(pg.connection(db)).build())
                .sink(sink)
                .build()
                .run();
    }
}

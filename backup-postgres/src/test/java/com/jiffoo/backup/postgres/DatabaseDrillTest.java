package com.jiffoo.backup.postgres;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.jiffoo.backup.BackupTrust;
import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.DrillReport;
import com.jiffoo.backup.DrillSource;
import com.jiffoo.backup.store.LocalDirectorySink;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Instant;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Scratch names and smoke SQL files of {@link DatabaseDrill}; on the test server: a scratch name that exists is
 * refused before anything is read and that database keeps its content; an empty store fails the drill (nothing to
 * restore) and leaves no scratch database.
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
}

package com.jiffoo.backup.postgres;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.OutputStream;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The exact counts of a backup run beside pg_dump's compression: one process per count, no parallel workers and no
 * JIT compilation, in the dump's transaction only; the counts themselves stay exact.
 */
class PostgresSourceLeanCountsTest {
    private static final PgTestServer PG = PgTestServer.get();
    private String db;

    @BeforeEach
    void createTable() throws SQLException {
        db = PG.createDatabase("leancount");
        try (Connection c = PG.connect(db);
                Statement s = c.createStatement()) {
            // large enough that the planner would count it with parallel workers
            s.execute("CREATE TABLE big AS SELECT g AS id, repeat('x', 200) AS pad FROM generate_series(1, 300000) g");
            s.execute("ANALYZE big");
        }
    }

    @AfterEach
    void drop() throws SQLException {
        PG.dropDatabase(db);
    }

    private static String plan(Statement s) throws SQLException {
        StringBuilder out = new StringBuilder();
        try (ResultSet r = s.executeQuery("EXPLAIN SELECT count(*) FROM big")) {
            while (r.next()) {
                out.append(r.getString(1)).append('\n');
            }
        }
        return out.toString();
    }

    private static String show(Statement s, String setting) throws SQLException {
        try (ResultSet r = s.executeQuery("SHOW " + setting)) {
            r.next();
            return r.getString(1);
        }
    }

    /** Makes the planner count {@code big} with parallel workers, as it would a larger table, and checks it does. */
    private static void parallelByDefault(Statement s) throws SQLException {
        s.execute("SET max_parallel_workers_per_gather = 2");
        s.execute("SET parallel_setup_cost = 0");
        s.execute("SET parallel_tuple_cost = 0");
        assertThat(plan(s)).as("the planner's choice without the settings").contains("Gather");
    }

    @Test
    void countsInTheDumpTransactionUseOneProcessAndNoJitAndOnlyThere() throws SQLException {
        try (Connection c = PG.connect(db);
                Statement s = c.createStatement()) {
            parallelByDefault(s);
            String jit = show(s, "jit");

            c.setAutoCommit(false);
            RowCounter.leanCounts(s, c.getMetaData().getDatabaseMajorVersion() * 10000);
            assertThat(plan(s)).doesNotContain("Gather").doesNotContain("Parallel");
            assertThat(show(s, "jit")).isEqualTo("off");
            c.rollback();

            assertThat(show(s, "max_parallel_workers_per_gather")).isEqualTo("2");
            assertThat(show(s, "jit")).isEqualTo(jit);
        }
    }

    /** The counting connection beside pg_restore (autocommit): the settings hold for the session, across statements. */
    @Test
    void countsBesideARestoreUseOneProcessAndNoJitForTheSession() throws SQLException {
        try (Connection c = PG.connect(db);
                Statement s = c.createStatement()) {
            parallelByDefault(s);

            RowCounter.leanCounts(s, c.getMetaData().getDatabaseMajorVersion() * 10000, false);
            assertThat(c.getAutoCommit()).isTrue();
            assertThat(plan(s)).doesNotContain("Gather").doesNotContain("Parallel");
            assertThat(show(s, "jit")).isEqualTo("off");
            assertThat(show(s, "max_parallel_workers_per_gather")).isEqualTo("0");
        }
    }

    @Test
    void countsStayExact() throws Exception {
        try (Connection c = PG.connect(db);
                Statement s = c.createStatement()) {
            s.execute("DELETE FROM big WHERE id % 7 = 0");
        }
        Map<String, Object> facts =
                PostgresSource.builder(PG.connection(db)).build().writeTo(OutputStream.nullOutputStream());
        assertThat(facts.get("rowCounts")).isEqualTo(Map.of("public.big", 300000L - 300000L / 7));
    }
}

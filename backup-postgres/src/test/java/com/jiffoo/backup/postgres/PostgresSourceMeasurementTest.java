package com.jiffoo.backup.postgres;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.OutputStream;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Measurements for the docs: dump size and time of a generated ~200k-row table at -Z 0, 1, 6, 9, and the cost of
 * exact row counts on a few-hundred-thousand-row table. Prints a table to stdout (see the surefire report output).
 */
class PostgresSourceMeasurementTest {
    private static final PgTestServer PG = PgTestServer.get();
    private static String db;

    @BeforeAll
    static void createTable() throws Exception {
        db = PG.createDatabase("pgmeasure");
        try (Connection c = PG.connect(db);
                Statement s = c.createStatement()) {
            s.execute("CREATE TABLE public.orders (id bigint PRIMARY KEY, customer_id int NOT NULL,"
                    + " status text NOT NULL, total numeric(12,2) NOT NULL, created_at timestamptz NOT NULL,"
                    + " note text)");
            s.execute("INSERT INTO public.orders SELECT g, (g * 7919) % 50000, (ARRAY['new','paid','shipped',"
                    + "'cancelled'])[g % 4 + 1], ((g * 37) % 100000) / 100.0,"
                    + " timestamptz '2025-01-01' + g * interval '13 seconds', 'order ' || md5(g::text)"
                    + " FROM generate_series(1, 200000) g");
            s.execute("CREATE TABLE public.events AS SELECT g AS id, md5(g::text) AS payload"
                    + " FROM generate_series(1, 400000) g");
            s.execute("VACUUM ANALYZE");
        }
    }

    @AfterAll
    static void dropDatabase() throws Exception {
        PG.dropDatabase(db);
    }

    @Test
    void compressionLevelsSizeAndTime() throws Exception {
        List<String> rows = new ArrayList<>();
        long previousSize = Long.MAX_VALUE;
        for (int level : new int[] {0, 1, 6, 9}) {
            PostgresSource s = PostgresSource.builder(PG.connection(db))
                    .includeTable("public.orders")
                    .compressionLevel(level)
                    .rowCounts(PostgresSource.RowCounts.NONE)
                    .build();
            s.writeTo(OutputStream.nullOutputStream()); // warm up the cache
            long best = Long.MAX_VALUE;
            long size = 0;
            for (int i = 0; i < 3; i++) {
                AtomicLong n = new AtomicLong();
                long t0 = System.nanoTime();
                s.writeTo(ChildProcesses.discard(n::set));
                best = Math.min(best, (System.nanoTime() - t0) / 1_000_000);
                size = n.get();
            }
            rows.add(String.format("-Z %d: %,12d bytes  %5d ms (best of 3)", level, size, best));
            if (level > 0) {
                assertThat(size).isLessThanOrEqualTo(previousSize);
            }
            previousSize = size;
        }
        System.out.println("pg_dump -Fc of 200,000 rows (public.orders, " + tableSize("public.orders") + "):");
        rows.forEach(System.out::println);
    }

    @Test
    void exactRowCountCost() throws Exception {
        List<String> rows = new ArrayList<>();
        for (PostgresSource.RowCounts mode : PostgresSource.RowCounts.values()) {
            PostgresSource s = PostgresSource.builder(PG.connection(db))
                    .includeTable("public.events")
                    .compressionLevel(1)
                    .rowCounts(mode)
                    .build();
            s.writeTo(OutputStream.nullOutputStream());
            long best = Long.MAX_VALUE;
            Map<String, Object> facts = null;
            for (int i = 0; i < 3; i++) {
                long t0 = System.nanoTime();
                facts = s.writeTo(OutputStream.nullOutputStream());
                best = Math.min(best, (System.nanoTime() - t0) / 1_000_000);
            }
            rows.add(String.format(
                    "%-8s total %5d ms, counting %s ms, counts %s",
                    mode, best, facts.getOrDefault("rowCountMillis", "-"), facts.get("rowCounts")));
            if (mode == PostgresSource.RowCounts.EXACT) {
                assertThat(facts.get("rowCounts")).isEqualTo(Map.of("public.events", 400000L));
            }
        }
        long t0 = System.nanoTime();
        try (Connection c = PG.connect(db);
                Statement st = c.createStatement();
                ResultSet r = st.executeQuery("SELECT count(*) FROM public.events")) {
            r.next();
        }
        System.out.println("row counts on 400,000 rows (public.events, " + tableSize("public.events")
                + "), pg_dump -Z 1, best of 3; a lone count(*): " + (System.nanoTime() - t0) / 1_000_000 + " ms");
        rows.forEach(System.out::println);
    }

    private static String tableSize(String table) throws Exception {
        try (Connection c = PG.connect(db);
                Statement st = c.createStatement();
                ResultSet r = st.executeQuery("SELECT pg_size_pretty(pg_table_size('" + table + "'))")) {
            r.next();
            return r.getString(1);
        }
    }
}

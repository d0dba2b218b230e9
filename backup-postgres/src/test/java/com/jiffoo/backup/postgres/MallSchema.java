package com.jiffoo.backup.postgres;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

/**
 * The hand-written operator schema {@code schemas/mall.sql} (test resources): declarative partitions (range with a
 * default and an empty partition, list with a hash-partitioned sub-level), classic inheritance with rows in parent
 * and children, a populated and a {@code WITH NO DATA} materialized view, domains, enums, a composite type, a custom
 * aggregate, triggers, generated and identity columns, pgcrypto/hstore/citext/pg_trgm/file_fdw, a foreign table,
 * large objects, an ICU and the "C" collation, an unlogged table. Loaded with the real {@code psql}.
 */
public final class MallSchema {
    /**
     * The tables whose rows pg_dump dumps, written out by hand from the SQL file: the leaf partitions, inheritance
     * parent and children, the unlogged table; not the partitioned parents, materialized views or the foreign table.
     */
    public static final List<String> TABLES_WITH_DATA = List.of(
            "ops.customer_notes",
            "ops.notes",
            "ops.order_notes",
            "ops.session_cache",
            "public.customers",
            "sales.order_audit",
            "sales.order_lines_apac",
            "sales.order_lines_eu",
            "sales.order_lines_other",
            "sales.order_lines_us_0",
            "sales.order_lines_us_1",
            "sales.orders_2025_11",
            "sales.orders_2025_12",
            "sales.orders_2026_01",
            "sales.orders_2026_02",
            "sales.orders_2026_12",
            "sales.orders_default",
            "sales.products");

    private MallSchema() {}

    /** Loads the schema and its rows into {@code database} (empty, made from template0) with psql. */
    public static void create(PgTestServer server, String database) throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder("psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", "-")
                .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                .redirectErrorStream(false);
        pb.environment().putAll(server.connection(database).childEnvironment());
        Process p = pb.start();
        try (InputStream sql = MallSchema.class.getResourceAsStream("/schemas/mall.sql")) {
            if (sql == null) {
                throw new AssertionError("schemas/mall.sql is not on the test class path");
            }
            try (var stdin = p.getOutputStream()) {
                sql.transferTo(stdin);
            }
        }
        String stderr = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(5, TimeUnit.MINUTES) || p.exitValue() != 0) {
            p.destroyForcibly();
            throw new AssertionError("psql could not load schemas/mall.sql into " + database + ": " + stderr);
        }
    }

    /** {@code SELECT count(*) FROM ONLY t} of each of {@link #TABLES_WITH_DATA}. */
    public static Map<String, Long> countsOnly(Connection c) throws SQLException {
        Map<String, Long> out = new TreeMap<>();
        for (String t : TABLES_WITH_DATA) {
            out.put(t, Long.parseLong(one(c, "SELECT count(*) FROM ONLY " + t)));
        }
        return out;
    }

    /**
     * What {@link TableHashes} does not cover: materialized views (populated or not, and their rows), large objects,
     * the foreign table's definition, enum labels, domains' checks, collations of columns, triggers, generated
     * columns' expressions, extensions, the custom aggregate.
     */
    public static Map<String, String> extras(Connection c) throws SQLException {
        Map<String, String> out = new TreeMap<>();
        out.put(
                "matview populated",
                one(
                        c,
                        "SELECT string_agg(matviewname || '=' || ispopulated, ',' ORDER BY"
                                + " matviewname) FROM pg_matviews WHERE schemaname = 'reporting'"));
        out.put(
                "matview revenue_by_month",
                one(
                        c,
                        "SELECT count(*) || ':' || md5(string_agg(t::text, ',' ORDER BY"
                                + " t::text)) FROM reporting.revenue_by_month t"));
        out.put(
                "large objects",
                one(
                        c,
                        "SELECT count(*) || ':' || md5(string_agg(oid::text || '=' || md5(lo_get(oid)),"
                                + " ',' ORDER BY oid)) FROM pg_largeobject_metadata"));
        out.put(
                "foreign table",
                one(
                        c,
                        "SELECT ftoptions::text || ' rows=' || (SELECT count(*) FROM"
                                + " ops.printed_numbers) FROM pg_foreign_table WHERE ftrelid = 'ops.printed_numbers'::regclass"));
        out.put(
                "enums",
                one(
                        c,
                        "SELECT string_agg(t.typname || '.' || e.enumlabel, ',' ORDER BY t.typname,"
                                + " e.enumsortorder) FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid"));
        out.put(
                "domains",
                one(
                        c,
                        "SELECT string_agg(t.typname || ':' || pg_get_constraintdef(k.oid), ',' ORDER BY"
                                + " t.typname) FROM pg_constraint k JOIN pg_type t ON t.oid = k.contypid"));
        out.put(
                "collations",
                one(
                        c,
                        "SELECT string_agg(attrelid::regclass || '.' || attname || '=' || co.collname,"
                                + " ',' ORDER BY attrelid::regclass::text, attname) FROM pg_attribute a JOIN pg_collation co ON co.oid = a.attcollation"
                                + " WHERE co.collname <> 'default' AND attrelid::regclass::text NOT LIKE 'pg_%'"
                                + " AND attrelid::regclass::text NOT LIKE 'information_schema%' AND attnum > 0"));
        out.put(
                "triggers",
                one(
                        c,
                        "SELECT string_agg(tgrelid::regclass || ':' || pg_get_triggerdef(oid), ','"
                                + " ORDER BY tgrelid::regclass::text, tgname) FROM pg_trigger WHERE NOT tgisinternal"));
        out.put(
                "generated",
                one(
                        c,
                        "SELECT string_agg(adrelid::regclass || ':' || pg_get_expr(adbin, adrelid), ','"
                                + " ORDER BY adrelid::regclass::text, a.attname) FROM pg_attrdef d JOIN pg_attribute a ON a.attrelid = d.adrelid"
                                + " AND a.attnum = d.adnum WHERE a.attgenerated = 's'"));
        out.put("extensions", one(c, "SELECT string_agg(extname, ',' ORDER BY extname) FROM pg_extension"));
        out.put("aggregate", one(c, "SELECT public.product(x)::text FROM (VALUES (2.0), (3.0), (7.0)) v(x)"));
        out.put(
                "partitions",
                one(
                        c,
                        "SELECT string_agg(inhrelid::regclass || '<' || inhparent::regclass || ' '"
                                + " || coalesce(pg_get_expr(c.relpartbound, c.oid), 'inherits'), ','"
                                + " ORDER BY inhrelid::regclass::text)"
                                + " FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE c.relkind IN ('r', 'p')"));
        return out;
    }

    private static String one(Connection c, String sql) throws SQLException {
        try (Statement s = c.createStatement();
                ResultSet r = s.executeQuery(sql)) {
            r.next();
            return r.getString(1);
        }
    }
}

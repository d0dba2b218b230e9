package com.jiffoo.backup.postgres;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A content fingerprint of a database for restore tests: per table, the row count and an ordered MD5 of all rows'
 * text forms; per sequence its last value; per view its definition; per function its definition; per index its
 * definition. Two databases with equal {@code TableHashes} hold the same data and objects (as far as tests care).
 *
 * @param tables    {@code schema.table -> "count:md5"}
 * @param sequences {@code schema.sequence -> "last_value/is_called"}
 * @param views     {@code schema.view -> definition}
 * @param functions {@code schema.function(args) -> md5 of the definition}
 * @param indexes   {@code schema.index -> definition}
 */
public record TableHashes(
        Map<String, String> tables,
        Map<String, String> sequences,
        Map<String, String> views,
        Map<String, String> functions,
        Map<String, String> indexes) {

    /** Fingerprints the connected database (schemas other than the system ones). */
    public static TableHashes of(Connection c) throws SQLException {
        Map<String, String> tables = new TreeMap<>();
        for (String t : names(
                c,
                "SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) FROM pg_class c"
                        + " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r','p')" + USER)) {
            tables.put(
                    t,
                    one(
                            c,
                            "SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, E'\\n' ORDER BY"
                                    + " t::text COLLATE \"C\")), '-') FROM " + t + " t"));
        }
        Map<String, String> sequences = new TreeMap<>();
        for (String s : names(
                c,
                "SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) FROM pg_class c"
                        + " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'S'" + USER)) {
            sequences.put(s, one(c, "SELECT last_value || '/' || is_called FROM " + s));
        }
        Map<String, String> views = new TreeMap<>(pairs(
                c,
                "SELECT n.nspname || '.' || c.relname,"
                        + " pg_get_viewdef(c.oid) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                        + " WHERE c.relkind IN ('v','m')" + USER));
        Map<String, String> functions = new TreeMap<>(pairs(
                c,
                "SELECT n.nspname || '.' || p.proname || '('"
                        + " || pg_get_function_identity_arguments(p.oid) || ')', md5(pg_get_functiondef(p.oid))"
                        + " FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE p.prokind = 'f'"
                        + USER.replace("c.relnamespace", "p.pronamespace")));
        Map<String, String> indexes = new TreeMap<>(pairs(
                c,
                "SELECT schemaname || '.' || indexname, indexdef"
                        + " FROM pg_indexes WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"));
        return new TableHashes(tables, sequences, views, functions, indexes);
    }

    private static final String USER =
            " AND n.nspname NOT IN ('pg_catalog', 'information_schema')" + " AND n.nspname NOT LIKE 'pg_toast%'";

    /** The row count part of a table's entry. */
    public long count(String table) {
        return Long.parseLong(tables.get(table).split(":")[0]);
    }

    /** The total number of rows. */
    public long totalRows() {
        return tables.keySet().stream().mapToLong(this::count).sum();
    }

    private static List<String> names(Connection c, String sql) throws SQLException {
        List<String> out = new ArrayList<>();
        try (Statement s = c.createStatement();
                ResultSet r = s.executeQuery(sql)) {
            while (r.next()) {
                out.add(r.getString(1));
            }
        }
        return out;
    }

    private static Map<String, String> pairs(Connection c, String sql) throws SQLException {
        Map<String, String> out = new TreeMap<>();
        try (Statement s = c.createStatement();
                ResultSet r = s.executeQuery(sql)) {
            while (r.next()) {
                out.put(r.getString(1), r.getString(2));
            }
        }
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

package com.jiffoo.backup.postgres;

import com.jiffoo.backup.ConfigurationException;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;

/**
 * Content fingerprints of chosen tables, computed by PostgreSQL: {@code rows:sum1:sum2}, the row count and the sums
 * (as numeric, so they never overflow) of the two 64-bit halves of {@code md5(row::text)} over every row of the table
 * ({@code FROM ONLY}). Order-independent and streaming (no sort, no aggregate string, constant memory in the server),
 * so it works on tables of any size; it detects any changed, missing or extra row (it is not meant to resist someone
 * forging rows: the manifest holding it is signed). Row text depends on session settings, which {@link #pin} fixes
 * ({@code TimeZone}, {@code DateStyle}, {@code IntervalStyle}, {@code extra_float_digits}, {@code bytea_output}) for
 * the transaction, at backup time (in the dump's snapshot) and after a drill's restore alike.
 */
final class TableFingerprints {
    /** The manifest fact: {@code "schema.table" -> fingerprint}. */
    static final String FACT = "fingerprints";

    private TableFingerprints() {}

    /** Fixes, for the current transaction, the settings a row's text depends on. */
    static void pin(Statement s) throws SQLException {
        s.execute("SET LOCAL TimeZone = 'UTC'");
        s.execute("SET LOCAL DateStyle = 'ISO, YMD'");
        s.execute("SET LOCAL IntervalStyle = 'postgres'");
        s.execute("SET LOCAL extra_float_digits = 1");
        s.execute("SET LOCAL bytea_output = 'hex'");
    }

    /** The fingerprint of {@code t}, in the connection's current transaction (pinned with {@link #pin}). */
    static String of(Connection c, CountedTables.Table t) throws SQLException {
        String sql = "SELECT count(*), coalesce(sum(('x' || substr(h, 1, 16))::bit(64)::bigint::numeric), 0),"
                + " coalesce(sum(('x' || substr(h, 17, 16))::bit(64)::bigint::numeric), 0)"
                + " FROM (SELECT md5(x::text) AS h FROM ONLY " + t.quoted() + " x) f";
        try (Statement s = c.createStatement();
                ResultSet r = s.executeQuery(sql)) {
            r.next();
            return r.getLong(1) + ":" + r.getBigDecimal(2).toPlainString() + ":"
                    + r.getBigDecimal(3).toPlainString();
        }
    }

    /**
     * The tables among {@code tables} that {@code names} name: {@code schema.table}, or a bare name of exactly one
     * table.
     *
     * @throws ConfigurationException when a name matches no table, or a bare name several
     */
    static List<CountedTables.Table> choose(List<CountedTables.Table> tables, List<String> names, String what) {
        List<CountedTables.Table> out = new ArrayList<>();
        for (String n : names) {
            List<CountedTables.Table> hits = tables.stream()
                    .filter(t -> t.qualified().equals(n)
                            || (!n.contains(".") && t.name().equals(n)))
                    .toList();
            if (hits.size() != 1) {
                throw new ConfigurationException("The table '" + n + "' to fingerprint "
                        + (hits.isEmpty()
                                ? "is not among the tables " + what + "."
                                : "is ambiguous: "
                                        + hits.stream()
                                                .map(CountedTables.Table::qualified)
                                                .toList() + "; give schema.table.")
                        + " Name a table as schema.table, e.g. public.orders.");
            }
            if (!out.contains(hits.get(0))) {
                out.add(hits.get(0));
            }
        }
        return out;
    }
}

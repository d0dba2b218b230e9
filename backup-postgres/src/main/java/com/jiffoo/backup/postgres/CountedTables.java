package com.jiffoo.backup.postgres;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Which relations the row counts cover and how each is counted: the one definition shared by the backup side
 * ({@link PostgresSource}, which records the manifest's {@code rowCounts}) and the check after a restore
 * ({@link RowCountCheck}), so that both list the same relations and count them the same way.
 *
 * <p><b>Counted</b>: every ordinary table ({@code relkind 'r'}) — the tables whose rows pg_dump dumps as
 * {@code TABLE DATA}: plain tables, the leaf partitions of declaratively partitioned tables (range, list, hash,
 * default, at any depth), parents and children of classic inheritance, unlogged tables. Each is counted with
 * {@code SELECT count(*) FROM ONLY t}: a row counts once, in the table that holds it, so an inheritance parent's
 * count does not include its children's rows.
 *
 * <p><b>Not counted</b>: partitioned tables ({@code relkind 'p'}: they hold no rows, their partitions do);
 * materialized views (pg_dump stores their query, not their rows; a restore recomputes them, so a count could
 * differ for a correct restore, e.g. a view over {@code now()}, and one made {@code WITH NO DATA} cannot be counted at
 * all); foreign tables (their rows live on another server or in a file; pg_dump does not dump them by default);
 * views, sequences, tables belonging to an extension, and the system schemas.
 *
 * <p><b>Manifests from before this rule</b> (up to 2026-12, no {@value #SCOPE_FACT} fact) counted the same relations
 * with {@code count(*)} <em>including</em> inheritance children; {@link Scope#WITH_CHILDREN} counts them that way
 * again, so such a backup still restores and compares. (The old check listed partitioned parents instead of their
 * partitions, which made every restore of a partitioned database fail.)
 *
 * <p>Stateless. Counting reads every listed table once.
 */
final class CountedTables {
    /** The source fact that says how the counts were taken. */
    static final String SCOPE_FACT = "rowCountScope";

    private CountedTables() {}

    /** How a table's rows are counted. */
    enum Scope {
        /** {@code count(*) FROM ONLY t}: the table's own rows. What backups record since the fact exists. */
        ONLY("only"),
        /** {@code count(*) FROM t}: with inheritance children's rows; manifests without {@value #SCOPE_FACT}. */
        WITH_CHILDREN("with-children");

        private final String fact;

        Scope(String fact) {
            this.fact = fact;
        }

        /** The value of the {@value CountedTables#SCOPE_FACT} fact. */
        String fact() {
            return fact;
        }

        /** The scope a manifest's source facts record; {@link #WITH_CHILDREN} when they record none (old backups). */
        static Scope of(Map<String, Object> facts) {
            Object v = facts.get(SCOPE_FACT);
            return v == null || WITH_CHILDREN.fact.equals(String.valueOf(v)) ? WITH_CHILDREN : ONLY;
        }
    }

    /**
     * A counted table.
     *
     * @param estimate the planner's row estimate ({@code pg_class.reltuples}; -1 when never analyzed)
     * @param visible  whether it is visible in the search path (for unqualified name patterns)
     * @param unlogged whether it is an unlogged table
     * @param partition whether it is a partition of a partitioned table ({@code pg_class.relispartition})
     */
    record Table(String schema, String name, long estimate, boolean visible, boolean unlogged, boolean partition) {
        /** {@code schema.name} as the manifest keys it (not quoted). */
        String qualified() {
            return schema + "." + name;
        }

        /** The quoted identifier for SQL. */
        String quoted() {
            return PostgresRestoreTarget.ident(schema) + "." + PostgresRestoreTarget.ident(name);
        }

        /** The query counting this table's rows ({@code SELECT count(*) FROM ONLY ...}). */
        String countSql() {
            return countSql(Scope.ONLY);
        }

        /** The query counting this table's rows in {@code scope}. */
        String countSql(Scope scope) {
            return "SELECT count(*) FROM " + (scope == Scope.ONLY ? "ONLY " : "") + quoted();
        }
    }

    /** The counted tables of the connected database, ordered by schema and name. */
    static List<Table> list(Connection c) throws SQLException {
        List<Table> out = new ArrayList<>();
        String sql = "SELECT n.nspname, c.relname, c.reltuples::bigint, pg_catalog.pg_table_is_visible(c.oid),"
                + " c.relpersistence = 'u', c.relispartition"
                + " FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
                + " WHERE c.relkind = 'r' AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'"
                + " AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_class'::regclass"
                + "   AND d.objid = c.oid AND d.deptype = 'e')"
                + " ORDER BY 1, 2";
        try (Statement s = c.createStatement();
                ResultSet r = s.executeQuery(sql)) {
            while (r.next()) {
                out.add(new Table(
                        r.getString(1),
                        r.getString(2),
                        r.getLong(3),
                        r.getBoolean(4),
                        r.getBoolean(5),
                        r.getBoolean(6)));
            }
        }
        return out;
    }
}

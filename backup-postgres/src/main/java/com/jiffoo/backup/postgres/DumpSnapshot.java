package com.jiffoo.backup.postgres;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The snapshot a dump is taken in, and the JDBC transaction that holds it: {@link #open} reads the server's version
 * and the database size, starts a {@code REPEATABLE READ READ ONLY} transaction and exports its snapshot
 * ({@code pg_export_snapshot()}), which pg_dump then dumps with {@code --snapshot=<id>} and the row counts count in.
 * The snapshot exists as long as the transaction: {@link #close()} ends it (rollback: nothing was written) and closes
 * the connection; call it only once pg_dump has exited and the counts are done.
 *
 * <p>The transaction's {@code lock_timeout} is pg_dump's lock wait timeout: the row counts take the same share locks
 * as pg_dump and must not wait longer than it does. Not thread-safe: the connection is used by one thread at a time
 * (this one opening it, then {@link RowCounter}).
 */
final class DumpSnapshot implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(DumpSnapshot.class);

    private final Connection jdbc;
    private final Map<String, Object> facts = new LinkedHashMap<>();
    private int serverVersionNum;
    private String id;

    private DumpSnapshot(Connection jdbc) {
        this.jdbc = jdbc;
    }

    /**
     * Connects to {@code connection}'s database and exports a snapshot.
     *
     * @param lockWaitTimeout the transaction's {@code lock_timeout}; zero waits forever
     * @throws SQLException when connecting or a query fails (the connection is closed again)
     */
    static DumpSnapshot open(PgConnection connection, Duration lockWaitTimeout) throws SQLException {
        DumpSnapshot s = new DumpSnapshot(connection.openJdbc());
        try {
            s.export(lockWaitTimeout);
            return s;
        } catch (SQLException | RuntimeException e) {
            s.close();
            throw e;
        }
    }

    private void export(Duration lockWaitTimeout) throws SQLException {
        try (Statement s = jdbc.createStatement();
                ResultSet r = s.executeQuery("SELECT current_setting('server_version_num')::int,"
                        + " current_setting('server_version'), pg_database_size(current_database())")) {
            r.next();
            serverVersionNum = r.getInt(1);
            facts.put("serverVersion", r.getString(2));
            facts.put("serverVersionNum", serverVersionNum);
            facts.put("databaseSizeBytes", r.getLong(3));
        }
        jdbc.setAutoCommit(false);
        try (Statement s = jdbc.createStatement()) {
            s.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY");
            s.execute("SET LOCAL lock_timeout = " + lockWaitTimeout.toMillis());
            try (ResultSet r = s.executeQuery("SELECT pg_export_snapshot()")) {
                r.next();
                id = r.getString(1);
            }
        }
    }

    /** The snapshot's id, for {@code pg_dump --snapshot}. */
    String id() {
        return id;
    }

    /** The connection whose transaction holds the snapshot; queries on it see the dump's data. */
    Connection connection() {
        return jdbc;
    }

    /** {@code server_version_num}, e.g. 150014. */
    int serverVersionNum() {
        return serverVersionNum;
    }

    /** {@code serverVersion}, {@code serverVersionNum}, {@code databaseSizeBytes}. */
    Map<String, Object> facts() {
        return facts;
    }

    /** Ends the transaction (and so the snapshot) and closes the connection. Never throws. */
    @Override
    public void close() {
        try {
            jdbc.rollback(); // read-only: ends the transaction that held the snapshot
        } catch (SQLException e) {
            LOG.debug("ending the snapshot transaction failed: {}", e.toString());
        }
        try {
            jdbc.close();
        } catch (SQLException e) {
            LOG.debug("closing the JDBC connection failed: {}", e.toString());
        }
    }
}

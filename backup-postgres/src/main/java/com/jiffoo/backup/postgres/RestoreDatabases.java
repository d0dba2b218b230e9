package com.jiffoo.backup.postgres;

import com.jiffoo.backup.RestoreException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The databases on the server a {@link PostgresRestoreTarget} restores to, managed over JDBC from the maintenance
 * database: whether one exists, creating one marked as a restore in progress ({@link RestoreMarker}; with a
 * {@link DatabaseSwap}, a copy of the properties of the database it replaces), dropping one, and dropping those that
 * killed restores of this host left. Errors are {@link RestoreException}s located at the target's description.
 */
final class RestoreDatabases {
    private static final Logger log = LoggerFactory.getLogger(RestoreDatabases.class);

    private final PgConnection connection;
    private final String maintenanceDatabase;
    private final String template;
    private final String owner;
    private final String describe;
    /** The maintenance connection that {@link #inSession} keeps for its thread (opened on first use), or none. */
    private final ThreadLocal<Connection[]> session = new ThreadLocal<>();

    /** A step on a maintenance connection. */
    @FunctionalInterface
    private interface Step<T> {
        T run(Connection c) throws SQLException;
    }

    /**
     * @param connection the database restored into (its name is the target's)
     * @param owner      a new database's owner, or null for the connecting user (or, in a swap, the replaced one's)
     * @param describe   the target's description, for errors
     */
    RestoreDatabases(
            PgConnection connection, String maintenanceDatabase, String template, String owner, String describe) {
        this.connection = connection;
        this.maintenanceDatabase = maintenanceDatabase;
        this.template = template;
        this.owner = owner;
        this.describe = describe;
    }

    /**
     * Runs {@code work} with one maintenance connection for every step it takes on this thread (whether the database
     * exists, the databases killed restores left, {@code CREATE DATABASE}) instead of one connection per step: a
     * restore's preparation is on the way to pg_restore's start, and each connection costs the server a process and
     * an authentication. The connection is opened by the first step that needs one and closed when {@code work}
     * returns.
     */
    void inSession(Runnable work) {
        Connection[] held = new Connection[1];
        session.set(held);
        try {
            work.run();
        } finally {
            session.remove();
            if (held[0] != null) {
                try {
                    held[0].close();
                } catch (SQLException e) {
                    log.debug("closing the maintenance connection failed: {}", e.toString());
                }
            }
        }
    }

    /** Runs {@code step} on this thread's session connection (see {@link #inSession}), else on a new connection. */
    private <T> T onMaintenance(Step<T> step) throws SQLException {
        Connection[] held = session.get();
        if (held == null) {
            try (Connection c = maintenance()) {
                return step.run(c);
            }
        }
        if (held[0] == null) {
            held[0] = maintenance();
        }
        return step.run(held[0]);
    }

    /** The target's description. */
    String describe() {
        return describe;
    }

    /**
     * Whether the target's database exists, not counting one that a killed restore of this host left (marked, its
     * process gone): the next restore drops that first.
     */
    boolean existsUnabandoned() {
        try {
            return onMaintenance(c -> exists(c, connection.database())
                    && RestoreMarker.find(c).stream()
                            .noneMatch(m -> m.database().equals(connection.database()) && m.abandoned()));
        } catch (SQLException e) {
            throw unreachable(connection.withDatabase(maintenanceDatabase), e);
        }
    }

    /** A connection to the maintenance database. */
    Connection maintenance() {
        PgConnection admin = connection.withDatabase(maintenanceDatabase);
        try {
            return admin.openJdbc();
        } catch (SQLException e) {
            throw unreachable(admin, e);
        }
    }

    private RestoreException unreachable(PgConnection c, SQLException e) {
        return new RestoreException(
                "Cannot connect to PostgreSQL at " + c.describe() + ": " + e.getMessage()
                        + ". Check that the server runs and that host, port, user, password and pg_hba.conf are right;"
                        + " nothing was restored.",
                null,
                describe,
                e);
    }

    private static boolean exists(Connection c, String name) throws SQLException {
        try (PreparedStatement s = c.prepareStatement("SELECT 1 FROM pg_database WHERE datname = ?")) {
            s.setString(1, name);
            try (ResultSet r = s.executeQuery()) {
                return r.next();
            }
        }
    }

    /**
     * Creates the database {@code name} from the template, marked as a restore in progress; with a swap, with the
     * owner, encoding, locale, tablespace, connection limit, privileges and settings of the database it replaces.
     */
    void create(String name, DatabaseSwap swap) {
        try {
            onMaintenance(c -> {
                create(c, name, swap);
                return null;
            });
        } catch (SQLException e) {
            throw new RestoreException(
                    "Cannot create the database " + name + " on "
                            + connection.host() + ":" + connection.port() + ": " + e.getMessage() + ". The user "
                            + connection.user() + " needs CREATEDB (and membership in the owner role, if one is set);"
                            + " the template " + template + " must exist."
                            + (swap == null
                                    ? ""
                                    : " Nothing was restored; " + connection.database() + " is unchanged."),
                    null,
                    describe,
                    e);
        }
    }

    private void create(Connection c, String name, DatabaseSwap swap) throws SQLException {
        try (Statement s = c.createStatement()) {
            if (exists(c, name)) {
                throw new RestoreException(
                        "The database " + name + " already exists on "
                                + connection.host() + ":" + connection.port() + ". A restore into a new database never"
                                + " touches an existing one: choose a name that does not exist, drop it first, or restore"
                                + " with existingDatabase(...).",
                        null,
                        describe,
                        null);
            }
            StringBuilder sql = new StringBuilder("CREATE DATABASE ")
                    .append(PostgresRestoreTarget.ident(name))
                    .append(" TEMPLATE ")
                    .append(PostgresRestoreTarget.ident(template));
            String dbOwner = owner != null ? owner : swap != null ? swap.owner() : null;
            if (dbOwner != null) {
                sql.append(" OWNER ").append(PostgresRestoreTarget.ident(dbOwner));
            }
            if (swap != null) {
                sql.append(swap.createOptions());
            }
            s.execute(sql.toString());
            log.info("created database {} on {}:{}", name, connection.host(), connection.port());
            try {
                s.execute("COMMENT ON DATABASE " + PostgresRestoreTarget.ident(name) + " IS "
                        + PostgresRestoreTarget.literal(RestoreMarker.text()));
                if (swap != null) {
                    for (String statement : swap.copyStatements(name)) {
                        s.execute(statement);
                    }
                }
            } catch (SQLException e) {
                dropQuietly(name);
                throw e;
            }
        }
    }

    void requireExisting() {
        try {
            if (!onMaintenance(c -> exists(c, connection.database()))) {
                throw new RestoreException(
                        "The database " + connection.database() + " does not exist on "
                                + connection.host() + ":" + connection.port() + ". Create it first, or restore with"
                                + " newDatabase(...).",
                        null,
                        describe,
                        null);
            }
        } catch (SQLException e) {
            throw unreachable(connection.withDatabase(maintenanceDatabase), e);
        }
    }

    /**
     * Drops the databases that killed restores left, marked {@link RestoreMarker} by a process of this host that is
     * gone; reports (logs) those whose restore may still run. Returns facts naming both; never throws.
     */
    Map<String, Object> dropAbandoned() {
        List<String> dropped = new ArrayList<>();
        List<String> running = new ArrayList<>();
        List<RestoreMarker.Marked> marked;
        try {
            marked = onMaintenance(RestoreMarker::find);
        } catch (SQLException | RestoreException e) {
            log.debug("cannot look for databases left by killed restores: {}", e.toString());
            return Map.of();
        }
        for (RestoreMarker.Marked m : marked) {
            if (m.abandoned() && dropQuietly(m.database())) {
                log.warn(
                        "dropped the database {} that a killed restore left half restored ({})",
                        m.database(),
                        m.marker());
                dropped.add(m.database());
            } else {
                log.warn(
                        "the database {} is being restored or was left half restored by another host ({}); drop it"
                                + " by hand once no restore runs into it",
                        m.database(),
                        m.marker());
                running.add(m.database());
            }
        }
        Map<String, Object> facts = new LinkedHashMap<>();
        if (!dropped.isEmpty()) {
            facts.put("abandonedDatabasesDropped", List.copyOf(dropped));
        }
        if (!running.isEmpty()) {
            facts.put("markedDatabasesLeft", List.copyOf(running));
        }
        return facts;
    }

    /** Drops a database; logs (never throws) when that fails. Returns whether it is gone. */
    boolean dropQuietly(String name) {
        try (Connection c = connection.withDatabase(maintenanceDatabase).openJdbc();
                Statement s = c.createStatement()) {
            try {
                s.execute("DROP DATABASE IF EXISTS " + PostgresRestoreTarget.ident(name) + " WITH (FORCE)");
            } catch (SQLException e) {
                if (!"42601".equals(e.getSQLState())) { // WITH (FORCE) needs PostgreSQL 13
                    throw e;
                }
                s.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = "
                        + PostgresRestoreTarget.literal(name));
                s.execute("DROP DATABASE IF EXISTS " + PostgresRestoreTarget.ident(name));
            }
            log.info("dropped database {} on {}:{}", name, connection.host(), connection.port());
            return true;
        } catch (SQLException e) {
            log.error(
                    "could not drop the partly restored database {} on {}:{}: {}; drop it by hand",
                    name,
                    connection.host(),
                    connection.port(),
                    e.getMessage());
            return false;
        }
    }
}

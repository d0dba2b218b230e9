package com.jiffoo.backup.spring;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A PostgreSQL session-level advisory lock ({@code pg_try_advisory_lock(bigint)}) held on a connection of its own
 * for as long as a job runs: the replicas of an application share its database, so at most one of them holds the lock
 * of a job at a time. The server releases a session lock when the session ends, so a replica that dies (or loses its
 * connection) never leaves the lock held. Not thread-safe: one job's thread takes and releases it; {@link #held()} and {@link #check(int)}
 * may be asked from another thread.
 */
final class AdvisoryLock implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(AdvisoryLock.class);

    private final Connection connection;
    private final long key;
    private final String name;
    private volatile boolean held = true;

    private AdvisoryLock(Connection connection, long key, String name) {
        this.connection = connection;
        this.key = key;
        this.name = name;
    }

    /**
     * The lock's key for {@code name}: the first 8 bytes of SHA-256 of {@code jiffoo-backup:NAME}, so that the same
     * name gives the same key in every replica and names do not collide in practice.
     */
    static long key(String name) {
        try {
            byte[] d = MessageDigest.getInstance("SHA-256")
                    .digest(("jiffoo-backup:" + name).getBytes(StandardCharsets.UTF_8));
            long k = 0;
            for (int i = 0; i < 8; i++) {
                k = (k << 8) | (d[i] & 0xff);
            }
            return k;
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
    }

    /**
     * Tries to take the lock of {@code name} on {@code connection}, which then belongs to the lock (closed by
     * {@link #close()}, or here when the lock is not taken); {@code job} names it in the log.
     *
     * @return the lock, or empty when another session holds it
     * @throws SQLException when the database cannot be asked; the connection is closed
     */
    static Optional<AdvisoryLock> tryTake(Connection connection, String name, String job) throws SQLException {
        long key = key(name);
        boolean taken = false;
        try {
            if (!connection.getAutoCommit()) {
                connection.setAutoCommit(true); // a session lock outlives transactions; none is left open here
            }
            try (PreparedStatement ps = connection.prepareStatement("select pg_try_advisory_lock(?)")) {
                ps.setLong(1, key);
                try (ResultSet rs = ps.executeQuery()) {
                    taken = rs.next() && rs.getBoolean(1);
                }
            }
            return taken ? Optional.of(new AdvisoryLock(connection, key, job)) : Optional.empty();
        } finally {
            if (!taken) {
                connection.close();
            }
        }
    }

    /** The key passed to pg_try_advisory_lock. */
    long key() {
        return key;
    }

    /**
     * Whether the lock is still held: false once the connection was found dead ({@link #check(int)}) or the lock was
     * released.
     */
    boolean held() {
        return held;
    }

    /**
     * Asks the server whether the lock's session is alive; when it is not, the lock no longer counts as held (the
     * server released it with the session) and this says so once.
     *
     * @return {@link #held()} afterwards
     */
    boolean check(int timeoutSeconds) {
        if (!held) {
            return false;
        }
        boolean valid;
        try {
            valid = connection.isValid(timeoutSeconds);
        } catch (SQLException e) {
            valid = false;
        }
        if (!valid && held) {
            held = false;
            log.warn(
                    "lost the database connection that held the advisory lock of the backup job {} (key {}): the"
                            + " server released the lock, so another replica may start {} while this run finishes",
                    name,
                    key,
                    name);
        }
        return held;
    }

    /**
     * Releases the lock and closes its connection. A connection that cannot release it (lost) is aborted, so that a
     * pool never gets back a connection still holding the lock.
     */
    @Override
    public void close() {
        boolean released = false;
        try {
            if (held) {
                try (PreparedStatement ps = connection.prepareStatement("select pg_advisory_unlock(?)")) {
                    ps.setLong(1, key);
                    try (ResultSet rs = ps.executeQuery()) {
                        released = rs.next() && rs.getBoolean(1);
                    }
                }
                if (!released) {
                    log.warn(
                            "the advisory lock of the backup job {} (key {}) was no longer held at its end", name, key);
                }
            }
        } catch (SQLException e) {
            log.warn(
                    "could not release the advisory lock of the backup job {} (key {}): {}; dropping its connection"
                            + " (the server releases the lock with it)",
                    name,
                    key,
                    e.getMessage());
        } finally {
            held = false;
            if (!released) {
                try {
                    connection.abort(Runnable::run);
                } catch (SQLException | RuntimeException e) {
                    log.debug("aborting the lock connection failed: {}", e.toString());
                }
            }
            try {
                connection.close();
            } catch (SQLException e) {
                log.debug("closing the lock connection failed: {}", e.toString());
            }
        }
    }
}

package com.jiffoo.backup.postgres;

import com.jiffoo.backup.ConfigurationException;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Properties;

/**
 * How to reach a PostgreSQL database: host, port, database, user, password, sslmode. Built explicitly or from the
 * standard libpq variables ({@code PGHOST}, {@code PGPORT}, {@code PGDATABASE}, {@code PGUSER}, {@code PGPASSWORD},
 * {@code PGSSLMODE}).
 *
 * <p>The password is a secret: {@link #toString()} and {@link #describe()} never show it, and child processes
 * ({@code pg_dump}, {@code pg_restore}) receive it only through their environment ({@link #childEnvironment()}),
 * never on their command line.
 *
 * <pre>{@code
 * PgConnection db = PgConnection.builder().host("db.internal").database("jiffoo_mall").user("backup")
 *         .password(System.getenv("DB_PASSWORD").toCharArray()).sslMode("require").build();
 * PgConnection fromEnv = PgConnection.fromEnvironment();   // PGHOST, PGPORT, PGDATABASE, PGUSER, ...
 * }</pre>
 *
 * <p>Immutable and thread-safe.
 */
public final class PgConnection {
    private final String host;
    private final int port;
    private final String database;
    private final String user;
    private final char[] password;
    private final String sslMode;

    private PgConnection(Builder b) {
        this.host = b.host;
        this.port = b.port;
        this.database = b.database;
        this.user = b.user;
        this.password = b.password == null ? null : b.password.clone();
        this.sslMode = b.sslMode;
    }

    /** A builder with libpq's defaults: host 127.0.0.1, port 5432, user = the OS user, no password, sslmode prefer. */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * Settings from the standard libpq variables of this process's environment, with libpq's defaults for what is
     * unset (database defaults to the user name, as in libpq).
     */
    public static PgConnection fromEnvironment() {
        return fromEnvironment(System.getenv());
    }

    /** Settings from the given libpq variables (for tests and launchers that build their own environment). */
    public static PgConnection fromEnvironment(Map<String, String> env) {
        Builder b = builder();
        String host = env.get("PGHOST");
        if (host != null && !host.isBlank()) {
            b.host(host);
        }
        String port = env.get("PGPORT");
        if (port != null && !port.isBlank()) {
            try {
                b.port(Integer.parseInt(port.trim()));
            } catch (NumberFormatException e) {
                throw new ConfigurationException("PGPORT is '" + port + "', which is not a port number; set it to"
                        + " the server's port (5432 by default).");
            }
        }
        String user = env.get("PGUSER");
        if (user != null && !user.isBlank()) {
            b.user(user);
        }
        String db = env.get("PGDATABASE");
        b.database(db != null && !db.isBlank() ? db : b.user);
        String pw = env.get("PGPASSWORD");
        if (pw != null && !pw.isEmpty()) {
            b.password(pw.toCharArray());
        }
        String ssl = env.get("PGSSLMODE");
        if (ssl != null && !ssl.isBlank()) {
            b.sslMode(ssl);
        }
        return b.build();
    }

    /** A builder holding these settings. */
    public Builder toBuilder() {
        Builder b = new Builder().host(host).port(port).user(user).sslMode(sslMode);
        b.database = database;
        b.password = password == null ? null : password.clone();
        return b;
    }

    /** The same settings for another database on the same server (e.g. {@code postgres} for CREATE DATABASE). */
    public PgConnection withDatabase(String otherDatabase) {
        return toBuilder().database(otherDatabase).build();
    }

    /** The host name, address or Unix socket directory. */
    public String host() {
        return host;
    }

    /** The port. */
    public int port() {
        return port;
    }

    /** The database name. */
    public String database() {
        return database;
    }

    /** The user (role) name. */
    public String user() {
        return user;
    }

    /** True when a password is set. */
    public boolean hasPassword() {
        return password != null;
    }

    /** The sslmode ({@code disable}, {@code prefer}, {@code require}, {@code verify-ca}, {@code verify-full}). */
    public String sslMode() {
        return sslMode;
    }

    /**
     * The libpq variables a child process ({@code pg_dump}, {@code pg_restore}, {@code psql}) needs to reach this
     * database, including {@code PGPASSWORD} when a password is set. Put them into the child's environment; never
     * on its command line.
     */
    public Map<String, String> childEnvironment() {
        Map<String, String> env = new LinkedHashMap<>();
        env.put("PGHOST", host);
        env.put("PGPORT", Integer.toString(port));
        env.put("PGDATABASE", database);
        env.put("PGUSER", user);
        env.put("PGSSLMODE", sslMode);
        if (password != null) {
            env.put("PGPASSWORD", new String(password));
        }
        return env;
    }

    /**
     * Closes a connection {@link #openJdbc()} opened (null: nothing). A failure to close means the session is gone
     * already: logged at debug, never thrown.
     */
    static void closeQuietly(Connection c) {
        if (c == null) {
            return;
        }
        try {
            c.close();
        } catch (SQLException e) {
            org.slf4j.LoggerFactory.getLogger(PgConnection.class)
                    .debug("closing a connection failed: {}", e.toString());
        }
    }

    /** Opens a JDBC connection (for checks: versions, sizes, row counts). The caller closes it. */
    public Connection openJdbc() throws SQLException {
        Properties p = new Properties();
        p.setProperty("user", user);
        if (password != null) {
            p.setProperty("password", new String(password));
        }
        p.setProperty("sslmode", sslMode);
        p.setProperty("ApplicationName", "jiffoo-backup");
        String h = host.startsWith("/") ? "localhost" : host; // a socket directory: the JDBC driver speaks TCP only
        String url = "jdbc:postgresql://" + bracket(h) + ":" + port + "/" + database;
        // the driver itself, not DriverManager: no scan of the class path for drivers, and no other driver that
        // claims the URL first
        Connection c = Jdbc.DRIVER.connect(url, p);
        if (c == null) {
            throw new SQLException("The PostgreSQL JDBC driver does not accept " + url + "; check DB_HOST.");
        }
        return c;
    }

    /** The driver, made when the first connection opens (so that a command that opens none never loads it). */
    private static final class Jdbc {
        static final java.sql.Driver DRIVER = new org.postgresql.Driver();
    }

    private static String bracket(String h) {
        return h.contains(":") && !h.startsWith("[") ? "[" + h + "]" : h;
    }

    /**
     * {@code text} with every occurrence of the password replaced by {@code ***}: a last line of defence for
     * messages built from a child's output or a driver's error. Package-private: the password never leaves.
     */
    String redact(String text) {
        if (text == null || password == null || password.length == 0) {
            return text;
        }
        return text.replace(new String(password), "***");
    }

    /** {@code user@host:port/database}, without the password: for logs, errors and manifests. */
    public String describe() {
        return user + "@" + host + ":" + port + "/" + database;
    }

    @Override
    public String toString() {
        return "PgConnection{" + describe() + (password != null ? ", password set" : "") + ", sslmode=" + sslMode + "}";
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof PgConnection c
                && host.equals(c.host)
                && port == c.port
                && database.equals(c.database)
                && user.equals(c.user)
                && Arrays.equals(password, c.password)
                && sslMode.equals(c.sslMode);
    }

    @Override
    public int hashCode() {
        return Objects.hash(host, port, database, user, sslMode);
    }

    /** Builds a {@link PgConnection}. Not thread-safe. */
    public static final class Builder {
        private String host = "127.0.0.1";
        private int port = 5432;
        private String database;
        private String user = System.getProperty("user.name");
        private char[] password;
        private String sslMode = "prefer";

        private Builder() {}

        /** The host name, address, or Unix socket directory (for pg_dump; JDBC checks then use localhost). */
        public Builder host(String host) {
            this.host = requireText(host, "host");
            return this;
        }

        /** The port, 1..65535. */
        public Builder port(int port) {
            if (port < 1 || port > 65535) {
                throw new ConfigurationException("The PostgreSQL port must be 1..65535, got " + port + ".");
            }
            this.port = port;
            return this;
        }

        /** The database name. Required (from PGDATABASE or the user name with {@link #fromEnvironment()}). */
        public Builder database(String database) {
            this.database = requireText(database, "database");
            return this;
        }

        /** The user (role). */
        public Builder user(String user) {
            this.user = requireText(user, "user");
            return this;
        }

        /** The password (copied; clear your array afterwards). Null for none (trust, peer, pgpass, certificates). */
        public Builder password(char[] password) {
            this.password = password == null ? null : password.clone();
            return this;
        }

        /** libpq's sslmode: disable, allow, prefer (default), require, verify-ca, verify-full. */
        public Builder sslMode(String sslMode) {
            String m = requireText(sslMode, "sslmode");
            if (!java.util.Set.of("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
                    .contains(m)) {
                throw new ConfigurationException("sslmode '" + m + "' is not one of disable, allow, prefer, require,"
                        + " verify-ca, verify-full.");
            }
            this.sslMode = m;
            return this;
        }

        /** Builds the settings. */
        public PgConnection build() {
            if (database == null) {
                throw new ConfigurationException("No PostgreSQL database named: set database(...) or PGDATABASE.");
            }
            return new PgConnection(this);
        }

        private static String requireText(String v, String what) {
            if (v == null || v.isBlank()) {
                throw new ConfigurationException("The PostgreSQL " + what + " must not be empty.");
            }
            return v;
        }
    }
}

package com.jiffoo.backup.postgres;

import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.HexFormat;
import java.util.Properties;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.containers.PostgreSQLContainer;

/**
 * The real PostgreSQL server the tests use: the one the standard libpq variables name (PGHOST, PGPORT, PGUSER,
 * PGPASSWORD; defaults 127.0.0.1, 5432, the OS user, none), or, when none answers and Docker is present, a
 * Testcontainers PostgreSQL. Tests create their own uniquely named databases ({@link #createDatabase}) and drop them.
 */
public final class PgTestServer {
    private static volatile PgTestServer instance;
    private static final SecureRandom RANDOM = new SecureRandom();

    private final String host;
    private final int port;
    private final String user;
    private final String password;

    private PgTestServer(String host, int port, String user, String password) {
        this.host = host;
        this.port = port;
        this.user = user;
        this.password = password;
    }

    /** The server, found once per JVM. Fails with what to set when no server answers. */
    public static synchronized PgTestServer get() {
        if (instance != null) {
            return instance;
        }
        String host = env("PGHOST", "127.0.0.1");
        if (host.startsWith("/")) {
            host = "127.0.0.1"; // a socket directory: the JDBC driver speaks TCP
        }
        int port = Integer.parseInt(env("PGPORT", "5432"));
        String user = env("PGUSER", System.getProperty("user.name"));
        String password = System.getenv("PGPASSWORD");
        PgTestServer local = new PgTestServer(host, port, user, password);
        SQLException failure;
        try (Connection c = local.connect("postgres")) {
            instance = local;
            return local;
        } catch (SQLException e) {
            failure = e;
        }
        if (dockerAvailable()) {
            PostgreSQLContainer<?> pg = new PostgreSQLContainer<>("postgres:16-alpine");
            pg.start();
            Runtime.getRuntime().addShutdownHook(new Thread(pg::stop));
            instance = new PgTestServer(pg.getHost(), pg.getFirstMappedPort(), pg.getUsername(), pg.getPassword());
            return instance;
        }
        throw new AssertionError(
                "No PostgreSQL server at " + host + ":" + port + " as " + user + " (" + failure.getMessage()
                        + ") and no Docker for Testcontainers. Start one (pg_ctlcluster --skip-systemctl-redirect 15 main start)"
                        + " or set PGHOST, PGPORT, PGUSER, PGPASSWORD; `bash .ci/run` sets up a fresh machine.",
                failure);
    }

    /**
     * Another server the tests start themselves (see {@link ThrowawayCluster}), as {@code user} with
     * {@code password} (null: none); {@link #get()} still names the shared server.
     */
    static PgTestServer at(String host, int port, String user, String password) {
        return new PgTestServer(host, port, user, password);
    }

    private static boolean dockerAvailable() {
        try {
            return DockerClientFactory.instance().isDockerAvailable();
        } catch (RuntimeException | LinkageError e) {
            return false;
        }
    }

    private static String env(String name, String fallback) {
        String v = System.getenv(name);
        return v == null || v.isBlank() ? fallback : v;
    }

    public String host() {
        return host;
    }

    public int port() {
        return port;
    }

    public String user() {
        return user;
    }

    /** The password, or null when the server needs none. */
    public String password() {
        return password;
    }

    public String jdbcUrl(String database) {
        return "jdbc:postgresql://" + host + ":" + port + "/" + database;
    }

    /** A {@link PgConnection} to {@code database} on this server as the test superuser. */
    public PgConnection connection(String database) {
        PgConnection.Builder b = PgConnection.builder()
                .host(host)
                .port(port)
                .user(user)
                .database(database)
                .sslMode("disable");
        if (password != null) {
            b.password(password.toCharArray());
        }
        return b.build();
    }

    public Connection connect(String database) throws SQLException {
        Properties p = new Properties();
        p.setProperty("user", user);
        if (password != null) {
            p.setProperty("password", password);
        }
        return DriverManager.getConnection(jdbcUrl(database), p);
    }

    /** Creates an empty database named {@code jb_<prefix>_<random>} and returns its name. */
    public String createDatabase(String prefix) throws SQLException {
        String name = "jb_" + prefix.toLowerCase(java.util.Locale.ROOT).replaceAll("[^a-z0-9_]", "_") + "_"
                + HexFormat.of().formatHex(randomBytes());
        try (Connection c = connect("postgres");
                Statement s = c.createStatement()) {
            s.execute("CREATE DATABASE " + name + " TEMPLATE template0 ENCODING 'UTF8'");
        }
        return name;
    }

    /** Drops a database if it exists, disconnecting its sessions. */
    public void dropDatabase(String name) throws SQLException {
        try (Connection c = connect("postgres");
                Statement s = c.createStatement()) {
            s.execute("DROP DATABASE IF EXISTS \"" + name.replace("\"", "\"\"") + "\" WITH (FORCE)");
        }
    }

    /** True when a database of that name exists. */
    public boolean databaseExists(String name) throws SQLException {
        try (Connection c = connect("postgres");
                java.sql.PreparedStatement s = c.prepareStatement("SELECT 1 FROM pg_database WHERE datname = ?")) {
            s.setString(1, name);
            try (java.sql.ResultSet r = s.executeQuery()) {
                return r.next();
            }
        }
    }

    private static byte[] randomBytes() {
        byte[] b = new byte[4];
        RANDOM.nextBytes(b);
        return b;
    }
}

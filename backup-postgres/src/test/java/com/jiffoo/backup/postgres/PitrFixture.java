package com.jiffoo.backup.postgres;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.stream.Stream;

/**
 * The set-up the point-in-time recovery tests share (PitrRestoreTest, PitrDrillTest, and through the test jar the
 * command line's PitrDrillIT, PitrEndToEndIT, PitrArchiveIT): a work directory the server's user can pass through, a
 * {@link ThrowawayCluster} archiving its WAL (with {@code cp} into a directory, or with the launcher's
 * {@code wal-push} into a store), a time between two transactions, and a segment switch waited for until archived.
 * When the JVM runs as root the server runs as {@code postgres}: what it writes is given to that user.
 */
public final class PitrFixture {
    private PitrFixture() {}

    /** A new work directory, 0755: the server's user passes through it. */
    public static Path workDirectory(String prefix) throws IOException {
        return Files.createTempDirectory(
                prefix, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwxr-xr-x")));
    }

    /** A new directory {@code dir}, 0700 (a store). */
    public static Path privateDirectory(Path dir) throws IOException {
        return Files.createDirectory(
                dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
    }

    /**
     * A cluster with {@code archive_mode=on} whose {@code archive_command} copies each segment into {@code archive}
     * ({@link ThrowawayCluster#copyInto}); the directory is made and given to the server's user.
     */
    public static ThrowawayCluster archivingInto(Path archive) throws IOException, InterruptedException {
        Files.createDirectories(archive);
        asRoot("chown", "postgres:postgres", archive.toString());
        return ThrowawayCluster.installed("archive_mode=on", "archive_command=" + ThrowawayCluster.copyInto(archive));
    }

    /**
     * A cluster with {@code archive_mode=on} whose {@code archive_command} is
     * {@code LAUNCHER wal-push --store STORE --key-file KEY %p}; the store directory and the key are given to the
     * server's user, who runs it (and {@code wal-fetch}).
     *
     * @param store    the store as the archive_command names it (a {@code %} doubled)
     * @param storeDir the store's directory
     */
    public static ThrowawayCluster archivingWithWalPush(Path launcher, String store, Path storeDir, Path key)
            throws IOException, InterruptedException {
        asRoot("chown", "postgres:postgres", storeDir.toString(), key.toString());
        return ThrowawayCluster.installed(
                "archive_mode=on",
                "archive_command=" + launcher + " wal-push --store " + store + " --key-file " + key + " %p");
    }

    /** The command line's environment for {@code cluster}: its server as {@code postgres}, the store and the key. */
    public static Map<String, String> environment(ThrowawayCluster cluster, Path store, Path key) {
        return Map.of(
                "DB_HOST", "127.0.0.1",
                "DB_PORT", Integer.toString(cluster.port()),
                "DB_USER", "postgres",
                "BACKUP_DIR", store.toString(),
                "ENCRYPTION_KEY_FILE", key.toString());
    }

    /**
     * A time strictly between the transactions before and after the call: {@code now()} of the server, read a second
     * after the one before and a second before the one after.
     */
    public static String timeBetween(ThrowawayCluster cluster) throws SQLException, InterruptedException {
        Thread.sleep(1100);
        String t = query(cluster, "SELECT now()::text");
        Thread.sleep(1100);
        return t;
    }

    /** Switches to a new WAL segment and waits (2 minutes at most) until {@code archived} says the previous one is. */
    public static void switchAndWait(ThrowawayCluster cluster, Predicate<String> archived)
            throws SQLException, InterruptedException {
        String last = query(cluster, "SELECT pg_walfile_name(pg_current_wal_lsn())");
        sql(cluster, "SELECT pg_switch_wal()");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (!archived.test(last)) {
            assertThat(System.nanoTime())
                    .as("segment %s archived; server log:\n%s", last, cluster.log())
                    .isLessThan(deadline);
            Thread.sleep(200);
        }
    }

    /** Whether a segment is in the {@code cp} archive {@code archive}. */
    public static Predicate<String> inArchive(Path archive) {
        return segment -> Files.exists(archive.resolve(segment));
    }

    /** Whether a segment {@code wal-push} archived is committed in the store directory {@code store}. */
    public static Predicate<String> inStore(Path store) {
        return segment -> Files.exists(
                store.resolve("wal/" + segment.substring(0, 16) + "/" + segment + ".zst.gpg.manifest.json"));
    }

    /** Runs {@code statements} in the {@code postgres} database of {@code cluster}. */
    public static void sql(ThrowawayCluster cluster, String... statements) throws SQLException {
        try (Connection c = cluster.connect();
                Statement s = c.createStatement()) {
            for (String q : statements) {
                s.execute(q);
            }
        }
    }

    /** The first column of the first row of {@code q} in the {@code postgres} database of {@code cluster}. */
    public static String query(ThrowawayCluster cluster, String q) throws SQLException {
        try (Connection c = cluster.connect();
                Statement s = c.createStatement();
                ResultSet r = s.executeQuery(q)) {
            r.next();
            return r.getString(1);
        }
    }

    /** Stops {@code cluster} (when it was started) and removes {@code work} as root (the server's files are in it). */
    public static void tearDown(ThrowawayCluster cluster, Path work) throws IOException, InterruptedException {
        if (cluster != null) {
            cluster.close();
        }
        asRoot("rm", "-rf", work.toString());
    }

    /** Requires the scratch parent {@code scratch} to be empty: no drill left a scratch directory. */
    public static void assertNoScratchLeft(Path scratch) throws IOException {
        try (Stream<Path> left = Files.list(scratch)) {
            assertThat(left.toList()).as("no scratch directory is left").isEmpty();
        }
    }

    /** Runs a command (as this JVM's user: root in the test containers) and requires it to succeed. */
    public static void asRoot(String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as("%s: %s", List.of(cmd), out).isZero();
    }
}

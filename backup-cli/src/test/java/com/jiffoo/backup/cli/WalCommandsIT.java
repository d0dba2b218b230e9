package com.jiffoo.backup.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.jiffoo.backup.postgres.ThrowawayCluster;
import com.jiffoo.backup.testutil.TestKeys;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code wal-push} as the {@code archive_command} of a real PostgreSQL 16 cluster, run through the launcher by the
 * server itself, and {@code wal-fetch} of what it archived, with the exit codes PostgreSQL acts on.
 */
class WalCommandsIT {
    @TempDir
    Path tmp;

    @Test
    void theServerArchivesThroughWalPushAndWalFetchGivesBackEverySegment() throws Exception {
        Path dir = Files.createTempDirectory("jiffoo-wal-it-");
        try {
            Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
            Path store = Files.createDirectory(dir.resolve("store"));
            Files.setPosixFilePermissions(store, PosixFilePermissions.fromString("rwx------"));
            Path key = TestKeys.keyFile(dir, "backup.key");
            serverOwns(store, key); // the server runs archive_command as its own user
            Path launcher = Jar.path().resolveSibling("jiffoo-backup");
            String archiveCommand = launcher + " wal-push --store file:" + store + " --key-file " + key + " %p";
            List<String> archived = new ArrayList<>();
            try (ThrowawayCluster pg = ThrowawayCluster.withArchiving(archiveCommand, "wal_keep_size=1GB");
                    Connection c = pg.connect();
                    Statement st = c.createStatement()) {
                st.execute("create table orders (id int primary key, note text)");
                st.execute("insert into orders select g, md5(g::text) from generate_series(1, 50000) g");
                st.execute("select pg_switch_wal()");
                st.execute("insert into orders select g, 'x' from generate_series(50001, 60000) g");
                st.execute("select pg_switch_wal()");
                awaitArchived(st, pg, 2);

                try (Stream<Path> files = Files.walk(store.resolve("wal"))) {
                    files.map(p -> p.getFileName().toString())
                            .filter(n -> n.matches("[0-9A-F]{24}\\.zst\\.gpg\\.manifest\\.json"))
                            .map(n -> n.substring(0, 24))
                            .sorted()
                            .forEach(archived::add);
                }
                assertThat(archived).hasSizeGreaterThanOrEqualTo(2);
                // each manifest names the cluster (read from global/pg_control where the server ran the command)
                String cluster;
                try (ResultSet r = st.executeQuery("select system_identifier from pg_control_system()")) {
                    r.next();
                    cluster = Long.toUnsignedString(r.getLong(1));
                }
                String first = archived.get(0);
                assertThat(Files.readString(store.resolve(
                                "wal/" + first.substring(0, 16) + "/" + first + ".zst.gpg.manifest.json")))
                        .contains("\"systemIdentifier\" : \"" + cluster + "\"");
                Path pgWal = pg.dataDirectory().resolve("pg_wal");
                for (String segment : archived) {
                    Path dest = tmp.resolve("RECOVERYXLOG");
                    Jar.Run fetched = walFetch(store, key, segment, dest);
                    assertThat(fetched.exitCode()).as(fetched.toString()).isZero();
                    assertThat(Files.mismatch(dest, pgWal.resolve(segment)))
                            .as(segment)
                            .isEqualTo(-1L);
                    Files.delete(dest);
                }

                // bounded memory: a 16 MiB segment through push and fetch with a 12 MiB heap
                Path small = Files.createDirectory(tmp.resolve("small-heap-store"));
                Map<String, String> smallHeap = Map.of("JAVA_OPTS", "-Xmx12m");
                Jar.Run pushed = Jar.run(
                        tmp,
                        smallHeap,
                        "wal-push",
                        "--store",
                        "file:" + small,
                        "--key-file",
                        key.toString(),
                        pgWal.resolve(archived.get(0)).toString());
                assertThat(pushed.exitCode()).as(pushed.toString()).isZero();
                Path back = tmp.resolve("back");
                Jar.Run fetchedBack = Jar.run(
                        tmp,
                        smallHeap,
                        "wal-fetch",
                        "--store",
                        "file:" + small,
                        "--key-file",
                        key.toString(),
                        archived.get(0),
                        back.toString());
                assertThat(fetchedBack.exitCode()).as(fetchedBack.toString()).isZero();
                assertThat(Files.mismatch(back, pgWal.resolve(archived.get(0)))).isEqualTo(-1L);

                // the same segment pushed again by hand: already archived, exit 0
                Jar.Run again = Jar.run(
                        tmp,
                        Map.of(),
                        "wal-push",
                        "--store",
                        "file:" + store,
                        "--key-file",
                        key.toString(),
                        pgWal.resolve(archived.get(0)).toString());
                assertThat(again.exitCode()).as(again.toString()).isZero();
            }

            Path dest = tmp.resolve("RECOVERYXLOG");
            for (String missing : new String[] {"0000000100000000000000FE", "00000002.history"}) {
                Jar.Run notFound = walFetch(store, key, missing, dest);
                assertThat(notFound.exitCode()).as(notFound.toString()).isEqualTo(1);
                assertThat(dest).doesNotExist();
            }
        } finally {
            deleteTree(dir);
        }
    }

    @Test
    void walFetchAbortsRecoveryWhenTheStoreIsUnreachableOrMisconfigured() throws Exception {
        Path key = TestKeys.keyFile(tmp, "backup.key");
        int closed;
        try (ServerSocket s = new ServerSocket(0)) {
            closed = s.getLocalPort();
        }
        Path dest = tmp.resolve("RECOVERYXLOG");
        Jar.Run unreachable = Jar.run(
                tmp,
                Map.of("AWS_ACCESS_KEY_ID", "AKIAWALTEST", "AWS_SECRET_ACCESS_KEY", "wal-test-secret-1234"),
                "wal-fetch",
                "--store",
                "s3://jiffoo-wal/prod?endpoint=http://127.0.0.1:" + closed + "&region=us-east-1",
                "--key-file",
                key.toString(),
                "000000010000000000000003",
                dest.toString());
        assertThat(unreachable.exitCode()).as(unreachable.toString()).isGreaterThan(125);
        assertThat(unreachable.stderr()).contains("wal-fetch: error:").doesNotContain("wal-test-secret-1234");
        assertThat(dest).doesNotExist();

        Jar.Run noStore = Jar.run(
                tmp,
                Map.of(),
                "wal-fetch",
                "--store",
                "file:" + tmp.resolve("missing"),
                "--key-file",
                key.toString(),
                "00000002.history",
                dest.toString());
        assertThat(noStore.exitCode()).as(noStore.toString()).isGreaterThan(125);

        Jar.Run usage = Jar.run(tmp, Map.of(), "wal-fetch", "--store", "file:" + tmp);
        assertThat(usage.exitCode()).as(usage.toString()).isGreaterThan(125);

        Jar.Run pushNoKey = Jar.run(tmp, Map.of(), "wal-push", "--store", "file:" + tmp, "000000010000000000000003");
        assertThat(pushNoKey.exitCode()).as(pushNoKey.toString()).isEqualTo(2);
        assertThat(pushNoKey.stderr().strip().lines()).hasSize(1);
    }

    /** {@code wal-fetch} as restore_command runs it: options first, then %f and %p. */
    private Jar.Run walFetch(Path store, Path key, String name, Path dest) {
        return Jar.run(
                tmp,
                Map.of(),
                "wal-fetch",
                "--store",
                "file:" + store,
                "--key-file",
                key.toString(),
                name,
                dest.toString());
    }

    private static void awaitArchived(Statement st, ThrowawayCluster pg, int count) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (System.nanoTime() < deadline) {
            try (ResultSet r = st.executeQuery("select archived_count, failed_count from pg_stat_archiver")) {
                r.next();
                assertThat(r.getLong(2))
                        .as("archive failures; server log:\n%s", pg.log())
                        .isZero();
                if (r.getLong(1) >= count) {
                    return;
                }
            }
            Thread.sleep(250);
        }
        throw new AssertionError("fewer than " + count + " files archived in 120 s; server log:\n" + pg.log());
    }

    private static void serverOwns(Path... paths) throws IOException, InterruptedException {
        if (!"root".equals(System.getProperty("user.name"))) {
            return;
        }
        for (Path p : paths) {
            Process chown = new ProcessBuilder("chown", "postgres:postgres", p.toString())
                    .inheritIO()
                    .start();
            assertThat(chown.waitFor()).isZero();
        }
    }

    private static void deleteTree(Path dir) throws IOException {
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}

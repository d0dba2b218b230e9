package com.jiffoo.backup.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.jiffoo.backup.postgres.ThrowawayCluster;
import com.jiffoo.backup.testutil.TestKeys;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Asynchronous archiving on a real PostgreSQL 16 cluster: {@code wal-uploader} runs beside the server as its user,
 * {@code archive_command} is {@code wal-push --spool}; the uploader is killed with SIGKILL (the server goes on archiving
 * synchronously, nothing half-visible), then the store goes away (the backlog grows and shows, nothing is lost) and
 * comes back (the archive catches up).
 */
class WalUploaderIT {
    private static final boolean ROOT = "root".equals(System.getProperty("user.name"));

    @TempDir
    Path tmp;

    /** The WAL files {@link #assertEveryArchivedFileFetches} fetched already (one JVM start each). */
    private final Set<String> fetched = new HashSet<>();

    @Test
    void asyncArchivingSurvivesAKilledUploaderAndAStoreOutage() throws Exception {
        Path dir = Files.createTempDirectory("jiffoo-wal-async-it-");
        try {
            Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
            Path store = Files.createDirectory(dir.resolve("store"));
            Path spool = Files.createDirectory(dir.resolve("spool"));
            Files.setPosixFilePermissions(store, PosixFilePermissions.fromString("rwx------"));
            Files.setPosixFilePermissions(spool, PosixFilePermissions.fromString("rwx------"));
            Path key = TestKeys.keyFile(dir, "backup.key");
            ThrowawayCluster.serverOwns(store, spool, key);
            Path launcher = Jar.path().resolveSibling("jiffoo-backup");
            List<String> storeArgs = List.of("--store", "file:" + store, "--key-file", key.toString());
            String archiveCommand = launcher + " wal-push --spool " + spool + " " + String.join(" ", storeArgs) + " %p";
            try (ThrowawayCluster pg = ThrowawayCluster.withArchiving(archiveCommand, "wal_keep_size=1GB");
                    Connection c = pg.connect();
                    Statement st = c.createStatement()) {
                List<String> uploaderCommand = new ArrayList<>(asServerUser(
                        launcher.toString(),
                        "wal-uploader",
                        "--pgdata",
                        pg.dataDirectory().toString(),
                        "--spool",
                        spool.toString()));
                uploaderCommand.addAll(storeArgs);
                Jar.Started uploader = Jar.start(tmp, Map.of(), uploaderCommand);
                awaitFile(spool.resolve("uploader.pid"), uploader);

                st.execute("create table orders (id int primary key, note text)");
                long base = archived(st);
                segments(st, 4, 0);
                awaitArchived(st, pg, base + 4);
                assertThat(failed(st))
                        .as("archive failures with the uploader running")
                        .isZero();
                // the uploader archived them: its answers were taken (and cleaned once done)
                assertThat(Files.readString(spool.resolve("cluster")).trim()).isNotEmpty();

                // SIGKILL: the server goes on, wal-push pushing synchronously; nothing half-visible in the store
                uploader.process().destroyForcibly();
                uploader.process().waitFor(30, TimeUnit.SECONDS);
                long afterKill = archived(st);
                segments(st, 2, 100_000);
                awaitArchived(st, pg, afterKill + 2);
                assertEveryArchivedFileFetches(store, key, pg);

                // the store goes away: a file where its directory was
                Jar.Started again = Jar.start(tmp, Map.of(), uploaderCommand);
                awaitFile(spool.resolve("uploader.pid"), again);
                Path away = dir.resolve("store-away");
                Files.move(store, away);
                Files.writeString(store, "not a directory");
                long beforeOutage = archived(st);
                segments(st, 3, 200_000);
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
                while (readyFiles(pg) < 3 && System.nanoTime() < deadline) {
                    Thread.sleep(200);
                }
                assertThat(readyFiles(pg))
                        .as("backlog visible in archive_status")
                        .isGreaterThanOrEqualTo(3);
                assertThat(archived(st)).isEqualTo(beforeOutage);
                deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
                while (!hasError(spool) && System.nanoTime() < deadline) {
                    Thread.sleep(200);
                }
                try (Stream<Path> s = Files.list(spool)) {
                    assertThat(s.map(p -> p.getFileName().toString()))
                            .as("uploader's log:\n%s", Files.readString(again.err()))
                            .anyMatch(n -> n.endsWith(".error"));
                }
                // back: it catches up, nothing lost
                Files.delete(store);
                Files.move(away, store);
                awaitArchived(st, pg, beforeOutage + 3);
                deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
                while (readyFiles(pg) > 0 && System.nanoTime() < deadline) {
                    Thread.sleep(200);
                }
                assertThat(readyFiles(pg)).isZero();
                assertEveryArchivedFileFetches(store, key, pg);
                again.process().destroy(); // SIGTERM: a clean stop
                assertThat(again.process().waitFor(60, TimeUnit.SECONDS)).isTrue();
                assertThat(spool.resolve("uploader.pid")).doesNotExist();
            }
        } finally {
            ThrowawayCluster.deleteTree(dir);
        }
    }

    /**
     * Every committed WAL object in the store fetches back equal to the server's copy; no manifest without data. A file
     * fetched by an earlier call is not fetched again: a committed object is never rewritten.
     */
    private void assertEveryArchivedFileFetches(Path store, Path key, ThrowawayCluster pg) throws Exception {
        List<String> names = new ArrayList<>();
        try (Stream<Path> files = Files.walk(store.resolve("wal"))) {
            files.map(p -> p.getFileName().toString())
                    .filter(n -> n.matches("[0-9A-F]{24}\\.zst\\.gpg\\.manifest\\.json"))
                    .map(n -> n.substring(0, 24))
                    .sorted()
                    .forEach(names::add);
        }
        assertThat(names).isNotEmpty();
        assertThat(names).as("committed objects stay").containsAll(fetched);
        for (String name : names) {
            if (!fetched.add(name)) {
                continue;
            }
            Path dest = tmp.resolve("RECOVERYXLOG");
            Jar.Run fetched = Jar.run(
                    tmp,
                    Map.of(),
                    "wal-fetch",
                    "--store",
                    "file:" + store,
                    "--key-file",
                    key.toString(),
                    name,
                    dest.toString());
            assertThat(fetched.exitCode()).as(fetched.toString()).isZero();
            Path original = pg.dataDirectory().resolve("pg_wal").resolve(name);
            if (Files.exists(original)) {
                assertThat(Files.mismatch(dest, original)).as(name).isEqualTo(-1L);
            }
            Files.delete(dest);
        }
    }

    private static void segments(Statement st, int n, int from) throws Exception {
        for (int i = 0; i < n; i++) {
            int lo = from + i * 10_000 + 1;
            st.execute("insert into orders select g, md5(g::text) from generate_series(" + lo + ", " + (lo + 9_999)
                    + ") g");
            st.execute("select pg_switch_wal()");
        }
    }

    private static boolean hasError(Path spool) throws IOException {
        try (Stream<Path> s = Files.list(spool)) {
            return s.anyMatch(p -> p.toString().endsWith(".error"));
        }
    }

    private static long archived(Statement st) throws Exception {
        try (ResultSet r = st.executeQuery("select archived_count from pg_stat_archiver")) {
            r.next();
            return r.getLong(1);
        }
    }

    private static long failed(Statement st) throws Exception {
        try (ResultSet r = st.executeQuery("select failed_count from pg_stat_archiver")) {
            r.next();
            return r.getLong(1);
        }
    }

    private static long readyFiles(ThrowawayCluster pg) throws IOException {
        try (Stream<Path> s = Files.list(pg.dataDirectory().resolve("pg_wal/archive_status"))) {
            return s.filter(p -> p.toString().endsWith(".ready")).count();
        }
    }

    private static void awaitArchived(Statement st, ThrowawayCluster pg, long count) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(180);
        while (System.nanoTime() < deadline) {
            if (archived(st) >= count) {
                return;
            }
            Thread.sleep(200);
        }
        throw new AssertionError("fewer than " + count + " files archived in 180 s; server log:\n" + pg.log());
    }

    private static void awaitFile(Path file, Jar.Started process) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        String pid = Long.toString(process.process().pid()); // setpriv and the launcher exec: the JVM's pid
        while (!(Files.exists(file) && Files.readString(file).trim().equals(pid))) {
            if (!process.process().isAlive()) {
                throw new AssertionError("the uploader exited: " + process.await());
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError(file + " did not name " + pid + " in 60 s");
            }
            Thread.sleep(50);
        }
    }

    private static List<String> asServerUser(String... cmd) {
        List<String> all = new ArrayList<>();
        if (ROOT) {
            all.addAll(List.of("setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--"));
        }
        all.addAll(List.of(cmd));
        return all;
    }
}

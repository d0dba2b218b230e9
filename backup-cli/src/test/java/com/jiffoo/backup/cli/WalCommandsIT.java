package com.jiffoo.backup.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.jiffoo.backup.postgres.PitrRestore;
import com.jiffoo.backup.postgres.ThrowawayCluster;
import com.jiffoo.backup.testutil.TestKeys;
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
        Archive a = archive("jiffoo-wal-it-");
        Path dir = a.dir();
        try {
            Path store = a.store();
            Path key = a.key();
            String archiveCommand = a.archiveCommand();
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

                // with a spool: the next archived segment is read ahead, unless restore pitr's trial asks for none
                for (String readAhead : new String[] {"0", null}) {
                    Path spool = Files.createDirectories(tmp.resolve("spool-" + readAhead));
                    Path dest = tmp.resolve("RECOVERYXLOG");
                    Jar.Run fetched = Jar.run(
                            tmp,
                            readAhead == null ? Map.of() : Map.of(PitrRestore.TRIAL_READ_AHEAD_VARIABLE, readAhead),
                            "wal-fetch",
                            "--store",
                            "file:" + store,
                            "--key-file",
                            key.toString(),
                            "--spool",
                            spool.toString(),
                            "--system-id",
                            cluster,
                            first,
                            dest.toString());
                    assertThat(fetched.exitCode()).as(fetched.toString()).isZero();
                    assertThat(Files.mismatch(dest, pgWal.resolve(first))).isEqualTo(-1L);
                    Files.delete(dest);
                    boolean next = Files.exists(spool.resolve(archived.get(1)));
                    assertThat(next)
                            .as("read ahead with %s=%s", PitrRestore.TRIAL_READ_AHEAD_VARIABLE, readAhead)
                            .isEqualTo(readAhead == null);
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
            ThrowawayCluster.deleteTree(dir);
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

    /**
     * {@code wal-verify} and the monitor count only WAL files whose manifest is authenticated, names that very file
     * and belongs to the base backup's cluster: a segment deleted from the store is not hidden by another segment's
     * signed manifest copied under its name ({@code cp}), by that copy edited to name it ({@code sed}), nor by the
     * same-named segment of another cluster pushed with {@code wal-push}.
     */
    @Test
    void walVerifyAndTheMonitorCountOnlyAuthenticatedWalOfTheBaseBackupsCluster() throws Exception {
        Archive a = archive("jiffoo-wal-verify-it-");
        Path dir = a.dir();
        try {
            Path store = a.store();
            Path key = a.key();
            Path launcher = Jar.path().resolveSibling("jiffoo-backup");
            String archiveCommand = a.archiveCommand();
            try (ThrowawayCluster pg = ThrowawayCluster.installed(
                            "wal_level=replica",
                            "archive_mode=on",
                            "archive_command=" + archiveCommand,
                            "wal_keep_size=1GB");
                    Connection c = pg.connect();
                    Statement st = c.createStatement()) {
                Map<String, String> env = Map.of(
                        "DB_HOST", "127.0.0.1",
                        "DB_PORT", Integer.toString(pg.port()),
                        "DB_USER", "postgres",
                        "BACKUP_DIR", store.toString(),
                        "ENCRYPTION_KEY_FILE", key.toString());
                st.execute("create table orders (id int primary key, note text)");
                Jar.Run base = Jar.run(dir, env, "backup", "base");
                assertThat(base.exitCode()).as(base.toString()).isZero();
                List<String> segments = new ArrayList<>();
                for (int i = 0; i < 4; i++) {
                    st.execute("insert into orders values (" + i + ", 'x')");
                    try (ResultSet r = st.executeQuery("select pg_walfile_name(pg_switch_wal())")) {
                        r.next();
                        segments.add(r.getString(1));
                    }
                }
                String newest = segments.get(segments.size() - 1);
                Path newestManifest =
                        store.resolve("wal/" + newest.substring(0, 16) + "/" + newest + ".zst.gpg.manifest.json");
                for (int i = 0; i < 600 && !Files.exists(newestManifest); i++) {
                    Thread.sleep(200);
                }
                assertThat(newestManifest).as(pg.log()).exists();
                Jar.Run ok = Jar.run(dir, env, "wal-verify", "--json");
                assertThat(ok.exitCode()).as(ok.toString()).isZero();
                assertThat(ok.json().get("rejected")).isEmpty();
                String cluster = ok.json().get("systemIdentifier").asText();
                assertThat(cluster).matches("[0-9]+");
                Jar.Run deep = Jar.run(dir, env, "wal-verify", "--deep");
                assertThat(deep.exitCode()).as(deep.toString()).isZero();
                assertThat(deep.stdout()).contains("manifests, signatures and data checked");

                // the segment before the newest goes; the newest one's signed manifest is copied under its name
                String lost = segments.get(segments.size() - 2);
                String other = segments.get(segments.size() - 1);
                Path folder = store.resolve("wal/" + lost.substring(0, 16));
                shell("rm " + folder + "/" + lost + ".zst.gpg*");
                Jar.Run gap = Jar.run(dir, env, "wal-verify");
                assertThat(gap.exitCode()).as(gap.toString()).isEqualTo(5);
                assertThat(gap.stdout()).contains("MISSING on timeline 1: " + lost + " (1 segment)");
                shell("cd " + folder + " && for s in '' .manifest.json .manifest.json.sig; do cp " + other
                        + ".zst.gpg$s " + lost + ".zst.gpg$s; done");
                Jar.Run copied = Jar.run(dir, env, "wal-verify");
                assertThat(copied.exitCode()).as(copied.toString()).isEqualTo(5);
                assertThat(copied.stdout())
                        .contains("REJECTED " + lost + " (not counted)")
                        .contains("describes another object")
                        .contains("MISSING on timeline 1: " + lost + " (1 segment)");

                // the copy edited to name the lost segment: its signature no longer checks out
                shell("sed -i s/" + other + "/" + lost + "/g " + folder + "/" + lost + ".zst.gpg.manifest.json");
                Jar.Run edited = Jar.run(dir, env, "wal-verify", "--json");
                assertThat(edited.exitCode()).as(edited.toString()).isEqualTo(5);
                assertThat(edited.json().get("rejected").get(0).get("name").asText())
                        .isEqualTo(lost);
                assertThat(edited.json().get("rejected").get(0).get("reason").asText())
                        .contains("is not authentic");
                assertThat(edited.json().get("gaps").get(0).get("first").asText())
                        .isEqualTo(lost);

                Jar.Run monitor = Jar.run(dir, env, "monitor", "--kind", "base", "--freshness-only", "--wal");
                assertThat(monitor.exitCode()).as(monitor.toString()).isEqualTo(MonitorCommand.EXIT_CRITICAL);
                assertThat(monitor.stdout())
                        .contains("wal: CRITICAL")
                        .contains("the WAL file " + lost + " is not counted");

                // the same name from another cluster, archived with its key by wal-push: reported, not counted
                shell("rm " + folder + "/" + lost + ".zst.gpg*");
                try (ThrowawayCluster stranger = ThrowawayCluster.installed("wal_keep_size=1GB");
                        Connection sc = stranger.connect();
                        Statement sst = sc.createStatement()) {
                    Path strangerWal = stranger.dataDirectory().resolve("pg_wal");
                    for (int i = 0; i < 100 && !Files.exists(strangerWal.resolve(lost)); i++) {
                        sst.execute("create table if not exists t (i int); insert into t values (" + i + ")");
                        sst.execute("select pg_switch_wal()");
                    }
                    assertThat(strangerWal.resolve(lost)).exists();
                    // that cluster runs with archive_mode off: backup base refuses it unless told
                    Path otherStore = Files.createDirectory(dir.resolve("other-store"));
                    Map<String, String> strangerEnv = Map.of(
                            "DB_HOST", "127.0.0.1",
                            "DB_PORT", Integer.toString(stranger.port()),
                            "DB_USER", "postgres",
                            "BACKUP_DIR", otherStore.toString(),
                            "ENCRYPTION_KEY_FILE", key.toString());
                    Jar.Run refused = Jar.run(dir, strangerEnv, "backup", "base");
                    assertThat(refused.exitCode()).as(refused.toString()).isEqualTo(2);
                    assertThat(refused.stderr()).contains("archive_mode is off").contains("--allow-no-archive");
                    try (Stream<Path> stored = Files.walk(otherStore)) {
                        assertThat(stored.filter(Files::isRegularFile)).isEmpty();
                    }
                    Jar.Run allowed = Jar.run(dir, strangerEnv, "backup", "base", "--allow-no-archive", "--json");
                    assertThat(allowed.exitCode()).as(allowed.toString()).isZero();
                    try (Stream<Path> stored = Files.walk(otherStore)) {
                        Path manifest = stored.filter(p -> p.toString().endsWith(".manifest.json"))
                                .findFirst()
                                .orElseThrow();
                        assertThat(Files.readString(manifest)).contains("\"archiveMode\" : \"off\"");
                    }
                    Jar.Run push = Jar.run(
                            dir,
                            Map.of(),
                            "wal-push",
                            "--store",
                            "file:" + store,
                            "--key-file",
                            key.toString(),
                            strangerWal.resolve(lost).toString());
                    assertThat(push.exitCode()).as(push.toString()).isZero();
                }
                Jar.Run foreign = Jar.run(dir, env, "wal-verify");
                assertThat(foreign.exitCode()).as(foreign.toString()).isEqualTo(5);
                assertThat(foreign.stdout())
                        .contains("REJECTED " + lost)
                        .contains("not to " + cluster)
                        .contains("MISSING on timeline 1: " + lost);

                // the cluster's own copy pushed back: continuous again
                shell("rm " + folder + "/" + lost + ".zst.gpg*");
                Jar.Run back = Jar.run(
                        dir,
                        Map.of(),
                        "wal-push",
                        "--store",
                        "file:" + store,
                        "--key-file",
                        key.toString(),
                        pg.dataDirectory().resolve("pg_wal").resolve(lost).toString());
                assertThat(back.exitCode()).as(back.toString()).isZero();
                Jar.Run healed = Jar.run(dir, env, "wal-verify");
                assertThat(healed.exitCode()).as(healed.toString()).isZero();

                // a restore whose restore_command reads an unmounted local store (an empty mount point): wal-fetch
                // aborts (128) instead of answering "not found", so recovery stops with an error, never promotes
                Path mountPoint = Files.createDirectory(dir.resolve("mnt"));
                Path restored = dir.resolve("restored");
                String unmounted = launcher + " wal-fetch --store file:" + mountPoint + " --key-file " + key + " %f %p";
                Jar.Run fetch = Jar.run(
                        dir,
                        Map.of(),
                        "wal-fetch",
                        "--store",
                        "file:" + mountPoint,
                        "--key-file",
                        key.toString(),
                        segments.get(0),
                        dir.resolve("RECOVERYXLOG").toString());
                assertThat(fetch.exitCode()).as(fetch.toString()).isEqualTo(128);
                assertThat(fetch.stderr()).contains("unmounted");
                try {
                    Jar.Run r = Jar.run(
                            dir,
                            env,
                            "restore",
                            "pitr",
                            "--pgdata",
                            restored.toString(),
                            "--latest",
                            "--restore-command",
                            unmounted,
                            "--start",
                            "--port",
                            Integer.toString(PitrIT.freePort()));
                    // the restore_command is tried as the server would run it, before anything is extracted: the
                    // unmounted store is an error there (exit 2), never "not found", and no server is started
                    assertThat(r.exitCode()).as(r.toString()).isEqualTo(2);
                    assertThat(r.stderr()).contains("unmounted");
                    assertThat(restored.resolve("PG_VERSION"))
                            .as("nothing extracted: " + r)
                            .doesNotExist();
                    try (Connection probe = pg.connect()) {
                        assertThat(probe.isValid(1)).isTrue(); // the source cluster is untouched
                    }
                } finally {
                    PitrIT.stop(restored);
                }
            }
        } finally {
            ThrowawayCluster.deleteTree(dir);
        }
    }

    private void shell(String script) {
        Jar.Run r = Jar.exec(tmp, Map.of(), List.of("sh", "-c", script));
        assertThat(r.exitCode()).as(r.toString()).isZero();
    }

    /**
     * A temporary directory (open to the server's user) with a local store and a key file owned by that user, and the
     * archive_command that pushes into it through the launcher.
     */
    private record Archive(Path dir, Path store, Path key, String archiveCommand) {}

    private static Archive archive(String prefix) throws Exception {
        Path dir = Files.createTempDirectory(prefix);
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path store = Files.createDirectory(dir.resolve("store"));
        Files.setPosixFilePermissions(store, PosixFilePermissions.fromString("rwx------"));
        Path key = TestKeys.keyFile(dir, "backup.key");
        ThrowawayCluster.serverOwns(store, key); // the server runs archive_command as its own user
        Path launcher = Jar.path().resolveSibling("jiffoo-backup");
        return new Archive(
                dir, store, key, launcher + " wal-push --store file:" + store + " --key-file " + key + " %p");
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
}

package com.jiffoo.backup.cli;

import static com.jiffoo.backup.cli.PitrIT.freePort;
import static com.jiffoo.backup.cli.PitrIT.root;
import static com.jiffoo.backup.cli.PitrIT.sql;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.jiffoo.backup.postgres.ThrowawayCluster;
import com.jiffoo.backup.testutil.TestKeys;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * {@code wal-verify} across a real timeline switch: a server archives through {@code wal-push}, {@code backup base},
 * then {@code restore pitr --latest --start --keep-archiving} promotes a copy to timeline 2, which archives its
 * history file and its segments into the same store. The check follows the switch through the (encrypted) history
 * file; a deleted timeline 2 segment (the one holding the switch point) is a gap on timeline 2.
 */
class WalTimelineIT {
    @Test
    void walVerifyFollowsAPromotionToTimelineTwo() throws Exception {
        Path work = Files.createTempDirectory(
                "jiffoo-wal-tl-", PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwxr-xr-x")));
        Path store = Files.createDirectory(
                work.resolve("store"),
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        Path key = TestKeys.keyFile(work, "backup.key");
        root("chown", "postgres:postgres", store.toString(), key.toString());
        String push = Jar.path().resolveSibling("jiffoo-backup") + " wal-push --store file:" + store + " --key-file "
                + key + " %p";
        Path copy = work.resolve("copy");
        try (ThrowawayCluster pg = ThrowawayCluster.installed("archive_mode=on", "archive_command=" + push)) {
            Map<String, String> env = Map.of(
                    "DB_HOST", "127.0.0.1",
                    "DB_PORT", Integer.toString(pg.port()),
                    "DB_USER", "postgres",
                    "BACKUP_DIR", store.toString(),
                    "ENCRYPTION_KEY_FILE", key.toString());
            // in postgresql.auto.conf, so that the base backup and the promoted copy archive the same way
            sql(
                    pg,
                    "ALTER SYSTEM SET archive_mode = 'on'",
                    "ALTER SYSTEM SET archive_command = '" + push + "'",
                    "CREATE TABLE orders (id int)");
            Jar.Run base = Jar.run(work, env, "backup", "base");
            assertThat(base.exitCode()).as(base.toString()).isZero();
            sql(pg, "INSERT INTO orders VALUES (1)");
            Thread.sleep(1100);
            String t0 = PitrIT.query(pg, "SELECT now()::text");
            Thread.sleep(1100);
            sql(pg, "INSERT INTO orders VALUES (10)");
            switchAndWait(pg.port(), store);

            Jar.Run one = Jar.run(work, env, "wal-verify", "--json");
            assertThat(one.exitCode()).as(one.toString()).isZero();
            assertThat(one.json().get("timelines").toString()).isEqualTo("[1]");

            int port = freePort();
            try {
                Jar.Run restore = Jar.run(
                        work,
                        env,
                        "restore",
                        "pitr",
                        "--pgdata",
                        copy.toString(),
                        "--latest",
                        "--keep-archiving",
                        "--start",
                        "--port",
                        Integer.toString(port));
                assertThat(restore.exitCode()).as(restore.toString()).isZero();
                String t2;
                try (Connection c = connect(port);
                        Statement s = c.createStatement()) {
                    s.execute("INSERT INTO orders VALUES (2)");
                    Thread.sleep(1100);
                    try (ResultSet r = s.executeQuery("SELECT now()::text")) {
                        r.next();
                        t2 = r.getString(1);
                    }
                    Thread.sleep(1100);
                }
                String firstOnTwo = switchAndWait(port, store);
                assertThat(firstOnTwo).startsWith("00000002");
                try (Connection c = connect(port);
                        Statement s = c.createStatement()) {
                    s.execute("INSERT INTO orders VALUES (3)");
                }
                String onTwo = switchAndWait(port, store);

                Jar.Run two = Jar.run(work, env, "wal-verify", "--json");
                assertThat(two.exitCode()).as(two.toString()).isZero();
                JsonNode j = two.json();
                assertThat(j.get("timelines").toString()).isEqualTo("[1,2]");
                assertThat(j.get("switchPointsInferred").asBoolean()).isFalse();
                assertThat(j.get("newestSegment").asText()).isEqualTo(onTwo);

                // the original goes on on timeline 1
                sql(pg, "INSERT INTO orders VALUES (99)");
                switchAndWait(pg.port(), store);

                // restores through wal-fetch from the same store: timeline 2 followed by default ...
                assertThat(restore(work, env, "latest", "--latest")).isEqualTo("1,2,3,10");
                assertThat(restore(work, env, "after-promotion", "--target-time", t2))
                        .isEqualTo("1,2,10");
                // ... and timeline 1 when asked for
                assertThat(restore(work, env, "tl1-time", "--target-time", t0, "--target-timeline", "1"))
                        .isEqualTo("1");
                assertThat(restore(work, env, "tl1-latest", "--latest", "--target-timeline", "1"))
                        .isEqualTo("1,10,99");

                Path folder = store.resolve("wal/" + firstOnTwo.substring(0, 16));
                for (String suffix : List.of(".zst.gpg.manifest.json", ".zst.gpg.manifest.json.sig", ".zst.gpg")) {
                    Files.delete(folder.resolve(firstOnTwo + suffix));
                }
                Jar.Run gap = Jar.run(work, env, "wal-verify");
                assertThat(gap.exitCode()).as(gap.toString()).isEqualTo(5);
                assertThat(gap.stdout()).contains("MISSING on timeline 2: " + firstOnTwo);
                // and restore pitr refuses to follow timeline 2 past it, before extracting anything
                Path refused = work.resolve("refused");
                Jar.Run r = Jar.run(work, env, "restore", "pitr", "--pgdata", refused.toString(), "--latest");
                assertThat(r.exitCode()).as(r.toString()).isEqualTo(5);
                assertThat(r.stderr()).contains("missing " + firstOnTwo).contains("on timeline 2");
                assertThat(refused).doesNotExist();
            } finally {
                PitrIT.stop(copy);
            }
        } finally {
            root("rm", "-rf", work.toString());
        }
    }

    /** restore pitr ARGS --start into work/NAME; the ids of the orders it recovered, in order, comma-separated. */
    private static String restore(Path work, Map<String, String> env, String name, String... args) throws Exception {
        Path dir = work.resolve(name);
        int port = freePort();
        List<String> all = new java.util.ArrayList<>(List.of("restore", "pitr", "--pgdata", dir.toString()));
        all.addAll(List.of(args));
        all.addAll(List.of("--start", "--port", Integer.toString(port)));
        try {
            Jar.Run r = Jar.run(work, env, all.toArray(String[]::new));
            assertThat(r.exitCode()).as(r.toString()).isZero();
            assertThat(Files.readString(dir.resolve("postgresql.auto.conf"))).contains(" wal-fetch --store ");
            try (Connection c = connect(port);
                    Statement s = c.createStatement();
                    ResultSet q = s.executeQuery("SELECT string_agg(id::text, ',' ORDER BY id) FROM orders")) {
                q.next();
                return q.getString(1);
            }
        } finally {
            PitrIT.stop(dir);
        }
    }

    private static Connection connect(int port) throws java.sql.SQLException {
        return DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + port + "/postgres", "postgres", "");
    }

    /** Switches the server's segment and waits until wal-push committed it; returns its name. */
    private static String switchAndWait(int port, Path store) throws Exception {
        String last;
        try (Connection c = connect(port);
                Statement s = c.createStatement()) {
            try (ResultSet r = s.executeQuery("SELECT pg_walfile_name(pg_current_wal_lsn())")) {
                r.next();
                last = r.getString(1);
            }
            s.execute("SELECT pg_switch_wal()");
        }
        Path manifest = store.resolve("wal/" + last.substring(0, 16) + "/" + last + ".zst.gpg.manifest.json");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!Files.exists(manifest) && System.nanoTime() < deadline) {
            Thread.sleep(200);
        }
        assertThat(manifest).exists();
        return last;
    }
}

package com.jiffoo.backup.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.jiffoo.backup.postgres.PitrFixture;
import com.jiffoo.backup.postgres.RecoveryServer;
import com.jiffoo.backup.postgres.ThrowawayCluster;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * `backup base` and `restore pitr` with the real jar against a throwaway cluster (the installed PostgreSQL, whose
 * pg_basebackup exists) archiving its WAL with cp: a restore to a time between two transactions, started and
 * checked; a non-empty directory refused; the default restore_command; a user without REPLICATION refused.
 */
class PitrIT {
    static ThrowawayCluster pg;
    static Path work;
    static Path archive;
    static Path key;
    static Map<String, String> env;

    @BeforeAll
    static void setUp() throws Exception {
        work = Files.createTempDirectory(
                "jiffoo-pitr-it-", PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwxr-xr-x")));
        archive = work.resolve("archive");
        Files.createDirectories(archive);
        Files.createDirectories(
                work.resolve("store"),
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        root("chown", "postgres:postgres", archive.toString());
        pg = ThrowawayCluster.installed("archive_mode=on", "archive_command=" + ThrowawayCluster.copyInto(archive));
        key = work.resolve("backup.key");
        Jar.Run keygen = Jar.run(work, Map.of(), "keygen", key.toString());
        assertThat(keygen.exitCode()).as(keygen.toString()).isZero();
        env = Map.of(
                "DB_HOST", "127.0.0.1",
                "DB_PORT", Integer.toString(pg.port()),
                "DB_USER", "postgres",
                "BACKUP_DIR", work.resolve("store").toString(),
                "ENCRYPTION_KEY_FILE", key.toString());
    }

    @AfterAll
    static void tearDown() throws Exception {
        if (pg != null) {
            pg.close();
        }
        root("rm", "-rf", work.toString());
    }

    @Test
    void backupBaseThenRestoreToATimeBetweenTwoTransactions() throws Exception {
        sql("CREATE TABLE orders (id int PRIMARY KEY, note text)");
        Jar.Run base = Jar.run(work, env, "backup", "base", "--json");
        assertThat(base.exitCode()).as(base.toString()).isZero();
        assertThat(base.json().toString()).contains("base/base_backup_");
        Jar.Run list = Jar.run(work, env, "list");
        assertThat(list.stdout()).contains("base      base/base_backup_");
        Jar.Run deep = Jar.run(work, env, "verify", "--latest", "--kind", "base", "--deep");
        assertThat(deep.exitCode()).as(deep.toString()).isZero();
        assertThat(deep.stdout()).contains("deep verification passed");
        sql("INSERT INTO orders VALUES (1, 'A')");
        Thread.sleep(1100);
        String t = query("SELECT now()::text");
        Thread.sleep(1100);
        sql("INSERT INTO orders VALUES (2, 'B')");
        switchAndWait();

        Path dir = work.resolve("restored");
        int port = freePort();
        try {
            Jar.Run r = Jar.run(
                    work,
                    env,
                    "restore",
                    "pitr",
                    "--pgdata",
                    dir.toString(),
                    "--target-time",
                    t,
                    "--restore-command",
                    "cp " + archive + "/%f %p",
                    "--start",
                    "--port",
                    Integer.toString(port),
                    "--json");
            assertThat(r.exitCode()).as(r.toString()).isZero();
            JsonNode recovery = r.json().path("recovery");
            assertThat(recovery.path("state").asText()).isEqualTo("promoted");
            assertThat(recovery.path("lastReplayedLsn").asText()).matches("[0-9A-F]+/[0-9A-F]+");
            assertThat(rows(port)).containsExactly("1 A");
            // paused at the target, then promoted with pg_promote(): it takes writes, and its settings say promote
            try (Connection c = DriverManager.getConnection(
                            "jdbc:postgresql://127.0.0.1:" + port + "/postgres", "postgres", "");
                    Statement s = c.createStatement()) {
                s.execute("INSERT INTO orders VALUES (3, 'after the restore')");
                try (ResultSet q = s.executeQuery("SELECT pg_is_in_recovery()")) {
                    q.next();
                    assertThat(q.getBoolean(1)).isFalse();
                }
            }
            assertThat(rows(port)).containsExactly("1 A", "3 after the restore");
            List<String> action = Files.readAllLines(dir.resolve("postgresql.auto.conf")).stream()
                    .filter(l -> l.startsWith("recovery_target_action"))
                    .toList();
            assertThat(action).last().asString().contains("'promote'");
            assertThat(Files.readString(dir.resolve(RecoveryServer.LOG_FILE)))
                    .as("no end-of-recovery checkpoint was waited for")
                    .contains("received promote request")
                    .doesNotContain("end-of-recovery");
        } finally {
            stop(dir);
        }

        // the same directory again: refused, untouched
        Jar.Run again = Jar.run(
                work,
                env,
                "restore",
                "pitr",
                "--pgdata",
                dir.toString(),
                "--latest",
                "--restore-command",
                "cp " + archive + "/%f %p");
        assertThat(again.exitCode()).as(again.toString()).isEqualTo(7);
        assertThat(again.stderr()).contains("not empty").contains("--replace");
    }

    @Test
    void theDefaultRestoreCommandNamesTheLauncherTheStoreAndTheKeyFile() throws Exception {
        Jar.Run base = Jar.run(work, env, "backup", "base");
        assertThat(base.exitCode()).as(base.toString()).isZero();
        // the default restore_command fetches from the store: restore pitr checks the WAL there and tries the
        // command as the server's user first, so the cp archive's files go into the store, open to postgres
        try (java.util.stream.Stream<Path> files = Files.list(archive)) {
            for (Path f : files.sorted().toList()) {
                Jar.Run push = Jar.run(
                        work,
                        env,
                        "wal-push",
                        "--store",
                        "file:" + work.resolve("store"),
                        "--key-file",
                        key.toString(),
                        f.toString());
                assertThat(push.exitCode()).as(push.toString()).isZero();
            }
        }
        root("chown", "-R", "postgres:postgres", work.resolve("store").toString(), key.toString());
        Path dir = work.resolve("default-command");
        Jar.Run r = Jar.run(work, env, "restore", "pitr", "--pgdata", dir.toString(), "--latest");
        assertThat(r.exitCode()).as(r.toString()).isZero();
        String launcher = Jar.path().resolveSibling("jiffoo-backup").toString();
        assertThat(Files.readString(dir.resolve("postgresql.auto.conf")))
                .containsPattern(
                        java.util.regex.Pattern.quote("restore_command = '" + launcher + " wal-fetch --store file:"
                                        + work.resolve("store") + " --key-file " + key
                                        + " --spool pg_wal/jiffoo-prefetch --system-id ")
                                + "[0-9]+ %f %p'")
                // the read-ahead spool goes when recovery ends (the command runs in the data directory)
                .contains("recovery_end_command = 'rm -rf pg_wal/jiffoo-prefetch'")
                .contains("archive_mode = 'off'")
                // --latest: every target cleared, so that one the base backup carries cannot apply (or clash)
                .contains("recovery_target_time = ''", "recovery_target_lsn = ''", "recovery_target_name = ''")
                .doesNotContain("recovery_target_action");
        assertThat(Files.exists(dir.resolve("recovery.signal"))).isTrue();
    }

    @Test
    void aUserWithoutReplicationIsToldWhatItNeeds() throws Exception {
        sql("DROP ROLE IF EXISTS shop", "CREATE ROLE shop LOGIN");
        Map<String, String> shop = new java.util.HashMap<>(env);
        shop.put("DB_USER", "shop");
        Jar.Run r = Jar.run(work, shop, "backup", "base");
        assertThat(r.exitCode()).as(r.toString()).isEqualTo(2);
        assertThat(r.stderr()).contains("REPLICATION").contains("pg_hba.conf");
    }

    private static void switchAndWait() throws Exception {
        switchAndWait(pg, last -> Files.exists(archive.resolve(last)));
    }

    /** Switches to a new WAL segment and waits until {@code archived} says the previous one is archived. */
    static void switchAndWait(ThrowawayCluster cluster, java.util.function.Predicate<String> archived)
            throws Exception {
        PitrFixture.switchAndWait(cluster, archived);
    }

    static List<String> rows(int port) throws SQLException {
        List<String> rows = new ArrayList<>();
        try (Connection c = DriverManager.getConnection(
                        "jdbc:postgresql://127.0.0.1:" + port + "/postgres", "postgres", "");
                Statement s = c.createStatement();
                ResultSet r = s.executeQuery("SELECT id, note FROM orders ORDER BY id")) {
            while (r.next()) {
                rows.add(r.getInt(1) + " " + r.getString(2));
            }
        }
        return rows;
    }

    static void stop(Path dir) throws Exception {
        ThrowawayCluster.stopServer(dir);
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    private static void sql(String... statements) throws SQLException {
        sql(pg, statements);
    }

    static void sql(ThrowawayCluster cluster, String... statements) throws SQLException {
        PitrFixture.sql(cluster, statements);
    }

    private static String query(String q) throws SQLException {
        return query(pg, q);
    }

    static String query(ThrowawayCluster cluster, String q) throws SQLException {
        return PitrFixture.query(cluster, q);
    }

    static void root(String... cmd) throws Exception {
        Jar.Run r = Jar.exec(Path.of(System.getProperty("java.io.tmpdir")), Map.of(), List.of(cmd));
        assertThat(r.exitCode()).as(r.toString()).isZero();
    }
}

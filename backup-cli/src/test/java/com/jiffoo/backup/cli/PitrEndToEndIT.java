package com.jiffoo.backup.cli;

import static com.jiffoo.backup.cli.PitrIT.freePort;
import static com.jiffoo.backup.cli.PitrIT.sql;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.jiffoo.backup.postgres.PitrFixture;
import com.jiffoo.backup.postgres.ThrowawayCluster;
import com.jiffoo.backup.testutil.TestKeys;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Point-in-time recovery end to end with the launcher alone: the server archives through {@code wal-push}, {@code
 * backup base}, transaction A, time T, transaction B, a restore point, an accidental DROP TABLE; then {@code restore
 * pitr --start} with the restore_command it writes by default ({@code wal-fetch}) to T, to the restore point and to
 * the latest, each checked in the started server.
 */
class PitrEndToEndIT {
    static ThrowawayCluster pg;
    static Path work;
    static Path store;
    static Map<String, String> env;
    static String timeT;

    @BeforeAll
    static void setUp() throws Exception {
        work = PitrFixture.workDirectory("jiffoo-pitr-e2e-");
        store = PitrFixture.privateDirectory(work.resolve("store"));
        Path key = TestKeys.keyFile(work, "backup.key");
        // the server runs wal-push and wal-fetch as its own user
        pg = PitrFixture.archivingWithWalPush(Jar.path().resolveSibling("jiffoo-backup"), "file:" + store, store, key);
        env = PitrFixture.environment(pg, store, key);

        sql(pg, "CREATE TABLE orders (id int PRIMARY KEY, note text)", "CREATE TABLE customers AS SELECT 1 AS id");
        Jar.Run base = Jar.run(work, env, "backup", "base");
        assertThat(base.exitCode()).as(base.toString()).isZero();
        sql(pg, "INSERT INTO orders VALUES (1, 'A')");
        timeT = PitrFixture.timeBetween(pg);
        sql(
                pg,
                "INSERT INTO orders VALUES (2, 'B')",
                "SELECT pg_create_restore_point('before_drop')",
                "DROP TABLE customers");
        PitrFixture.switchAndWait(pg, PitrFixture.inStore(store));
    }

    @AfterAll
    static void tearDown() throws Exception {
        PitrFixture.tearDown(pg, work);
    }

    @Test
    void toATimeBetweenTwoTransactions() throws Exception {
        assertThat(restore("time", "--target-time", timeT)).containsExactly("1 A", "customers 1");
    }

    @Test
    void toARestorePointBeforeAnAccidentalDropTable() throws Exception {
        assertThat(restore("name", "--target-name", "before_drop")).containsExactly("1 A", "2 B", "customers 1");
    }

    @Test
    void toTheLatest() throws Exception {
        assertThat(restore("latest", "--latest")).containsExactly("1 A", "2 B", "customers gone");
    }

    /** docs/pitr.md, "Emergency: a point-in-time restore without Java": gpg, zstd, tar and pg_ctl only. */
    @Test
    void emergencyRestoreWithoutJava() throws Exception {
        Path dir = work.resolve("emergency");
        Path gnupg = work.resolve("gnupg");
        int port = freePort();
        String restoreCommand = "f=" + store + "/wal/$(echo %f | cut -c1-16)/%f.zst.gpg; case %f in *.history) f="
                + store + "/wal/%f.zst.gpg;; esac; [ -f \"$f.manifest.json\" ] || exit 1; gpg --homedir " + gnupg
                + " --batch --quiet --pinentry-mode loopback --passphrase-file " + env.get("ENCRYPTION_KEY_FILE")
                + " -d \"$f\" > \"%p.zst\" && zstd -d -q -f --rm \"%p.zst\" -o \"%p\" || exit 128";
        String script = String.join(
                "\n",
                "set -euo pipefail",
                "install -d -o postgres -g postgres -m 700 \"$GNUPG\" \"$DIR\"",
                "B=$(ls \"$STORE\"/base/*.tar.zst.gpg | head -1)",
                "(cd \"$STORE/base\" && sha256sum -c --quiet \"$(basename \"$B\")\".sha256)",
                "gpg --homedir \"$GNUPG\" --batch --pinentry-mode loopback --passphrase-file \"$KEY\" -d \"$B\""
                        + " | zstd -d | setpriv --reuid=postgres --regid=postgres --init-groups -- tar -x -C \"$DIR\"",
                "printf '%s\\n' \"restore_command = '$RC'\" \"archive_mode = 'off'\" >> \"$DIR/postgresql.auto.conf\"",
                "setpriv --reuid=postgres --regid=postgres --init-groups -- touch \"$DIR/recovery.signal\"",
                "chown -R postgres:postgres \"$GNUPG\"",
                "setpriv --reuid=postgres --regid=postgres --init-groups -- /usr/lib/postgresql/15/bin/pg_ctl -D"
                        + " \"$DIR\" -o \"-p $PORT\" -l \"$DIR/recovery.log\" -w -t 120 start");
        try {
            Jar.Run r = Jar.exec(
                    work,
                    Map.of(
                            "GNUPG", gnupg.toString(),
                            "DIR", dir.toString(),
                            "STORE", store.toString(),
                            "KEY", env.get("ENCRYPTION_KEY_FILE"),
                            "RC", restoreCommand.replace("'", "''"),
                            "PORT", Integer.toString(port)),
                    List.of("bash", "-c", script));
            assertThat(r.exitCode()).as(r.toString()).isZero();
            long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(120);
            while (true) {
                try (Connection c = DriverManager.getConnection(
                                "jdbc:postgresql://127.0.0.1:" + port + "/postgres", "postgres", "");
                        Statement s = c.createStatement();
                        ResultSet t = s.executeQuery("SELECT pg_is_in_recovery()")) {
                    t.next();
                    if (!t.getBoolean(1)) {
                        break;
                    }
                }
                assertThat(System.nanoTime()).as("recovery ended").isLessThan(deadline);
                Thread.sleep(250);
            }
            assertThat(PitrIT.rows(port)).containsExactly("1 A", "2 B");
        } finally {
            PitrIT.stop(dir);
        }
    }

    private List<String> restore(String name, String... target) throws Exception {
        Path dir = work.resolve(name);
        int port = freePort();
        List<String> args = new ArrayList<>(List.of("restore", "pitr", "--pgdata", dir.toString()));
        args.addAll(List.of(target));
        args.addAll(List.of("--start", "--port", Integer.toString(port), "--json"));
        try {
            Jar.Run r = Jar.run(work, env, args.toArray(String[]::new));
            assertThat(r.exitCode()).as(r.toString()).isZero();
            JsonNode recovery = r.json().path("recovery");
            assertThat(recovery.path("state").asText()).isEqualTo("promoted");
            assertThat(Files.readString(dir.resolve("postgresql.auto.conf")))
                    .contains(" wal-fetch --store file:")
                    .contains(" --spool pg_wal/jiffoo-prefetch ");
            // recovery_end_command removed the segments read ahead
            assertThat(dir.resolve("pg_wal/jiffoo-prefetch")).doesNotExist();
            List<String> rows = PitrIT.rows(port);
            try (Connection c = DriverManager.getConnection(
                            "jdbc:postgresql://127.0.0.1:" + port + "/postgres", "postgres", "");
                    Statement s = c.createStatement();
                    ResultSet t = s.executeQuery("SELECT to_regclass('customers') IS NOT NULL")) {
                t.next();
                rows.add(t.getBoolean(1) ? "customers 1" : "customers gone");
            }
            return rows;
        } finally {
            PitrIT.stop(dir);
        }
    }
}

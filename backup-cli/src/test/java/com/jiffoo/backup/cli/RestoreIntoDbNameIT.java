package com.jiffoo.backup.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.jiffoo.backup.postgres.ShopSchema;
import com.jiffoo.backup.postgres.TableHashes;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The runbook's restore semantics with the real jar: {@code restore database BACKUP} restores into {@code DB_NAME},
 * creating it when it does not exist (and dropping it again when the restore fails), refusing it untouched when it
 * exists, unless {@code --existing} (restore over it) or {@code --into NAME} (another, new database).
 */
class RestoreIntoDbNameIT {
    private static RunbookFixture rb;
    private static Path key;
    private static String uri;

    @TempDir
    Path dir;

    @BeforeAll
    static void backUp(@TempDir Path shared) throws Exception {
        rb = RunbookFixture.start("dbname_src");
        key = shared.resolve("backup.key");
        Jar.Run keygen = Jar.run(shared, Map.of(), "keygen", key.toString());
        assertThat(keygen.exitCode()).as(keygen.toString()).isZero();
        Jar.Run backup = Jar.run(shared, rb.env(key, "prod"), "backup", "database", "--json");
        assertThat(backup.exitCode()).as(backup.toString()).isZero();
        uri = rb.store("prod") + "/" + backup.json().get("key").asText();
    }

    @AfterAll
    static void stop() throws Exception {
        rb.close();
    }

    /** The runbook's environment with DB_NAME naming {@code database}. */
    private static Map<String, String> envFor(String database) {
        Map<String, String> env = rb.env(key, "prod");
        env.put("DB_NAME", database);
        return env;
    }

    private static TableHashes hashes(String database) throws Exception {
        try (Connection c = rb.pg().connect(database)) {
            return TableHashes.of(c);
        }
    }

    private static String absentName(String prefix) {
        return "jb_" + prefix + "_" + Long.toHexString(System.nanoTime());
    }

    @Test
    void aDbNameThatDoesNotExistIsCreatedAndRestored() throws Exception {
        String target = absentName("dbname_new");
        try {
            Jar.Run restore = Jar.run(dir, envFor(target), "restore", "database", uri, "--json");
            assertThat(restore.exitCode()).as(restore.toString()).isZero();
            JsonNode r = restore.json();
            assertThat(r.get("database").asText()).isEqualTo(target);
            assertThat(r.get("rowCountsMatch").asBoolean()).isTrue();
            TableHashes source = hashes(rb.sourceDb());
            TableHashes restored = hashes(target);
            assertThat(restored.count("public.orders"))
                    .isEqualTo(source.count("public.orders"))
                    .isEqualTo(200);
            assertThat(restored.totalRows()).isEqualTo(source.totalRows());
            assertThat(restored).isEqualTo(source);
        } finally {
            rb.pg().dropDatabase(target);
        }
    }

    @Test
    void anExistingDbNameIsRefusedUntouchedUnlessExistingIsGiven() throws Exception {
        String live = rb.pg().createDatabase("dbname_live");
        try {
            try (Connection c = rb.pg().connect(live)) {
                ShopSchema.create(c, 5);
            }
            TableHashes before = hashes(live);
            assertThat(before).isNotEqualTo(hashes(rb.sourceDb()));

            Jar.Run refused = Jar.run(dir, envFor(live), "restore", "database", uri);
            assertThat(refused.exitCode()).as(refused.toString()).isEqualTo(2);
            assertThat(refused.stderr())
                    .contains("The database " + live + " (DB_NAME) already exists")
                    .contains("--existing")
                    .contains("--into NAME");
            assertThat(refused.stdout()).doesNotContain("restored");
            assertThat(hashes(live)).isEqualTo(before);

            // --into names a new database: an existing one is refused the same way
            Jar.Run into = Jar.run(dir, rb.env(key, "prod"), "restore", "database", uri, "--into", live, "--json");
            assertThat(into.exitCode()).as(into.toString()).isEqualTo(2);
            assertThat(into.json().get("error").asText()).isEqualTo("CONFIGURATION");
            assertThat(into.json().get("message").asText()).contains(live + " (--into) already exists");
            assertThat(hashes(live)).isEqualTo(before);

            Jar.Run over = Jar.run(dir, envFor(live), "restore", "database", uri, "--existing", "--json");
            assertThat(over.exitCode()).as(over.toString()).isZero();
            assertThat(over.json().get("rowCountsMatch").asBoolean()).isTrue();
            assertThat(hashes(live)).isEqualTo(hashes(rb.sourceDb()));
        } finally {
            rb.pg().dropDatabase(live);
        }
    }

    @Test
    void existingOnADbNameThatDoesNotExistIsRefused() throws Exception {
        String target = absentName("dbname_missing");
        Jar.Run r = Jar.run(dir, envFor(target), "restore", "database", uri, "--existing");
        assertThat(r.exitCode()).as(r.toString()).isEqualTo(2);
        assertThat(r.stderr())
                .contains("The database " + target + " (DB_NAME) does not exist")
                .contains("drop --existing");
        assertThat(rb.pg().databaseExists(target)).isFalse();
    }

    /**
     * A restore into DB_NAME killed with {@code kill -9} leaves DB_NAME half restored, marked with the dead
     * process's pid (made here with psql, as the tool writes it): running the runbook's restore again is not
     * refused as "exists" — the half-restored database is dropped and DB_NAME restored anew.
     */
    @Test
    void aDbNameAKilledRestoreLeftHalfRestoredIsRestoredAgain() throws Exception {
        String target = rb.pg().createDatabase("dbname_killed");
        try {
            Process gone = new ProcessBuilder("true").start();
            gone.waitFor();
            try (Connection c = rb.pg().connect(target);
                    Statement s = c.createStatement()) {
                s.execute("CREATE TABLE public.orders (id int)"); // half restored
                s.execute("COMMENT ON DATABASE " + target + " IS 'jiffoo-backup: restore in progress by pid "
                        + gone.pid() + " (started ) on host "
                        + java.net.InetAddress.getLocalHost().getHostName()
                        + " since 2026-12-01T02:00:00Z'");
            }
            Jar.Run again = Jar.run(dir, envFor(target), "restore", "database", uri, "--json");
            assertThat(again.exitCode()).as(again.toString()).isZero();
            assertThat(hashes(target)).isEqualTo(hashes(rb.sourceDb()));
        } finally {
            rb.pg().dropDatabase(target);
        }
    }

    /**
     * A backup damaged in the store (bytes overwritten near its end with dd, as a bad disk would), restored into a
     * DB_NAME that does not exist: the database is created, pg_restore loads into it, and when the damage shows it
     * is dropped again.
     */
    @Test
    void aFailedRestoreIntoANewDbNameDropsIt() throws Exception {
        String big = rb.pg().createDatabase("dbname_big");
        String target = absentName("dbname_damaged");
        try {
            try (Connection c = rb.pg().connect(big);
                    Statement s = c.createStatement()) {
                s.execute("CREATE TABLE t AS SELECT g AS id, md5(g::text) || md5((g * 7)::text) AS s"
                        + " FROM generate_series(1, 600000) g");
            }
            Path store = Files.createDirectories(dir.resolve("store"));
            Map<String, String> env = envFor(big);
            env.remove("S3_BUCKET");
            env.put("BACKUP_DIR", store.toString());
            Jar.Run backup = Jar.run(dir, env, "backup", "database", "--json");
            assertThat(backup.exitCode()).as(backup.toString()).isZero();
            Path data = store.resolve(backup.json().get("key").asText());
            long offset = Files.size(data) * 9 / 10;
            Jar.Run dd = Jar.exec(
                    dir,
                    Map.of(),
                    List.of(
                            "dd",
                            "if=/dev/urandom",
                            "of=" + data,
                            "bs=1",
                            "seek=" + offset,
                            "count=4096",
                            "conv=notrunc"));
            assertThat(dd.exitCode()).as(dd.toString()).isZero();

            env.put("DB_NAME", target);
            Jar.Started restore = Jar.start(dir, env, "restore", "database", "--latest");
            boolean seen = false;
            while (restore.process().isAlive()) {
                seen |= rb.pg().databaseExists(target);
                Thread.sleep(5);
            }
            Jar.Run failed = restore.await();
            assertThat(failed.exitCode()).as(failed.toString()).isIn(5, 7);
            assertThat(failed.stdout()).doesNotContain("restored");
            assertThat(seen)
                    .as("DB_NAME was created for the restore: " + failed)
                    .isTrue();
            assertThat(rb.pg().databaseExists(target))
                    .as("dropped after the failure: " + failed)
                    .isFalse();
        } finally {
            rb.pg().dropDatabase(target);
            rb.pg().dropDatabase(big);
        }
    }
}

package com.jiffoo.backup.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.jiffoo.backup.postgres.TableHashes;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What {@code list} prints is what {@code restore} and {@code verify} take: the name in its BACKUP column, and the
 * {@code uri} of {@code list --json} (from any directory), for a local store and for S3 (S3Proxy). The names are
 * taken from the jar's output as an operator copies them, never built by the test.
 */
class ListToRestoreIT {
    private static RunbookFixture rb;

    @TempDir
    Path dir;

    @BeforeAll
    static void start() throws Exception {
        rb = RunbookFixture.start("list_src");
    }

    @AfterAll
    static void stop() throws Exception {
        rb.close();
    }

    @Test
    void theNamesListPrintsRestoreFromALocalStore() throws Exception {
        Path store = Files.createDirectories(dir.resolve("store"));
        Map<String, String> env = env();
        env.remove("S3_BUCKET");
        env.put("BACKUP_DIR", store.toString());
        String uri = backUpAndRestoreByListedNames(env);
        assertThat(uri)
                .startsWith("file:" + store.toAbsolutePath() + "/database/db_backup_")
                .endsWith(".sql.gpg");
    }

    @Test
    void theNamesListPrintsRestoreFromS3() throws Exception {
        String uri = backUpAndRestoreByListedNames(env());
        assertThat(uri).startsWith(rb.store("prod") + "/database/db_backup_").endsWith(".sql.gpg");
    }

    private Map<String, String> env() throws Exception {
        Path key = dir.resolve("backup.key");
        Jar.Run keygen = Jar.run(dir, Map.of(), "keygen", key.toString());
        assertThat(keygen.exitCode()).as(keygen.toString()).isZero();
        return rb.env(key, "prod");
    }

    /** Backs up, restores by the name of `list` and by the uri of `list --json`; returns that uri. */
    private String backUpAndRestoreByListedNames(Map<String, String> env) throws Exception {
        Jar.Run backup = Jar.run(dir, env, "backup", "database");
        assertThat(backup.exitCode()).as(backup.toString()).isZero();

        Jar.Run list = Jar.run(dir, env, "list", "--kind", "database");
        assertThat(list.exitCode()).as(list.toString()).isZero();
        assertThat(list.stdout().lines().findFirst().orElseThrow()).contains("BACKUP");
        String name = list.stdout()
                .lines()
                .filter(l -> l.startsWith("database "))
                .findFirst()
                .orElseThrow()
                .split("\\s+")[1];
        Jar.Run verifyByName = Jar.run(dir, env, "verify", name);
        assertThat(verifyByName.exitCode()).as(verifyByName.toString()).isZero();
        restoreAndCompare(dir, env, name);

        Jar.Run json = Jar.run(dir, env, "list", "--kind", "database", "--json");
        assertThat(json.exitCode()).as(json.toString()).isZero();
        JsonNode row = json.json().get("backups").get(0);
        assertThat(row.get("key").asText()).isEqualTo(name);
        String uri = row.get("uri").asText();
        // from another directory, as an operator pasting it on another host would
        Path elsewhere = Files.createDirectories(dir.resolve("elsewhere"));
        Jar.Run verifyByUri = Jar.run(elsewhere, env, "verify", "--deep", uri);
        assertThat(verifyByUri.exitCode()).as(verifyByUri.toString()).isZero();
        restoreAndCompare(elsewhere, env, uri);
        return uri;
    }

    private void restoreAndCompare(Path cwd, Map<String, String> env, String backup) throws Exception {
        String into = "jb_list_restored_" + Long.toHexString(System.nanoTime());
        try {
            Jar.Run restore = Jar.run(cwd, env, "restore", "database", backup, "--into", into, "--json");
            assertThat(restore.exitCode()).as(restore.toString()).isZero();
            assertThat(restore.json().get("rowCountsMatch").asBoolean()).isTrue();
            try (Connection src = rb.pg().connect(rb.sourceDb());
                    Connection dst = rb.pg().connect(into)) {
                assertThat(TableHashes.of(dst)).isEqualTo(TableHashes.of(src));
            }
        } finally {
            rb.pg().dropDatabase(into);
        }
    }
}

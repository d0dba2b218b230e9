package com.jiffoo.backup.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.jiffoo.backup.BackupManifest;
import com.jiffoo.backup.BackupPipeline;
import com.jiffoo.backup.crypto.OpenPgpTransform;
import com.jiffoo.backup.crypto.PassphraseKeyFile;
import com.jiffoo.backup.postgres.PgTestServer;
import com.jiffoo.backup.postgres.PgToolLocator;
import com.jiffoo.backup.postgres.PostgresSource;
import com.jiffoo.backup.store.LocalDirectorySink;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.Statement;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Integrity wins: a backup damaged in the store (bytes flipped by python as bit rot would, or cut short) makes
 * pg_restore or the tar reader choke before the pipeline's checks are done; the jar still exits 5 (the backup is
 * damaged) with the target's error as detail, and leaves no half-restored target. A backup whose content is a
 * garbled archive but which is exactly what was written (hashes and authentication hold) keeps the target's error,
 * exit 7.
 */
class DamagedBackupIT {
    private static PgTestServer pg;
    private static String sourceDb;

    @TempDir
    Path dir;

    @BeforeAll
    static void start() throws Exception {
        pg = PgTestServer.get();
        sourceDb = pg.createDatabase("cli_damaged");
        try (Connection c = pg.connect(sourceDb);
                Statement st = c.createStatement()) {
            // compressible, so pg_dump's zlib streams fail on garbled bytes (not only the sizes at the end)
            st.execute("CREATE TABLE t AS SELECT g AS id, md5(g::text) AS s FROM generate_series(1, 200000) g");
        }
    }

    @AfterAll
    static void stop() throws Exception {
        pg.dropDatabase(sourceDb);
    }

    private Map<String, String> env() throws Exception {
        Files.createDirectories(dir.resolve("store"));
        Path key = dir.resolve("backup.key");
        if (!Files.exists(key)) {
            Jar.Run keygen = Jar.run(dir, Map.of(), "keygen", key.toString());
            assertThat(keygen.exitCode()).as(keygen.toString()).isZero();
        }
        Map<String, String> env = RunbookFixture.databaseEnv(pg, sourceDb);
        env.put("ENCRYPTION_KEY_FILE", key.toString());
        env.put("BACKUP_DIR", dir.resolve("store").toString());
        return env;
    }

    /** Flips 16 bytes at {@code offset} of {@code file} with python, as a failing disk would. */
    private void flip(Path file, long offset) {
        python("f = open('" + file + "', 'r+b'); f.seek(" + offset + "); b = f.read(16); f.seek(" + offset
                + "); f.write(bytes(x ^ 0xff for x in b)); f.close()");
    }

    private void python(String code) {
        Jar.Run r = Jar.exec(dir, Map.of(), List.of("python3", "-c", code));
        assertThat(r.exitCode()).as(r.toString()).isZero();
    }

    private Path stored(Map<String, String> env, String kind) throws Exception {
        Jar.Run backup = Jar.run(dir, env, "backup", kind, "--json");
        assertThat(backup.exitCode()).as(backup.toString()).isZero();
        return Path.of(env.get("BACKUP_DIR")).resolve(backup.json().get("key").asText());
    }

    /** Drops {@code db} when a failed test left it (the assertions say it must not exist). */
    private static void dropIfLeft(String db) throws Exception {
        if (pg.databaseExists(db)) {
            pg.dropDatabase(db);
        }
    }

    private String newDatabaseName() {
        return "jb_cli_damaged_" + Long.toHexString(System.nanoTime());
    }

    @Test
    void aDatabaseBackupWithFlippedBytesExits5ThoughPgRestoreFailsFirst() throws Exception {
        Map<String, String> env = env();
        Path object = stored(env, "database");
        flip(object, 3000); // in the table's compressed data: pg_restore stops there ("could not uncompress data")
        String into = newDatabaseName();
        try {
            Jar.Run restore = Jar.run(dir, env, "restore", "database", "--latest", "--into", into);
            assertThat(restore.exitCode()).as(restore.toString()).isEqualTo(5);
            assertThat(restore.stderr())
                    .as(restore.toString())
                    .containsAnyOf("does not match its manifest", "failed its integrity check (MDC)")
                    .contains("The restore target failed too")
                    .contains("could not uncompress data");
            assertThat(restore.stdout()).doesNotContain("restored");
            assertThat(pg.databaseExists(into))
                    .as("the half-restored database is dropped")
                    .isFalse();

            Jar.Run deep = Jar.run(dir, env, "verify", "--deep", "--latest");
            assertThat(deep.exitCode()).as(deep.toString()).isEqualTo(5);
        } finally {
            dropIfLeft(into);
        }
    }

    @Test
    void aTruncatedDatabaseBackupExits5AndLeavesNoDatabase() throws Exception {
        Map<String, String> env = env();
        Path object = stored(env, "database");
        python("import os; os.truncate('" + object + "', " + Files.size(object) / 2 + ")");
        String into = newDatabaseName();
        try {
            Jar.Run restore = Jar.run(dir, env, "restore", "database", "--latest", "--into", into);
            assertThat(restore.exitCode()).as(restore.toString()).isEqualTo(5);
            assertThat(restore.stderr()).contains("truncated");
            assertThat(pg.databaseExists(into))
                    .as("the half-restored database is dropped")
                    .isFalse();
        } finally {
            dropIfLeft(into);
        }
    }

    /**
     * pg_dump's own output garbled on its way out (a wrapper script pipes it through python), then encrypted, hashed
     * and authenticated as usual: the store holds exactly what was written, so pg_restore's error is the right one.
     */
    @Test
    void aGarbledDumpThatIsExactlyWhatWasWrittenKeepsPgRestoresErrorExit7() throws Exception {
        Map<String, String> env = env();
        Path realPgDump = PgToolLocator.system().locate("pg_dump", 15).path();
        Path bin = Files.createDirectories(dir.resolve("garbling-bin"));
        Path wrapper = bin.resolve("pg_dump");
        Files.writeString(
                wrapper,
                "#!/bin/sh\n"
                        + "case \"$1\" in --version) exec '" + realPgDump + "' --version;; esac\n"
                        + "'" + realPgDump + "' \"$@\" | python3 -c '\n"
                        + "import sys\n"
                        + "data = sys.stdin.buffer.read()\n"
                        + "at = len(data) // 100\n"
                        + "sys.stdout.buffer.write(data[:at] + bytes(x ^ 0xff for x in data[at:at + 16]) + data[at + 16:])\n"
                        + "'\n");
        Files.setPosixFilePermissions(wrapper, PosixFilePermissions.fromString("rwx------"));
        BackupManifest m;
        try (LocalDirectorySink sink = LocalDirectorySink.create(Files.createDirectories(dir.resolve("store")))) {
            m = BackupPipeline.builder()
                    .source(PostgresSource.builder(pg.connection(sourceDb))
                            .binDirectory(bin)
                            .build())
                    .encryption(OpenPgpTransform.builder()
                            .passphrase(PassphraseKeyFile.read(Path.of(env.get("ENCRYPTION_KEY_FILE"))))
                            .build())
                    .sink(sink)
                    .build()
                    .run();
        }
        String into = newDatabaseName();
        try {
            Jar.Run quick = Jar.run(dir, env, "verify", m.objectKey());
            assertThat(quick.exitCode())
                    .as("the store holds what was written: " + quick)
                    .isZero();
            Jar.Run restore = Jar.run(dir, env, "restore", "database", m.objectKey(), "--into", into);
            assertThat(restore.exitCode()).as(restore.toString()).isEqualTo(7);
            assertThat(restore.stderr())
                    .as(restore.toString())
                    .contains("pg_restore")
                    .contains("passed its integrity checks")
                    .doesNotContain("does not match its manifest");
            assertThat(pg.databaseExists(into))
                    .as("the half-restored database is dropped")
                    .isFalse();
        } finally {
            dropIfLeft(into);
        }
    }

    @Test
    void aFilesBackupWithFlippedBytesExits5ThoughTheTarReaderFailsFirst() throws Exception {
        Path uploads = Files.createDirectories(dir.resolve("uploads"));
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < 60_000; i++) {
            text.append(i).append(" line of compressible text\n");
        }
        for (int i = 0; i < 20; i++) {
            Files.writeString(uploads.resolve("f" + i + ".txt"), i + text.toString());
        }
        Map<String, String> env = env();
        env.put("SOURCE_DIR", uploads.toString());
        Path object = stored(env, "files");
        flip(object, 3000); // in the first file's deflate stream: the tar reader stops there
        Path target = dir.resolve("restored");
        List<Path> before = list(dir);
        Jar.Run restore = Jar.run(dir, env, "restore", "files", "--latest", "--target", target.toString());
        assertThat(restore.exitCode()).as(restore.toString()).isEqualTo(5);
        assertThat(restore.stderr())
                .as(restore.toString())
                .containsAnyOf("does not match its manifest", "failed its integrity check (MDC)")
                .contains("The restore target failed too");
        assertThat(target).as("nothing restored").doesNotExist();
        assertThat(list(dir)).as("no staging directory left beside the target").isEqualTo(before);
    }

    private static List<Path> list(Path d) throws Exception {
        try (Stream<Path> s = Files.list(d)) {
            return s.sorted().toList();
        }
    }
}

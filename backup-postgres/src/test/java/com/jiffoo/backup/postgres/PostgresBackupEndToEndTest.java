package com.jiffoo.backup.postgres;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.jiffoo.backup.BackupManifest;
import com.jiffoo.backup.BackupPipeline;
import com.jiffoo.backup.BackupVerifier;
import com.jiffoo.backup.IntegrityException;
import com.jiffoo.backup.RestorePipeline;
import com.jiffoo.backup.RestoreResult;
import com.jiffoo.backup.StagedRestore;
import com.jiffoo.backup.VerificationResult;
import com.jiffoo.backup.crypto.OpenPgpTransform;
import com.jiffoo.backup.crypto.PassphraseKeyFile;
import com.jiffoo.backup.store.LocalDirectorySink;
import com.jiffoo.backup.testutil.GpgCli;
import com.jiffoo.backup.testutil.TestKeys;
import java.io.InputStream;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Database backups end to end with the realistic fixture (about 311,000 rows): the emergency path with CLIs only,
 * our pipeline with gpg and pg_restore by hand, our RestorePipeline into new and existing databases, a damaged
 * backup never touching an existing database, and restore timings (printed to the test output).
 */
class PostgresBackupEndToEndTest {
    private static final int ORDERS = 100_000;

    static String source;
    static TableHashes original;
    static Map<String, Object> rowCounts;

    @TempDir
    Path tmp;

    private final TestDatabases dbs = new TestDatabases();

    @BeforeAll
    static void makeSource() throws Exception {
        long t0 = System.nanoTime();
        source = PgTestServer.get().createDatabase("e2e_src");
        try (Connection c = PgTestServer.get().connect(source)) {
            ShopSchema.create(c, ORDERS);
            rowCounts = ShopSchema.rowCounts(c);
        }
        original = PgTools.hashes(source);
        System.out.printf(
                "fixture: %d rows in %d tables, created in %d ms%n",
                original.totalRows(), original.tables().size(), (System.nanoTime() - t0) / 1_000_000);
    }

    @AfterAll
    static void dropSource() throws Exception {
        PgTestServer.get().dropDatabase(source);
    }

    @AfterEach
    void dropCreated() throws Exception {
        dbs.dropAll();
    }

    private record Stored(
            LocalDirectorySink sink, OpenPgpTransform pgp, BackupManifest manifest, Path keyFile, Path object) {}

    private Stored backUp() {
        Path keyFile = TestKeys.keyFile(tmp, "backup.key");
        OpenPgpTransform pgp = OpenPgpTransform.builder()
                .passphrase(PassphraseKeyFile.read(keyFile))
                .build();
        LocalDirectorySink sink = LocalDirectorySink.create(tmp.resolve("store"));
        BackupManifest m = BackupPipeline.builder()
                .source(PostgresSource.builder(PgTools.connection(source)).build())
                .encryption(pgp)
                .sink(sink)
                .build()
                .run();
        return new Stored(sink, pgp, m, keyFile, sink.root().resolve(m.objectKey()));
    }

    private RestorePipeline restorePipeline(Stored s, PostgresRestoreTarget target) {
        return RestorePipeline.builder()
                .sink(s.sink())
                .decryption(s.pgp())
                .target(target)
                .build();
    }

    @Test
    void emergencyPathWithCommandLineToolsOnly() throws Exception {
        try (GpgCli gpg = GpgCli.create(tmp)) {
            Path key = TestKeys.keyFile(tmp, "backup.key");
            Path out = tmp.resolve("db_backup.sql.gpg");
            String db = dbs.create("e2e_cli");
            Map<String, String> env = Map.of(
                    "GNUPGHOME",
                    gpg.home().toString(),
                    "KEY",
                    key.toString(),
                    "OUT",
                    out.toString(),
                    "SRC",
                    source,
                    "DST",
                    db,
                    "GPG",
                    GpgCli.GPG);
            PgTools.bash(
                    "pg_dump -Fc \"$SRC\" | \"$GPG\" --batch --pinentry-mode loopback --passphrase-file \"$KEY\""
                            + " --symmetric --cipher-algo AES256 -o \"$OUT\"",
                    source,
                    env);
            PgTools.bash(
                    "\"$GPG\" --batch --pinentry-mode loopback --passphrase-file \"$KEY\" -d \"$OUT\""
                            + " | pg_restore -d \"$DST\"",
                    source,
                    env);
            assertThat(PgTools.hashes(db)).isEqualTo(original);
        }
    }

    @Test
    void pipelineBackupRestoresWithGpgAndPgRestoreByHandAndThroughRestorePipeline() throws Exception {
        Stored s = backUp();
        assertThat(s.object()).exists();
        assertThat(s.manifest().sourceFacts())
                .containsEntry("rowCountsExact", true)
                .containsEntry("database", source)
                .containsEntry("rowCounts", rowCounts);

        try (GpgCli gpg = GpgCli.create(tmp)) {
            String byHand = dbs.create("e2e_hand");
            PgTools.bash(
                    "\"$GPG\" --batch --pinentry-mode loopback --passphrase-file \"$KEY\" -d \"$OBJ\""
                            + " | pg_restore -d \"$DST\"",
                    source,
                    Map.of(
                            "GNUPGHOME",
                            gpg.home().toString(),
                            "KEY",
                            s.keyFile().toString(),
                            "OBJ",
                            s.object().toString(),
                            "DST",
                            byHand,
                            "GPG",
                            GpgCli.GPG));
            assertThat(PgTools.hashes(byHand)).isEqualTo(original);
        }

        String db = dbs.newName("e2e_pipe");
        RestoreResult r = restorePipeline(s, PostgresRestoreTarget.newDatabase(PgTools.connection("postgres"), db))
                .restore(s.manifest().objectKey());
        assertThat(r.facts()).containsEntry("database", db).containsEntry("warnings", 0);
        assertThat(PgTools.hashes(db)).isEqualTo(original);
        RowCountCheck.Report counts =
                RowCountCheck.compare(PgTools.connection(db), r.manifest()).orThrow();
        assertThat(counts.matches()).hasSize(5);

        VerificationResult v = BackupVerifier.builder()
                .sink(s.sink())
                .transforms(List.of(s.pgp()))
                .innerCheck(PgRestoreListCheck.create())
                .build()
                .verify(s.manifest().objectKey(), true);
        assertThat(v.deep()).isTrue();
    }

    @Test
    void restorePipelineReplacesAnExistingDatabaseAfterVerifyingTheBackup() throws Exception {
        Stored s = backUp();
        String db = dbs.create("e2e_exist");
        try (Connection c = PgTestServer.get().connect(db)) {
            ShopSchema.create(c, 50);
        }
        restorePipeline(s, PostgresRestoreTarget.existingDatabase(PgTools.connection(db)))
                .restore(s.manifest().objectKey());
        assertThat(PgTools.hashes(db)).isEqualTo(original);
    }

    @Test
    void damagedBackupNeverTouchesAnExistingDatabaseNorLeavesANewOne() throws Exception {
        Stored s = backUp();
        try (RandomAccessFile f = new RandomAccessFile(s.object().toFile(), "rw")) {
            long at = f.length() * 3 / 4;
            f.seek(at);
            int b = f.read();
            f.seek(at);
            f.write(b ^ 0xff);
        }
        String db = dbs.create("e2e_damaged");
        try (Connection c = PgTestServer.get().connect(db);
                Statement st = c.createStatement()) {
            ShopSchema.create(c, 50);
            st.execute("UPDATE customers SET name = 'before'");
        }
        TableHashes before = PgTools.hashes(db);
        assertThatThrownBy(() -> restorePipeline(s, PostgresRestoreTarget.existingDatabase(PgTools.connection(db)))
                        .restore(s.manifest().objectKey()))
                .isInstanceOf(IntegrityException.class);
        assertThat(PgTools.hashes(db)).isEqualTo(before);

        String fresh = dbs.newName("e2e_damaged_new");
        assertThatThrownBy(() -> restorePipeline(
                                s, PostgresRestoreTarget.newDatabase(PgTools.connection("postgres"), fresh))
                        .restore(s.manifest().objectKey()))
                .isInstanceOf(IntegrityException.class);
        assertThat(PgTestServer.get().databaseExists(fresh)).isFalse();
    }

    @Test
    void aBackupReplacedInTheStoreBetweenVerificationAndRestoreIsNeverApplied() throws Exception {
        Stored s = backUp();
        // another whole, valid backup (same key, so OpenPGP's integrity check passes): a small other database
        String other = dbs.create("e2e_other");
        try (Connection c = PgTestServer.get().connect(other)) {
            ShopSchema.create(c, 10);
        }
        BackupManifest otherBackup = BackupPipeline.builder()
                .source(PostgresSource.builder(PgTools.connection(other)).build())
                .encryption(s.pgp())
                .sink(LocalDirectorySink.create(tmp.resolve("other-store")))
                .build()
                .run();
        byte[] damaged = Files.readAllBytes(tmp.resolve("other-store").resolve(otherBackup.objectKey()));
        java.util.concurrent.atomic.AtomicInteger opens = new java.util.concurrent.atomic.AtomicInteger();
        // the store answers the verification pass with the right bytes, then the restore pass with the other backup
        com.jiffoo.backup.Sink store = new com.jiffoo.backup.Sink() {
            @Override
            public String location() {
                return s.sink().location();
            }

            @Override
            public com.jiffoo.backup.SinkOutput create(String key) throws java.io.IOException {
                return s.sink().create(key);
            }

            @Override
            public java.io.InputStream open(String key) throws java.io.IOException {
                if (key.equals(s.manifest().objectKey()) && opens.incrementAndGet() == 2) {
                    return new java.io.ByteArrayInputStream(damaged);
                }
                return s.sink().open(key);
            }

            @Override
            public List<com.jiffoo.backup.StoredObject> list(String prefix) throws java.io.IOException {
                return s.sink().list(prefix);
            }

            @Override
            public void delete(String key) throws java.io.IOException {
                s.sink().delete(key);
            }

            @Override
            public void close() {}
        };
        String db = dbs.create("e2e_swapped");
        try (Connection c = PgTestServer.get().connect(db);
                Statement st = c.createStatement()) {
            ShopSchema.create(c, 50);
            st.execute("UPDATE customers SET name = 'before'");
        }
        TableHashes before = PgTools.hashes(db);
        // in place (pg_restore --clean) the target changes while it reads, so the pipeline verifies first
        assertThatThrownBy(() -> RestorePipeline.builder()
                        .sink(store)
                        .decryption(s.pgp())
                        .target(PostgresRestoreTarget.existingDatabaseBuilder(PgTools.connection(db))
                                .cleanInPlace(true)
                                .build())
                        .build()
                        .restore(s.manifest().objectKey()))
                .isInstanceOf(IntegrityException.class);
        assertThat(opens.get()).as("verified, then read again for the restore").isEqualTo(2);
        assertThat(PgTools.hashes(db)).isEqualTo(before);
    }

    @Test
    void restoreTimingsStreamedAndParallel() throws Exception {
        long t0 = System.nanoTime();
        Path dump = PgTools.dump(source, tmp.resolve("shop.dump"));
        long dumpMs = (System.nanoTime() - t0) / 1_000_000;
        long[] streamed = new long[3];
        long[] parallel = new long[3];
        for (int i = 0; i < 3; i++) {
            streamed[i] = timedRestore(dump, 1);
            parallel[i] = timedRestore(dump, 2);
        }
        Stored s = backUp();
        long p0 = System.nanoTime();
        String db = dbs.newName("e2e_timed_pipe");
        restorePipeline(s, PostgresRestoreTarget.newDatabase(PgTools.connection("postgres"), db))
                .restore(s.manifest().objectKey());
        long pipelineMs = (System.nanoTime() - p0) / 1_000_000;
        System.out.printf(
                "TIMING rows=%d dump=%d bytes (pg_dump -Fc %d ms) stored=%d bytes; restore streamed ms=%s;"
                        + " restore -j 2 ms=%s; RestorePipeline (decrypt+verify+restore, streamed) ms=%d%n",
                original.totalRows(),
                Files.size(dump),
                dumpMs,
                s.manifest().objectSize(),
                java.util.Arrays.toString(streamed),
                java.util.Arrays.toString(parallel),
                pipelineMs);
        assertThat(PgTools.hashes(db)).isEqualTo(original);
    }

    private long timedRestore(Path dump, int jobs) throws Exception {
        String db = dbs.newName("e2e_timed_" + jobs);
        PostgresRestoreTarget target = PostgresRestoreTarget.newDatabaseBuilder(PgTools.connection("postgres"), db)
                .jobs(jobs)
                .spoolDirectory(tmp)
                .build();
        long t0 = System.nanoTime();
        try (InputStream in = Files.newInputStream(dump);
                StagedRestore staged = target.stage(in, null)) {
            staged.commit();
        }
        long ms = (System.nanoTime() - t0) / 1_000_000;
        assertThat(PgTools.hashes(db)).isEqualTo(original);
        PgTestServer.get().dropDatabase(db);
        return ms;
    }
}

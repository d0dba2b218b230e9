package com.jiffoo.backup.postgres;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.jiffoo.backup.BackupException;
import com.jiffoo.backup.BackupManifest;
import com.jiffoo.backup.BackupPipeline;
import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.SourceException;
import com.jiffoo.backup.Transform;
import com.jiffoo.backup.crypto.OpenPgpTransform;
import com.jiffoo.backup.crypto.PassphraseKeyFile;
import com.jiffoo.backup.store.LocalDirectorySink;
import com.jiffoo.backup.testutil.Cli;
import com.jiffoo.backup.testutil.GpgCli;
import com.jiffoo.backup.testutil.TestKeys;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PostgresSourceTest {
    private static final PgTestServer PG = PgTestServer.get();

    @TempDir
    Path dir;

    private String db;
    private final List<String> extraDatabases = new ArrayList<>();

    @BeforeEach
    void createDatabase() throws Exception {
        db = PG.createDatabase("pgsrc");
        sql(
                db,
                "CREATE TABLE public.customers (id int PRIMARY KEY, name text NOT NULL)",
                "INSERT INTO public.customers SELECT g, 'customer ' || g FROM generate_series(1, 137) g",
                "CREATE SCHEMA shop",
                "CREATE TABLE shop.orders (id bigint PRIMARY KEY, customer int, total numeric(10,2))",
                "INSERT INTO shop.orders SELECT g, g % 137 + 1, g * 1.5 FROM generate_series(1, 2500) g",
                "CREATE TABLE shop.\"Audit Log\" (id int, msg text)",
                "INSERT INTO shop.\"Audit Log\" SELECT g, 'x' FROM generate_series(1, 42) g",
                "CREATE SCHEMA scratch",
                "CREATE TABLE scratch.tmp (id int)",
                "INSERT INTO scratch.tmp SELECT generate_series(1, 7)");
    }

    @AfterEach
    void dropDatabase() throws Exception {
        PG.dropDatabase(db);
        for (String d : extraDatabases) {
            PG.dropDatabase(d);
        }
    }

    private static void sql(String database, String... statements) throws Exception {
        try (Connection c = PG.connect(database);
                Statement s = c.createStatement()) {
            for (String st : statements) {
                s.execute(st);
            }
        }
    }

    private static long count(String database, String table) throws Exception {
        try (Connection c = PG.connect(database);
                Statement s = c.createStatement();
                ResultSet r = s.executeQuery("SELECT count(*) FROM " + table)) {
            r.next();
            return r.getLong(1);
        }
    }

    private PostgresSource.Builder source() {
        return PostgresSource.builder(PG.connection(db));
    }

    @Test
    void namesItselfLikeTheRunbook() {
        PostgresSource s = source().build();
        assertThat(s.kind()).isEqualTo("database");
        assertThat(s.baseName()).isEqualTo("db_backup");
        assertThat(s.suffix()).isEqualTo(".sql");
        assertThat(s.compressionLevel()).isEqualTo(9);
        assertThat(s.describe())
                .contains(db)
                .contains(PG.host() + ":" + PG.port())
                .contains("-Z 9");
        PostgresSource withPassword = PostgresSource.builder(PG.connection(db).toBuilder()
                        .password("Pw-never-shown".toCharArray())
                        .build())
                .build();
        assertThat(withPassword.describe() + withPassword).doesNotContain("Pw-never-shown");
    }

    @Test
    void encryptedBackupDecryptsWithGpgAndListsWithPgRestore() throws Exception {
        Path keyFile = TestKeys.keyFile(dir, "backup.key");
        LocalDirectorySink store = LocalDirectorySink.create(dir.resolve("store"));
        BackupManifest m = BackupPipeline.builder()
                .source(source().build())
                .encryption(OpenPgpTransform.builder()
                        .passphrase(PassphraseKeyFile.read(keyFile))
                        .build())
                .sink(store)
                .build()
                .run();
        assertThat(m.objectKey()).matches("database/db_backup_\\d{8}_\\d{6}\\.sql\\.gpg");
        assertThat(m.sourceFacts()).containsEntry("format", "custom").containsEntry("database", db);

        Path plain = dir.resolve("restored.dump");
        try (GpgCli gpg = GpgCli.create(dir)) {
            gpg.decrypt(store.pathOf(m.objectKey()), plain, keyFile).orThrow();
        }
        assertThat(Files.size(plain)).isEqualTo(m.plaintextSize());
        assertThat(new String(Files.readAllBytes(plain), 0, 5, StandardCharsets.US_ASCII))
                .isEqualTo("PGDMP");
        Cli.Result list =
                Cli.run(null, List.of(pgRestore(), "--list", plain.toString())).assertOk();
        assertThat(list.stdout())
                .contains("TABLE DATA public customers")
                .contains("TABLE DATA shop orders")
                .contains("Format: CUSTOM");
    }

    private static String pgRestore() {
        return PgToolLocator.system().locate("pg_restore", 15).path().toString();
    }

    @Test
    void factsMatchAnIndependentCountAndTheServer() throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        Map<String, Object> facts = source().build().writeTo(out);

        assertThat(facts)
                .containsEntry("database", db)
                .containsEntry("host", PG.host())
                .containsEntry("format", "custom")
                .containsEntry("compressionLevel", 9)
                .containsEntry("rowCountMode", "exact")
                .containsEntry("rowCountsExact", true)
                .containsEntry("tableCount", 4)
                .containsEntry("dumpBytes", (long) out.size());
        assertThat((String) facts.get("serverVersion")).startsWith("15.");
        assertThat((String) facts.get("pgDumpVersion")).startsWith("15.");
        assertThat((String) facts.get("pgDumpPath")).endsWith("/pg_dump");
        assertThat((Long) facts.get("databaseSizeBytes")).isGreaterThan(1_000_000L);
        assertThat(facts.get("rowCounts"))
                .isEqualTo(Map.of(
                        "public.customers", count(db, "public.customers"),
                        "shop.orders", count(db, "shop.orders"),
                        "shop.Audit Log", count(db, "shop.\"Audit Log\""),
                        "scratch.tmp", count(db, "scratch.tmp")));
        assertThat(facts.get("rowCounts"))
                .isEqualTo(Map.of(
                        "public.customers", 137L, "shop.orders", 2500L, "shop.Audit Log", 42L, "scratch.tmp", 7L));
    }

    @Test
    void rowCountsFollowTheSchemaAndTableFilters() throws Exception {
        Map<String, Object> facts = source().includeSchema("shop")
                .excludeTable("shop.\"Audit Log\"")
                .build()
                .writeTo(OutputStream.nullOutputStream());
        assertThat(facts.get("rowCounts")).isEqualTo(Map.of("shop.orders", 2500L));

        facts = source().excludeSchema("scr*").build().writeTo(OutputStream.nullOutputStream());
        assertThat(facts.get("rowCounts"))
                .isEqualTo(Map.of("public.customers", 137L, "shop.orders", 2500L, "shop.Audit Log", 42L));

        ByteArrayOutputStream dump = new ByteArrayOutputStream();
        facts = source().includeTable("customers")
                .includeTable("shop.ord?rs")
                .build()
                .writeTo(dump);
        assertThat(facts.get("rowCounts")).isEqualTo(Map.of("public.customers", 137L, "shop.orders", 2500L));
        Path f = dir.resolve("t.dump");
        Files.write(f, dump.toByteArray());
        String list = Cli.run(null, List.of(pgRestore(), "--list", f.toString()))
                .assertOk()
                .stdout();
        assertThat(list)
                .contains("TABLE DATA public customers")
                .contains("TABLE DATA shop orders")
                .doesNotContain("scratch")
                .doesNotContain("Audit Log");
    }

    @Test
    void rowCountsAreThoseOfTheDumpsSnapshotEvenWhenRowsArriveDuringTheDump() throws Exception {
        // rows inserted while pg_dump runs are neither in the dump nor in the counts
        sql(db, "CREATE TABLE public.big AS SELECT g AS id, md5(g::text) AS h FROM generate_series(1, 100000) g");
        long[] inserted = {0};
        OutputStream out = ChildProcesses.onceAfter(OutputStream.nullOutputStream(), 1, () -> {
            try {
                sql(db, "INSERT INTO public.customers SELECT g, 'late' FROM generate_series(1000, 1099) g");
                inserted[0] = 100;
            } catch (Exception e) {
                throw new AssertionError(e);
            }
        });
        Map<String, Object> facts = source().compressionLevel(0).build().writeTo(out);
        assertThat(inserted[0]).isEqualTo(100);
        @SuppressWarnings("unchecked")
        Map<String, Long> counts = (Map<String, Long>) facts.get("rowCounts");
        assertThat(counts).containsEntry("public.customers", 137L).containsEntry("public.big", 100000L);
        assertThat(count(db, "public.customers")).isEqualTo(237L);
    }

    @Test
    void estimateAndNoneRowCountModes() throws Exception {
        sql(db, "ANALYZE");
        Map<String, Object> facts =
                source().rowCounts(PostgresSource.RowCounts.ESTIMATE).build().writeTo(OutputStream.nullOutputStream());
        assertThat(facts).containsEntry("rowCountMode", "estimate").containsEntry("rowCountsExact", false);
        assertThat(facts.get("rowCounts"))
                .isEqualTo(Map.of(
                        "public.customers", 137L, "shop.orders", 2500L, "shop.Audit Log", 42L, "scratch.tmp", 7L));

        facts = source().rowCounts(PostgresSource.RowCounts.NONE).build().writeTo(OutputStream.nullOutputStream());
        assertThat(facts)
                .containsEntry("rowCountMode", "none")
                .containsEntry("rowCountsExact", false)
                .doesNotContainKey("rowCounts");
    }

    /**
     * On a cluster of its own that asks every connection for a scram password (the shared server may trust local
     * connections, where no password can be wrong): the dump only succeeds if pg_dump really received it.
     */
    @Test
    void passwordTravelsOnlyInTheEnvironmentNeverArgvLogsOrErrors() throws Exception {
        String password = "s3cret-Pw-" + Long.toHexString(System.nanoTime());
        PrintStream originalErr = System.err;
        ByteArrayOutputStream logs = new ByteArrayOutputStream();
        try (ThrowawayCluster scram = ThrowawayCluster.withPasswords()) {
            PgTestServer server = scram.server();
            String pwDb = server.createDatabase("pgsrc_pw");
            try (Connection c = server.connect(pwDb);
                    Statement s = c.createStatement()) {
                // big enough that pg_dump is still running when its first bytes arrive and its argv is read
                s.execute(
                        "CREATE TABLE public.big AS SELECT g AS id, md5(g::text) AS h FROM generate_series(1, 300000) g");
                s.execute("CREATE ROLE jiffoo_pw_test LOGIN PASSWORD '" + password + "'");
                s.execute("GRANT SELECT ON ALL TABLES IN SCHEMA public TO jiffoo_pw_test");
            }
            System.setErr(new PrintStream(logs, true, StandardCharsets.UTF_8));
            PgConnection conn = server.connection(pwDb).toBuilder()
                    .user("jiffoo_pw_test")
                    .password(password.toCharArray())
                    .build();
            PostgresSource source = PostgresSource.builder(conn).build();

            List<List<String>> argv = new CopyOnWriteArrayList<>();
            Map<String, Object> facts = source.writeTo(ChildProcesses.onceAfter(
                    OutputStream.nullOutputStream(), 1, ChildProcesses.recordPgDumpArguments(argv)));
            assertThat(argv).hasSize(1);
            assertThat(argv.get(0))
                    .isNotEmpty()
                    .noneMatch(a -> a.contains(password))
                    .anyMatch(a -> a.startsWith("--snapshot="));
            assertThat(source.command().argv(Path.of("pg_dump"), "snap")).noneMatch(a -> a.contains(password));
            assertThat(facts.toString()).doesNotContain(password);

            Map<String, String> env = ChildEnvironment.of(
                    Map.of(
                            "PGSERVICE",
                            "evil",
                            "PGHOSTADDR",
                            "10.0.0.1",
                            "PGPASSWORD",
                            "inherited",
                            "PGSSLROOTCERT",
                            "/etc/ca.pem",
                            "PATH",
                            "/usr/bin"),
                    conn,
                    "pg_dump");
            assertThat(env)
                    .doesNotContainKeys("PGSERVICE", "PGHOSTADDR")
                    .containsEntry("PGPASSWORD", password)
                    .containsEntry("PGUSER", "jiffoo_pw_test")
                    .containsEntry("PGDATABASE", pwDb)
                    .containsEntry("PGSSLROOTCERT", "/etc/ca.pem")
                    .containsEntry("PATH", "/usr/bin");

            PgConnection wrong = conn.toBuilder()
                    .password((password + "-wrong").toCharArray())
                    .build();
            assertThatThrownBy(() -> PostgresSource.builder(wrong).build().writeTo(OutputStream.nullOutputStream()))
                    .isInstanceOf(ConfigurationException.class)
                    .hasMessageContaining("refused the login of user jiffoo_pw_test")
                    .hasMessageContaining("password")
                    .satisfies(e -> assertThat(stackText(e)).doesNotContain(password));
        } finally {
            System.setErr(originalErr);
        }
        String logText = logs.toString(StandardCharsets.UTF_8);
        originalErr.print(logText);
        assertThat(logText).contains("pg_dump command").doesNotContain(password);
    }

    private static String stackText(Throwable e) {
        java.io.StringWriter w = new java.io.StringWriter();
        e.printStackTrace(new java.io.PrintWriter(w));
        return w.toString();
    }

    @Test
    void unknownDatabaseIsAConfigurationError() {
        PostgresSource s =
                PostgresSource.builder(PG.connection(db + "_missing")).build();
        assertThatThrownBy(() -> s.writeTo(OutputStream.nullOutputStream()))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("The database " + db + "_missing does not exist on " + PG.host());
    }

    @Test
    void unreachableServerIsASourceErrorNamingHostAndPort() throws Exception {
        int closed;
        try (ServerSocket s = new ServerSocket(0)) {
            closed = s.getLocalPort();
        }
        PgConnection c =
                PG.connection(db).toBuilder().host("127.0.0.1").port(closed).build();
        assertThatThrownBy(() -> PostgresSource.builder(c).build().writeTo(OutputStream.nullOutputStream()))
                .isInstanceOf(SourceException.class)
                .hasMessageContaining("Cannot reach the PostgreSQL server at 127.0.0.1:" + closed)
                .hasMessageContaining(db);
    }

    @Test
    void pgDumpNotInstalledSaysWhatToInstall() throws Exception {
        Path empty = Files.createDirectories(dir.resolve("empty-bin"));
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        assertThatThrownBy(() -> source().binDirectory(empty).build().writeTo(out))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("pg_dump was not found")
                .hasMessageContaining("install the Debian package postgresql-client (or postgresql-client-15");
        assertThat(out.size()).isZero();
    }

    @Test
    void pgDumpErrorIsQuotedWithExitCode() {
        // a table pattern that matches nothing with --strict-names: pg_dump exits 1 with a clear message
        PostgresSource s = source().includeTable("no_such_table")
                .extraArgs(List.of("--strict-names"))
                .build();
        assertThatThrownBy(() -> s.writeTo(OutputStream.nullOutputStream()))
                .isInstanceOf(SourceException.class)
                .hasMessageContaining("pg_dump failed with exit code 1 while dumping database " + db + " on "
                        + PG.host() + ":" + PG.port())
                .hasMessageContaining("no matching tables were found for pattern \"no_such_table\"");
    }

    @Test
    void aTableLockedLongerThanTheLockWaitTimeoutFailsTheBackupSayingWhatToDo() throws Exception {
        try (Connection migration = PG.connect(db);
                Statement s = migration.createStatement()) {
            migration.setAutoCommit(false);
            s.execute("LOCK TABLE shop.orders IN ACCESS EXCLUSIVE MODE"); // as ALTER TABLE or VACUUM FULL would
            assertThat(source().build().command().argv(Path.of("pg_dump"), "snap"))
                    .contains("--lock-wait-timeout=" + PostgresSource.DEFAULT_LOCK_WAIT_TIMEOUT.toMillis());
            long t0 = System.nanoTime();
            assertThatThrownBy(() -> source().lockWaitTimeout(java.time.Duration.ofSeconds(1))
                            .build()
                            .writeTo(OutputStream.nullOutputStream()))
                    .isInstanceOf(SourceException.class)
                    .hasMessageContaining("could not lock a table of database " + db)
                    .hasMessageContaining("lock wait timeout of 1 s")
                    .hasMessageContaining("pg_locks");
            assertThat(java.time.Duration.ofNanos(System.nanoTime() - t0)).isLessThan(java.time.Duration.ofSeconds(60));
            migration.rollback();
        }
        assertThat(ChildProcesses.pgDumps()).isEmpty();
        assertThat(source().lockWaitTimeout(java.time.Duration.ZERO)
                        .build()
                        .command()
                        .argv(Path.of("pg_dump"), "s"))
                .noneMatch(a -> a.startsWith("--lock-wait-timeout"));
        assertThat(source().extraArgs(List.of("--lock-wait-timeout=5s"))
                        .build()
                        .command()
                        .argv(Path.of("pg_dump"), "s"))
                .filteredOn(a -> a.startsWith("--lock-wait-timeout"))
                .containsExactly("--lock-wait-timeout=5s");
    }

    @Test
    void anInterruptedBackupKillsAPgDumpThatWaitsSilentlyForALock() throws Exception {
        LocalDirectorySink store = LocalDirectorySink.create(dir.resolve("store"));
        try (Connection migration = PG.connect(db);
                Statement s = migration.createStatement()) {
            migration.setAutoCommit(false);
            s.execute("LOCK TABLE shop.orders IN ACCESS EXCLUSIVE MODE");
            BackupPipeline pipeline = BackupPipeline.builder()
                    .source(source().lockWaitTimeout(java.time.Duration.ZERO).build()) // would wait forever
                    .unencrypted()
                    .sink(store)
                    .build();
            java.util.concurrent.atomic.AtomicReference<Throwable> failure =
                    new java.util.concurrent.atomic.AtomicReference<>();
            Thread job = new Thread(
                    () -> {
                        try {
                            pipeline.run();
                        } catch (Throwable t) {
                            failure.set(t);
                        }
                    },
                    "backup-job");
            job.start();
            // the dump itself (the tool locator's short `pg_dump --version` run is a pg_dump child too)
            java.util.function.Supplier<List<ProcessHandle>> dumping = () -> ChildProcesses.pgDumps().stream()
                    .filter(h -> h.info()
                            .arguments()
                            .map(a -> java.util.Arrays.stream(a).anyMatch(x -> x.startsWith("--snapshot=")))
                            .orElse(false))
                    .toList();
            long deadline = System.nanoTime() + 30_000_000_000L;
            while (dumping.get().isEmpty() && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            assertThat(dumping.get())
                    .as(() -> "pg_dump started; the backup: " + failure.get())
                    .hasSize(1);
            Thread.sleep(500); // pg_dump is now waiting for the lock and writes nothing
            job.interrupt(); // e.g. the job's shutdown hook on SIGTERM
            job.join(20_000);
            assertThat(job.isAlive()).as("the backup returned").isFalse();
            assertThat(failure.get()).isInstanceOf(BackupException.class);
            assertThat(ChildProcesses.pgDumps()).as("no pg_dump left").isEmpty();
            migration.rollback();
        }
        assertThat(store.list("")).isEmpty();
        // the source works again for the next backup
        assertThat(source().build().writeTo(OutputStream.nullOutputStream())).containsEntry("database", db);
    }

    @Test
    void killedPgDumpFailsWithTheSignal() throws Exception {
        sql(db, "CREATE TABLE public.big AS SELECT g AS id, md5(g::text) AS h FROM generate_series(1, 300000) g");
        OutputStream out = ChildProcesses.onceAfter(OutputStream.nullOutputStream(), 1, ChildProcesses::killPgDumps);
        assertThatThrownBy(() -> source().compressionLevel(0).build().writeTo(out))
                .isInstanceOf(SourceException.class)
                .hasMessageContaining(
                        "pg_dump was killed by signal 9 (SIGKILL, exit code 137) while dumping database " + db);
        assertThat(ChildProcesses.pgDumps()).isEmpty();
        // the same with the library compressing: the archive ends early, and pg_dump's fate is the message
        OutputStream compressed =
                ChildProcesses.onceAfter(OutputStream.nullOutputStream(), 1, ChildProcesses::killPgDumps);
        assertThatThrownBy(() -> source().compressionThreads(2).build().writeTo(compressed))
                .isInstanceOf(SourceException.class)
                .hasMessageContaining(
                        "pg_dump was killed by signal 9 (SIGKILL, exit code 137) while dumping database " + db);
        assertThat(ChildProcesses.pgDumps()).isEmpty();
    }

    @Test
    void theLibraryCompressesWithThreadsAndPgDumpWithout() throws Exception {
        sql(db, "CREATE TABLE public.big AS SELECT g AS id, md5(g::text) AS h FROM generate_series(1, 100000) g");
        java.io.ByteArrayOutputStream ours = new java.io.ByteArrayOutputStream();
        Map<String, Object> facts = source().compressionThreads(2).build().writeTo(ours);
        assertThat(facts)
                .containsEntry("compressedBy", "jiffoo-backup")
                .containsEntry("compressionThreads", 2)
                .containsEntry("compressionLevel", 9);
        java.io.ByteArrayOutputStream theirs = new java.io.ByteArrayOutputStream();
        Map<String, Object> own = source().compressionThreads(0).build().writeTo(theirs);
        assertThat(own).containsEntry("compressedBy", "pg_dump").doesNotContainKey("compressionThreads");
        // dumpBytes is the archive's size; pgDumpBytes what pg_dump wrote, uncompressed
        assertThat(facts.get("dumpBytes")).isEqualTo((long) ours.size());
        assertThat((long) facts.get("pgDumpBytes")).isGreaterThan(2L * ours.size());
        assertThat(own).doesNotContainKey("pgDumpBytes");
        assertThat((double) ours.size() / theirs.size()).isBetween(0.97, 1.01);
        assertThatThrownBy(() -> source().compressionThreads(-1)).isInstanceOf(ConfigurationException.class);
    }

    @Test
    void killedPgDumpInAPipelineLeavesNoManifestAndNoObject() throws Exception {
        sql(db, "CREATE TABLE public.big AS SELECT g AS id, md5(g::text) AS h FROM generate_series(1, 300000) g");
        Path keyFile = TestKeys.keyFile(dir, "backup.key");
        Path root = dir.resolve("store");
        LocalDirectorySink store = LocalDirectorySink.create(root);
        Transform killer = new Transform() {
            @Override
            public String suffix() {
                return "";
            }

            @Override
            public OutputStream encode(OutputStream out) {
                return ChildProcesses.onceAfter(
                        out,
                        256 * 1024,
                        () -> assertThat(ChildProcesses.killPgDumps()).isEqualTo(1));
            }

            @Override
            public InputStream decode(InputStream in) {
                return in;
            }

            @Override
            public Map<String, Object> describe() {
                return Map.of("type", "kill-pg_dump-after-256KiB");
            }
        };
        BackupPipeline pipeline = BackupPipeline.builder()
                .source(source().compressionLevel(0).build())
                .transform(killer)
                .encryption(OpenPgpTransform.builder()
                        .passphrase(PassphraseKeyFile.read(keyFile))
                        .build())
                .sink(store)
                .build();
        assertThatThrownBy(pipeline::run)
                .isInstanceOf(SourceException.class)
                .hasMessageContaining("killed by signal 9 (SIGKILL");
        assertThat(store.list("")).isEmpty();
        try (Stream<Path> files = Files.walk(root)) {
            assertThat(files.filter(Files::isRegularFile).toList()).isEmpty();
        }
    }

    @Test
    void downstreamFailureKillsPgDumpAndRethrows() throws Exception {
        sql(db, "CREATE TABLE public.big AS SELECT g AS id, md5(g::text) AS h FROM generate_series(1, 300000) g");
        List<Long> pids = new CopyOnWriteArrayList<>();
        OutputStream failing = ChildProcesses.failingAfter(
                100_000, () -> ChildProcesses.pgDumps().forEach(h -> pids.add(h.pid())));
        assertThatThrownBy(() -> source().compressionLevel(0).build().writeTo(failing))
                .isInstanceOf(IOException.class)
                .hasMessage("disk full (test)");
        assertThat(pids).hasSize(1);
        assertThat(ProcessHandle.of(pids.get(0)).map(ProcessHandle::isAlive).orElse(false))
                .isFalse();
        // and through the library's compressor
        List<Long> more = new CopyOnWriteArrayList<>();
        OutputStream failingToo = ChildProcesses.failingAfter(
                100_000, () -> ChildProcesses.pgDumps().forEach(h -> more.add(h.pid())));
        assertThatThrownBy(() -> source().compressionThreads(2).build().writeTo(failingToo))
                .isInstanceOf(IOException.class)
                .hasMessage("disk full (test)");
        assertThat(more).hasSize(1);
        assertThat(ProcessHandle.of(more.get(0)).map(ProcessHandle::isAlive).orElse(false))
                .isFalse();
    }

    @Test
    void builderRefusesBadSettings() {
        assertThatThrownBy(() -> source().compressionLevel(10))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("0..9");
        assertThatThrownBy(() -> source().compressionLevel(-1)).isInstanceOf(ConfigurationException.class);
        for (String bad : List.of(
                "-f",
                "-fout.sql",
                "--file=x",
                "--fi=x",
                "-Fp",
                "--format=plain",
                "-Z5",
                "--compress=3",
                "-j4",
                "--jobs=2",
                "-W",
                "--password",
                "-h",
                "--host=x",
                "-dpostgres",
                "--dbname=postgresql://u:pw@h/db",
                "--snapshot=1",
                "-xOf",
                "--version",
                "plain",
                "--lock-wait-timeout=password=1")) {
            assertThatThrownBy(() -> source().extraArgs(List.of(bad)))
                    .as(bad)
                    .isInstanceOf(ConfigurationException.class);
        }
        PostgresSource ok = source().extraArgs(List.of(
                        "--exclude-table-data=audit", "-Ox", "-tfoo", "--lock-wait-timeout=60s", "--no-comments"))
                .build();
        assertThat(ok.command().argv(Path.of("/bin/pg_dump"), "S1"))
                .containsSubsequence(
                        "--format=custom",
                        "--compress=9",
                        "--no-password",
                        "--snapshot=S1",
                        "--exclude-table-data=audit",
                        "-Ox",
                        "-tfoo");
        assertThatThrownBy(() -> source().includeTable("a.b.c")).isInstanceOf(ConfigurationException.class);
        assertThatThrownBy(() -> source().includeSchema("a.b")).isInstanceOf(ConfigurationException.class);
        assertThatThrownBy(() -> source().includeTable("\"open")).isInstanceOf(ConfigurationException.class);
    }

    @Test
    void toBuilderCopiesEverySetting() {
        PostgresSource a = source().compressionLevel(3)
                .includeSchema("shop")
                .excludeTable("x")
                .noOwner(true)
                .noPrivileges(true)
                .rowCounts(PostgresSource.RowCounts.NONE)
                .extraArgs(List.of("--no-comments"))
                .build();
        PostgresSource b = a.toBuilder().build();
        assertThat(b.command().argv(Path.of("pg_dump"), "s"))
                .isEqualTo(a.command().argv(Path.of("pg_dump"), "s"));
        assertThat(b.rowCounts()).isEqualTo(PostgresSource.RowCounts.NONE);
        assertThat(b.compressionLevel()).isEqualTo(3);
        assertThat(a.command().argv(Path.of("pg_dump"), "s"))
                .contains("--schema=shop", "--exclude-table=x", "--no-owner", "--no-privileges", "--no-comments");
    }

    @Test
    void exceptionsAreBackupExceptions() {
        assertThat(BackupException.class).isAssignableFrom(SourceException.class);
    }
}

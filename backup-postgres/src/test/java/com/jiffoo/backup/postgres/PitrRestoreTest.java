package com.jiffoo.backup.postgres;

import static com.jiffoo.backup.postgres.PitrFixture.asRoot;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.jiffoo.backup.BackupManifest;
import com.jiffoo.backup.NotFoundException;
import com.jiffoo.backup.RestoreException;
import com.jiffoo.backup.crypto.OpenPgpTransform;
import com.jiffoo.backup.crypto.PassphraseKeyFile;
import com.jiffoo.backup.store.LocalDirectorySink;
import com.jiffoo.backup.testutil.TestKeys;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Point-in-time restores of a throwaway cluster whose WAL is archived with {@code cp} (the store's own WAL archiving
 * is tested with the command line): a base backup, transaction A, time T, transaction B, a restore point, an
 * accidental DROP TABLE; restores to T, to the restore point and to the latest, each started and checked.
 */
class PitrRestoreTest {
    static ThrowawayCluster pg;
    static Path work;
    static Path archive;
    static LocalDirectorySink sink;
    static OpenPgpTransform pgp;
    static BackupManifest base;
    static String timeT;
    static Path keyFile;

    @BeforeAll
    static void setUp() throws Exception {
        work = PitrFixture.workDirectory("jiffoo-pitr-");
        archive = work.resolve("archive");
        pg = PitrFixture.archivingInto(archive);
        sink = LocalDirectorySink.create(work.resolve("store"));
        Path key = TestKeys.keyFile(work, "backup.key");
        keyFile = key;
        pgp = OpenPgpTransform.builder().passphrase(PassphraseKeyFile.read(key)).build();
        sql("CREATE TABLE orders (id int PRIMARY KEY, note text)", "CREATE TABLE customers AS SELECT 1 AS id");
        base = BaseBackupSourceTest.backUp(pg.connection(), sink, key);
        sql("INSERT INTO orders VALUES (1, 'A')");
        timeT = PitrFixture.timeBetween(pg);
        sql(
                "INSERT INTO orders VALUES (2, 'B')",
                "SELECT pg_create_restore_point('before_drop')",
                "DROP TABLE customers");
        PitrFixture.switchAndWait(pg, PitrFixture.inArchive(archive));
    }

    @AfterAll
    static void tearDown() throws Exception {
        PitrFixture.tearDown(pg, work);
    }

    @Test
    void restoreToATimeBetweenTwoTransactionsHasTheFirstOnly() throws Exception {
        List<String> rows = restoreAndQuery("t", RecoveryTarget.time(timeT, true), PitrRestore.Action.PROMOTE);
        assertThat(rows).containsExactly("1 A", "customers 1");
    }

    @Test
    void restoreToARestorePointBeforeADropTableHasTheTable() throws Exception {
        List<String> rows = restoreAndQuery("name", RecoveryTarget.name("before_drop"), PitrRestore.Action.PROMOTE);
        assertThat(rows).containsExactly("1 A", "2 B", "customers 1");
    }

    @Test
    void restoreToLatestHasEverything() throws Exception {
        List<String> rows = restoreAndQuery("latest", RecoveryTarget.LATEST, PitrRestore.Action.PROMOTE);
        assertThat(rows).containsExactly("1 A", "2 B", "customers gone");
    }

    @Test
    void theTrialRunsWithoutReadAheadOnlyWhenAskedTo() throws Exception {
        for (boolean readsAhead : new boolean[] {false, true}) {
            Path dir = work.resolve("trial-" + readsAhead);
            Path seenDir = Files.createDirectories(work.resolve("seen-" + readsAhead));
            Files.setPosixFilePermissions(
                    seenDir, java.nio.file.attribute.PosixFilePermissions.fromString("rwxrwxrwx"));
            Path seen = seenDir.resolve("variable"); // written by the trial, as the server's user when root
            PitrRestore.builder(sink, pgp, dir)
                    .target(RecoveryTarget.LATEST)
                    .restoreCommand("echo \"${" + PitrRestore.TRIAL_READ_AHEAD_VARIABLE + "-unset}\" > " + seen
                            + " && cp " + archive + "/%f %p")
                    .trialReadsAhead(readsAhead)
                    .build()
                    .run();
            assertThat(Files.readString(seen).trim()).isEqualTo(readsAhead ? "unset" : "0");
            assertThat(dir.resolve("recovery.signal")).exists();
        }
    }

    @Test
    void afterAPromotionARestoreToLatestFollowsTheNewTimeline() throws Exception {
        // an archive of its own: timeline 2 must not reach the other tests' archive
        Path archive2 = work.resolve("archive2");
        asRoot("cp", "-a", archive.toString(), archive2.toString());
        Path first = work.resolve("tl2-first");
        PitrRestore.builder(sink, pgp, first)
                .target(RecoveryTarget.time(timeT, true))
                .restoreCommand("cp " + archive2 + "/%f %p")
                .keepArchiving(true)
                .build()
                .run();
        asRoot(
                "sh",
                "-c",
                "echo \"archive_mode = 'on'\" >> " + first + "/postgresql.auto.conf; echo \"archive_command = '"
                        + ThrowawayCluster.copyInto(archive2) + "'\" >> " + first + "/postgresql.auto.conf");
        int port = freePort();
        try {
            RecoveryServer.builder(first, port).build().startAndWait();
            try (Connection c =
                            PgTestServer.at("127.0.0.1", port, "postgres", null).connect("postgres");
                    Statement s = c.createStatement()) {
                s.execute("INSERT INTO orders VALUES (3, 'C on timeline 2')");
                try (ResultSet r = s.executeQuery("SELECT pg_walfile_name(pg_current_wal_lsn())")) {
                    r.next();
                    String last = r.getString(1);
                    assertThat(last).startsWith("00000002");
                    s.execute("SELECT pg_switch_wal()");
                    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
                    while (!Files.exists(archive2.resolve(last))) {
                        assertThat(System.nanoTime()).as("%s archived", last).isLessThan(deadline);
                        Thread.sleep(200);
                    }
                }
            }
        } finally {
            stopServer(first);
        }
        assertThat(archive2.resolve("00000002.history")).exists();

        Path second = work.resolve("tl2-second");
        PitrRestore.builder(sink, pgp, second)
                .restoreCommand("cp " + archive2 + "/%f %p")
                .build()
                .run();
        int port2 = freePort();
        try {
            RecoveryServer.builder(second, port2).build().startAndWait();
            try (Connection c = PgTestServer.at("127.0.0.1", port2, "postgres", null)
                            .connect("postgres");
                    Statement s = c.createStatement();
                    ResultSet r =
                            s.executeQuery("SELECT string_agg(id || ' ' || note, ', ' ORDER BY id) FROM orders")) {
                r.next();
                // A, then C of timeline 2; B (timeline 1, after the branch point) is not on the way
                assertThat(r.getString(1)).isEqualTo("1 A, 3 C on timeline 2");
            }
        } finally {
            stopServer(second);
        }
    }

    @Test
    void pausedRestoreStaysInRecoveryAtTheTarget() throws Exception {
        Path dir = work.resolve("paused");
        restore(dir, RecoveryTarget.time(timeT, true))
                .action(PitrRestore.Action.PAUSE)
                .build()
                .run();
        int port = freePort();
        try {
            RecoveryServer.Outcome o = RecoveryServer.builder(dir, port)
                    .action(PitrRestore.Action.PAUSE)
                    .build()
                    .startAndWait();
            assertThat(o.state()).isEqualTo(RecoveryServer.State.PAUSED);
            assertThat(o.lastTransactionTime()).isNotNull();
        } finally {
            stopServer(dir);
        }
    }

    /**
     * The end of recovery is polled over one connection kept open, not over a new backend every 100 ms (each one server
     * CPU taken from the replay). A restore_command that takes a second per file keeps the server consistent and
     * recovering for seconds: dozens of polls.
     */
    @Test
    void recoveryIsPolledOverOneConnection() throws Exception {
        Path dir = work.resolve("one-poll-connection");
        PitrRestore.builder(sink, pgp, dir)
                .target(RecoveryTarget.LATEST)
                .restoreCommand("sleep 1 && cp " + archive + "/%f %p")
                .build()
                .run();
        int port = freePort();
        try {
            RecoveryServer.Outcome o = RecoveryServer.builder(dir, port)
                    .setting("log_connections=on")
                    .build()
                    .startAndWait();
            assertThat(o.state()).isEqualTo(RecoveryServer.State.PROMOTED);
            long connections = Files.readAllLines(dir.resolve(RecoveryServer.LOG_FILE)).stream()
                    .filter(l -> l.contains("connection authorized"))
                    .count();
            assertThat(connections).isEqualTo(1);
        } finally {
            stopServer(dir);
        }
    }

    @Test
    void aSettingLowerThanTheBackedUpServersIsNotTakenForTheTarget() throws Exception {
        // at the start of recovery PostgreSQL stops (FATAL); a change of the setting in the WAL during replay makes
        // it pause instead, which RecoveryServer refuses to take for the target (that case is not built here)
        Path dir = work.resolve("low-setting");
        restore(dir, RecoveryTarget.time(timeT, true))
                .action(PitrRestore.Action.PAUSE)
                .build()
                .run();
        // as an operator's edit would: fewer connections than the server that wrote the WAL (100)
        Files.writeString(
                dir.resolve("postgresql.auto.conf"), "max_connections = 10\n", java.nio.file.StandardOpenOption.APPEND);
        try {
            assertThatThrownBy(() -> RecoveryServer.builder(dir, freePort())
                            .action(PitrRestore.Action.PAUSE)
                            .timeout(java.time.Duration.ofMinutes(2))
                            .build()
                            .startAndWait())
                    .isInstanceOf(RestoreException.class)
                    .hasMessageContaining("the server stopped during recovery")
                    .hasMessageContaining("insufficient parameter settings")
                    .hasMessageContaining("max_connections = 10");
        } finally {
            stopServer(dir);
        }
    }

    @Test
    void aTargetBeyondTheArchiveFailsSayingTheTargetWasNotReached() throws Exception {
        Path dir = work.resolve("future");
        String future = java.time.Instant.now().plusSeconds(3600).toString();
        restore(dir, RecoveryTarget.time(future, true)).build().run();
        try {
            assertThatThrownBy(() -> RecoveryServer.builder(dir, freePort())
                            .timeout(java.time.Duration.ofMinutes(2))
                            .build()
                            .startAndWait())
                    .isInstanceOf(RestoreException.class)
                    .hasMessageContaining("recovery ended before the configured recovery target was reached")
                    .hasMessageContaining("nothing was promoted");
        } finally {
            stopServer(dir);
        }
    }

    @Test
    void aRestoreCommandThatFailsAsTheServerRunsItIsRefusedBeforeTheExtraction() {
        Path dir = work.resolve("preflight");
        Path elsewhere = work.resolve("no-such-archive");
        assertThatThrownBy(() -> PitrRestore.builder(sink, pgp, dir)
                        .restoreCommand("cp " + elsewhere + "/%f %p")
                        .build()
                        .run())
                .isInstanceOf(com.jiffoo.backup.ConfigurationException.class)
                .hasMessageContaining("restore_command failed when run as the server will run it")
                .hasMessageContaining(base.sourceFacts().get("startWalSegment").toString())
                .hasMessageContaining("exit code 1")
                .hasMessageContaining("Nothing was restored");
        assertThat(dir).doesNotExist();
    }

    @Test
    void aRestoreCommandThatFailsStopsTheExtractionOfALargeBaseBackupAtOnce() throws Exception {
        // a base backup of 24 MiB that does not compress: a random file in the data directory, written with head
        Path padding = pg.dataDirectory().resolve("jiffoo_padding");
        asRoot("sh", "-c", "head -c 25165824 /dev/urandom > " + padding + " && chown postgres:postgres " + padding);
        LocalDirectorySink bigStore = LocalDirectorySink.create(work.resolve("big-store"));
        BackupManifest big;
        try {
            big = BaseBackupSourceTest.backUp(pg.connection(), bigStore, keyFile);
        } finally {
            asRoot("rm", "-f", padding.toString());
        }
        assertThat(big.objectSize()).isGreaterThan(24L << 20);
        // the store's reads of the base backup stop after 1 MiB until the trial (a child process that fails at once)
        // has ended: from then on, the extraction must not read more than what is in flight
        com.jiffoo.backup.testutil.ScriptedSink store = new com.jiffoo.backup.testutil.ScriptedSink(bigStore)
                .pauseReadsAfter(big.objectKey()::equals, 1 << 20, PitrRestoreTest::awaitTheTrialsEnd);
        Path dir = work.resolve("stopped-early");
        assertThatThrownBy(() -> PitrRestore.builder(store, pgp, dir)
                        .backup(big.objectKey())
                        .restoreCommand("cp " + work.resolve("no-such-archive") + "/%f %p")
                        .build()
                        .run())
                .isInstanceOf(com.jiffoo.backup.ConfigurationException.class)
                .hasMessageContaining("restore_command failed when run as the server will run it")
                .hasMessageContaining("Nothing was restored");
        assertThat(store.bytesRead(big.objectKey()))
                .as("bytes of the %d-byte base backup read", big.objectSize())
                .isLessThan(big.objectSize() / 4);
        assertThat(dir).doesNotExist();
    }

    /** Waits until the restore_command's trial thread (started before the extraction reads) has ended. */
    private static void awaitTheTrialsEnd() {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (Thread.getAllStackTraces().keySet().stream()
                .anyMatch(t -> t.getName().equals("pitr-restore-command-trial") && t.isAlive())) {
            assertThat(System.nanoTime()).as("the trial ended").isLessThan(deadline);
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError(e);
            }
        }
    }

    @Test
    void aReplayThatEndedBeforeTheNewestArchivedSegmentIsNotTakenForTheLatest() {
        Path dir = work.resolve("reach");
        PitrRestore.Reach reach = new PitrRestore.Reach(
                true, "000000010000000000000002", "000000010000000000000005", "0/5000000", List.of(1L), null);
        assertThatThrownBy(() -> reach.requireReached("0/4FFFFD8", dir))
                .isInstanceOf(RestoreException.class)
                .hasMessageContaining("ended at 0/4FFFFD8, before the newest archived WAL")
                .hasMessageContaining("000000010000000000000005");
        assertThatCode(() -> reach.requireReached("0/5000028", dir)).doesNotThrowAnyException();
        assertThatCode(() -> PitrRestore.Reach.unchecked().requireReached("0/1000000", dir))
                .doesNotThrowAnyException();
    }

    @Test
    void aStrayPercentInTheRestoreCommandIsRefusedAsPostgresqlWould() {
        assertThat(PitrRestore.substitute("cp /a%%b/%f %p # %r", "F", "/P", "R"))
                .isEqualTo("cp /a%b/F /P # R");
        assertThatCode(() -> PitrRestore.builder(sink, pgp, work.resolve("percent"))
                        .restoreCommand("cp /mnt/50%%off/%f %p")
                        .build())
                .doesNotThrowAnyException();
        assertThatThrownBy(() -> PitrRestore.builder(sink, pgp, work.resolve("percent"))
                        .restoreCommand("cp /mnt/50%off/%f %p")
                        .build())
                .isInstanceOf(com.jiffoo.backup.ConfigurationException.class)
                .hasMessageContaining("'%o'")
                .hasMessageContaining("as '%%'");
    }

    @Test
    void aNonEmptyDirectoryIsRefusedAndKeptAsItWas() throws Exception {
        Path dir = work.resolve("busy");
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("keep.txt"), "mine");
        com.jiffoo.backup.testutil.ScriptedSink counting = new com.jiffoo.backup.testutil.ScriptedSink(sink);
        assertThatThrownBy(() -> PitrRestore.builder(counting, pgp, dir)
                        .restoreCommand("cp " + archive + "/%f %p")
                        .build()
                        .run())
                .isInstanceOf(RestoreException.class)
                .hasMessageContaining("not empty");
        assertThat(counting.bytesRead(base.objectKey()))
                .as("refused before a byte of the base backup was read")
                .isZero();
        try (var files = Files.list(dir)) {
            assertThat(files.map(p -> p.getFileName().toString()).toList()).containsExactly("keep.txt");
        }
    }

    @Test
    void aTargetBeforeEveryBaseBackupIsRefusedNamingTheOldest() {
        assertThatThrownBy(() -> restore(work.resolve("early"), RecoveryTarget.time("2001-01-01 00:00:00+00", true))
                        .build()
                        .plan())
                .isInstanceOf(NotFoundException.class)
                .hasMessageContaining(base.objectKey());
        assertThat(Files.exists(work.resolve("early"))).isFalse();
    }

    @Test
    void theSettingsAreAppendedAndTheSignalWrittenLast() throws Exception {
        Path dir = work.resolve("settings");
        PitrRestore.Result r = restore(
                        dir,
                        RecoveryTarget.lsn(base.sourceFacts().get("stopLsn").toString()))
                .build()
                .run();
        String auto = Files.readString(dir.resolve("postgresql.auto.conf"));
        assertThat(auto)
                .contains("restore_command = 'cp " + archive + "/%f %p'")
                .contains("recovery_target_lsn = '" + base.sourceFacts().get("stopLsn") + "'")
                .contains("recovery_target_action = 'promote'")
                .contains("archive_mode = 'off'");
        assertThat(r.plan().manifest().objectKey()).isEqualTo(base.objectKey());
        assertThat(Files.exists(dir.resolve("recovery.signal"))).isTrue();
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(dir)))
                .isEqualTo("rwx------");
        assertThat(Files.getOwner(dir.resolve("PG_VERSION")).getName()).isEqualTo("postgres");
    }

    private static PitrRestore.Builder restore(Path dir, RecoveryTarget target) {
        return PitrRestore.builder(sink, pgp, dir).target(target).restoreCommand("cp " + archive + "/%f %p");
    }

    private static List<String> restoreAndQuery(String name, RecoveryTarget target, PitrRestore.Action action)
            throws Exception {
        Path dir = work.resolve(name);
        restore(dir, target).action(action).build().run();
        int port = freePort();
        try {
            RecoveryServer.Outcome o =
                    RecoveryServer.builder(dir, port).action(action).build().startAndWait();
            assertThat(o.state()).isEqualTo(RecoveryServer.State.PROMOTED);
            assertThat(o.lastReplayedLsn()).matches("[0-9A-F]+/[0-9A-F]+");
            List<String> rows = new ArrayList<>();
            try (Connection c =
                            PgTestServer.at("127.0.0.1", port, "postgres", null).connect("postgres");
                    Statement s = c.createStatement()) {
                try (ResultSet r = s.executeQuery("SELECT id, note FROM orders ORDER BY id")) {
                    while (r.next()) {
                        rows.add(r.getInt(1) + " " + r.getString(2));
                    }
                }
                try (ResultSet r = s.executeQuery("SELECT to_regclass('customers') IS NOT NULL")) {
                    r.next();
                    rows.add(r.getBoolean(1) ? "customers 1" : "customers gone");
                }
            }
            return rows;
        } finally {
            stopServer(dir);
        }
    }

    private static void stopServer(Path dir) throws IOException, InterruptedException {
        ThrowawayCluster.stopServer(dir);
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    private static void sql(String... statements) throws SQLException {
        PitrFixture.sql(pg, statements);
    }

    private static String query(String q) throws SQLException {
        return PitrFixture.query(pg, q);
    }
}

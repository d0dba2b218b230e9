package com.jiffoo.backup.wal;

import static org.assertj.core.api.Assertions.assertThat;

import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.crypto.OpenPgpTransform;
import com.jiffoo.backup.crypto.PassphraseKeyFile;
import com.jiffoo.backup.postgres.ThrowawayCluster;
import com.jiffoo.backup.store.LocalDirectorySink;
import com.jiffoo.backup.testutil.TestKeys;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link WalUploader} against a real PostgreSQL 16 cluster whose {@code archive_command} is the asynchronous mode's
 * gate, {@code test -f SPOOL/%f.ok} (what the launcher checks without Java), followed by a {@code cp} that keeps a
 * copy of each file PostgreSQL let go, to compare with what the store holds.
 */
class WalUploaderTest {
    @TempDir
    Path tmp;

    @Test
    void uploadsWhatPostgresMarksReadyAheadOfArchiveCommandAndCleansUp() throws Exception {
        Path base = Files.createTempDirectory("jiffoo-wal-async-");
        Files.setPosixFilePermissions(base, PosixFilePermissions.fromString("rwxrwxrwx"));
        Path spool = base.resolve("spool");
        Path copies = base.resolve("copies");
        Files.createDirectories(spool);
        Files.createDirectories(copies);
        Files.setPosixFilePermissions(copies, PosixFilePermissions.fromString("rwxrwxrwx"));
        Path key = TestKeys.keyFile(tmp, "backup.key");
        // the launcher's gate: wait a while for the uploader's answer (PostgreSQL backs off for a minute after three
        // failed attempts), then keep a copy of what PostgreSQL lets go
        String gate = "i=0; while [ ! -f " + spool + "/%f.ok ] && [ $i -lt 20 ]; do sleep 0.05; i=$((i+1)); done;"
                + " test -f " + spool + "/%f.ok && " + ThrowawayCluster.copyInto(copies);
        try (ThrowawayCluster pg = ThrowawayCluster.withArchiving(gate);
                Connection c = pg.connect();
                Statement st = c.createStatement();
                LocalDirectorySink sink = LocalDirectorySink.create(tmp.resolve("store"))) {
            WalArchive archive = WalArchive.builder()
                    .sink(sink)
                    .encryption(OpenPgpTransform.builder()
                            .passphrase(PassphraseKeyFile.read(key))
                            .build())
                    .build();
            st.execute("create table t (id int, pad text)");
            for (int i = 0; i < 4; i++) {
                st.execute("insert into t select g, repeat('x', 300) from generate_series(1, 20000) g");
                st.execute("select pg_switch_wal()");
            }
            WalUploader uploader = WalUploader.builder()
                    .archive(archive)
                    .pgdata(pg.dataDirectory())
                    .spool(spool)
                    .poll(Duration.ofMillis(50))
                    .build();
            // nothing archived yet: the gate has no .ok to find, the files wait as .ready
            assertThat(archivedCount(st)).isZero();
            WalUploader.Backlog before = uploader.backlog();
            assertThat(before.files()).isGreaterThanOrEqualTo(4);
            assertThat(before.oldest()).isPresent();

            Thread t = new Thread(uploader::run, "uploader");
            t.start();
            try {
                // every ready file gets its answer; then a reload wakes the archiver, which backs off for a minute
                // after three failed attempts (as it did while no uploader ran)
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
                while (uploader.backlog().files() > 0 && System.nanoTime() < deadline) {
                    Thread.sleep(50);
                }
                assertThat(uploader.backlog().files()).isZero();
                st.execute("select pg_reload_conf()");
                awaitArchived(st, 4);
                // a second uploader on the same spool is refused
                WalUploader second = WalUploader.builder()
                        .archive(archive)
                        .pgdata(pg.dataDirectory())
                        .spool(spool)
                        .lockWait(Duration.ofMillis(500)) // the default, 60 s, allows for a wal-push's one push
                        .build();
                try {
                    second.run();
                    throw new AssertionError("a second uploader ran");
                } catch (ConfigurationException e) {
                    assertThat(e.getMessage()).contains("Another WAL uploader runs on " + spool);
                }
                assertThat(WalUploader.running(spool)).isTrue();
                // the files PostgreSQL marked done lose their status files
                awaitNoStatusFiles(spool);
            } finally {
                uploader.stop();
                t.join(60_000);
            }
            assertThat(t.isAlive()).isFalse();
            assertThat(WalUploader.running(spool)).isFalse();
            assertThat(uploader.backlog().files()).isZero();

            // every file PostgreSQL let go is in the store, byte for byte
            List<Path> let;
            try (Stream<Path> s = Files.list(copies)) {
                let = s.filter(p -> !p.getFileName().toString().endsWith(".part"))
                        .sorted()
                        .toList();
            }
            assertThat(let).hasSizeGreaterThanOrEqualTo(4);
            for (Path copy : let) {
                Path back = tmp.resolve("back-" + copy.getFileName());
                assertThat(archive.fetch(copy.getFileName().toString(), back)).isEqualTo(WalArchive.Fetched.FOUND);
                assertThat(Files.mismatch(back, copy)).as("%s", copy).isEqualTo(-1L);
            }
            assertThat(Files.readString(spool.resolve(WalUploader.CLUSTER)).trim())
                    .isEqualTo(systemIdentifier(st));
        } finally {
            ThrowawayCluster.deleteTree(base);
        }
    }

    @Test
    void aSpoolOfAnotherClusterLosesItsStatusFiles() throws Exception {
        Path base = Files.createTempDirectory("jiffoo-wal-async-");
        Files.setPosixFilePermissions(base, PosixFilePermissions.fromString("rwxrwxrwx"));
        Path spool = base.resolve("spool");
        Files.createDirectories(spool);
        // a stale answer left by another cluster for a name this one will use: it must not answer for it
        Files.writeString(spool.resolve(WalUploader.CLUSTER), "7000000000000000001\n");
        Files.writeString(spool.resolve("000000010000000000000001.ok"), "STORED\n");
        Path key = TestKeys.keyFile(tmp, "backup.key");
        try (ThrowawayCluster pg = ThrowawayCluster.withArchiving("test -f " + spool + "/%f.ok");
                Connection c = pg.connect();
                Statement st = c.createStatement();
                LocalDirectorySink sink = LocalDirectorySink.create(tmp.resolve("store"))) {
            WalUploader uploader = WalUploader.builder()
                    .archive(WalArchive.builder()
                            .sink(sink)
                            .encryption(OpenPgpTransform.builder()
                                    .passphrase(PassphraseKeyFile.read(key))
                                    .build())
                            .build())
                    .pgdata(pg.dataDirectory())
                    .spool(spool)
                    .poll(Duration.ofMillis(50))
                    .idleExit(Duration.ofMillis(300))
                    .build();
            uploader.run();
            assertThat(Files.readString(spool.resolve(WalUploader.CLUSTER)).trim())
                    .isEqualTo(systemIdentifier(st));
            assertThat(spool.resolve("000000010000000000000001.ok")).doesNotExist();
        } finally {
            ThrowawayCluster.deleteTree(base);
        }
    }

    private static String systemIdentifier(Statement st) throws Exception {
        try (ResultSet r = st.executeQuery("select system_identifier from pg_control_system()")) {
            r.next();
            return Long.toUnsignedString(r.getLong(1));
        }
    }

    private static long archivedCount(Statement st) throws Exception {
        try (ResultSet r = st.executeQuery("select archived_count from pg_stat_archiver")) {
            r.next();
            return r.getLong(1);
        }
    }

    private static void awaitArchived(Statement st, int n) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (System.nanoTime() < deadline) {
            if (archivedCount(st) >= n) {
                return;
            }
            Thread.sleep(100);
        }
        throw new AssertionError("PostgreSQL archived fewer than " + n + " files in 120 s");
    }

    private static void awaitNoStatusFiles(Path spool) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (System.nanoTime() < deadline) {
            try (Stream<Path> s = Files.list(spool)) {
                if (s.noneMatch(p -> p.toString().endsWith(WalUploader.OK))) {
                    return;
                }
            }
            Thread.sleep(100);
        }
        throw new AssertionError("status files of archived WAL were not removed");
    }
}

package com.jiffoo.backup.postgres;

import static org.assertj.core.api.Assertions.assertThat;

import com.jiffoo.backup.ClockSkew;
import com.jiffoo.backup.Sink;
import com.jiffoo.backup.StoredObject;
import com.jiffoo.backup.crypto.OpenPgpTransform;
import com.jiffoo.backup.crypto.PassphraseKeyFile;
import com.jiffoo.backup.store.LocalDirectorySink;
import com.jiffoo.backup.store.StoreLayout;
import com.jiffoo.backup.wal.ArchiverCheck;
import com.jiffoo.backup.wal.WalArchive;
import com.jiffoo.backup.wal.WalContinuity;
import com.jiffoo.backup.wal.WalRetention;
import com.jiffoo.backup.wal.WalSegment;
import com.jiffoo.backup.wal.WalStores;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Continuity and retention on a store built from a real archive: a throwaway PostgreSQL 16 with
 * {@code archive_command} copying into a directory, segments switched between inserts, each archived file pushed into a local
 * store by {@link WalArchive} (as {@code wal-push} does).
 */
class WalArchiveContinuityTest {
    @TempDir
    Path tmp;

    @Test
    void aSegmentDeletedFromARealArchiveIsReportedExactlyAndRetentionKeepsWhatTheBaseBackupNeeds() throws Exception {
        // the server runs as another user: the archive lies outside the test's private temporary directory
        Path archive = Files.createTempDirectory("jiffoo-wal-archive-");
        Files.setPosixFilePermissions(archive, PosixFilePermissions.fromString("rwxrwxrwx"));
        try {
            check(archive);
        } finally {
            try (var files = Files.list(archive)) {
                for (Path f : files.toList()) {
                    Files.delete(f);
                }
            }
            Files.delete(archive);
        }
    }

    private void check(Path archive) throws Exception {
        List<String> switched;
        try (ThrowawayCluster pg = ThrowawayCluster.withArchiving(ThrowawayCluster.copyInto(archive));
                Connection c = pg.connect();
                Statement st = c.createStatement()) {
            st.execute("CREATE TABLE orders (id int, note text)");
            switched = pg.switchSegments(
                    6, "INSERT INTO orders SELECT g, md5(g::text) FROM generate_series(1, 1000) g", archive);
            // the server's archiver: nothing waiting, no failure
            var archiver = ArchiverCheck.create(pg.connection(), 10)
                    .check(null, ClockSkew.at(Instant.now(), ClockSkew.DEFAULT_TOLERANCE));
            assertThat(archiver.findings()).isEmpty();
            assertThat(archiver.facts()).containsEntry("archiveMode", "on").containsEntry("failedCount", 0L);

            // an archive_command that fails: CRITICAL once the failure is newer than the last success
            // (the setting is on the server's command line, which a reload does not override: take the directory)
            Files.setPosixFilePermissions(archive, PosixFilePermissions.fromString("r-xr-xr-x"));
            st.execute("INSERT INTO orders VALUES (0, 'after')");
            st.execute("SELECT pg_switch_wal()");
            List<String> failing = List.of();
            for (long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
                    failing.isEmpty() && System.nanoTime() < end; ) {
                Thread.sleep(200);
                failing = ArchiverCheck.create(pg.connection(), 10)
                        .check(null, ClockSkew.at(Instant.now(), ClockSkew.DEFAULT_TOLERANCE))
                        .findings()
                        .stream()
                        .map(com.jiffoo.backup.monitor.Finding::message)
                        .toList();
            }
            assertThat(failing).singleElement().asString().contains("the last archive attempt failed");
            // while archiving still fails (the server retries every second: once the directory is writable again,
            // the segment may be archived before a slow check runs)
            assertThat(ArchiverCheck.create(pg.connection(), 0)
                            .check(null, ClockSkew.at(Instant.now(), ClockSkew.DEFAULT_TOLERANCE))
                            .findings())
                    .anySatisfy(f -> assertThat(f.message()).contains("1 WAL segments wait to be archived"));
            Files.setPosixFilePermissions(archive, PosixFilePermissions.fromString("rwxrwxrwx"));
        }

        Sink sink = LocalDirectorySink.create(tmp.resolve("store"));
        Path keyFile = tmp.resolve("backup.key");
        Files.writeString(keyFile, "correct horse battery staple for the WAL test\n");
        Files.setPosixFilePermissions(keyFile, PosixFilePermissions.fromString("rw-------"));
        WalArchive wal = WalArchive.builder()
                .sink(sink)
                .encryption(OpenPgpTransform.builder()
                        .passphrase(PassphraseKeyFile.read(keyFile))
                        .build())
                .build();
        List<String> names = new ArrayList<>();
        try (var files = Files.list(archive)) {
            for (Path f : files.sorted().toList()) {
                String name = f.getFileName().toString();
                if (WalSegment.isName(name)) {
                    names.add(name);
                    assertThat(wal.push(f)).isEqualTo(WalArchive.Pushed.STORED);
                }
            }
        }
        assertThat(names).containsAll(switched).hasSizeGreaterThanOrEqualTo(6);
        // a base backup that started in the second switched segment and ended in the third
        String baseStart = switched.get(1);
        WalStores.base(sink, "base_1", 1, baseStart, switched.get(2), Instant.now());

        WalContinuity.Report whole = WalContinuity.builder().sink(sink).build().check();
        assertThat(whole.continuous()).as(whole.toString()).isTrue();
        assertThat(whole.start()).isEqualTo(baseStart);
        assertThat(whole.newestSegment()).isEqualTo(names.get(names.size() - 1));

        String lost = switched.get(3);
        WalStores.deleteAll(sink, StoreLayout.walSegmentKey(lost, WalStores.SUFFIXES));
        WalContinuity.Report r = WalContinuity.builder().sink(sink).build().check();
        assertThat(r.gaps()).containsExactly(new WalContinuity.Gap(1, lost, lost, 1, List.of("base_1")));
        assertThat(r.unrestorable()).isEmpty(); // the gap lies after its stop segment

        Set<String> before = keys(sink);
        WalRetention.Report pruned = WalRetention.of(sink)
                .prune(com.jiffoo.backup.StoredBackups.of(sink).committed(StoreLayout.BASE_BACKUP_KIND), false);
        Set<String> expected = new TreeSet<>();
        for (String key : before) {
            String name = key.substring(key.lastIndexOf('/') + 1, key.lastIndexOf('/') + 25);
            if (name.compareTo(baseStart) >= 0) {
                expected.add(key);
            }
        }
        assertThat(pruned.keepFrom()).isEqualTo(baseStart);
        assertThat(keys(sink)).isEqualTo(expected);
        assertThat(expected).contains(StoreLayout.walSegmentKey(baseStart, WalStores.SUFFIXES));
    }

    private static Set<String> keys(Sink sink) throws java.io.IOException {
        Set<String> out = new TreeSet<>();
        for (StoredObject o : sink.list(StoreLayout.WAL_PREFIX)) {
            if (!o.key().equals(com.jiffoo.backup.wal.WalHead.KEY)) { // the head stays: it names the newest segment
                out.add(o.key());
            }
        }
        return out;
    }
}

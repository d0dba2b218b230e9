package com.jiffoo.backup.wal;

import static com.jiffoo.backup.wal.WalContinuityTest.seg;
import static org.assertj.core.api.Assertions.assertThat;

import com.jiffoo.backup.BackupTrust;
import com.jiffoo.backup.Sink;
import com.jiffoo.backup.SinkOutput;
import com.jiffoo.backup.StoredObject;
import com.jiffoo.backup.monitor.BackupMonitor;
import com.jiffoo.backup.monitor.Finding;
import com.jiffoo.backup.monitor.HealthReport;
import com.jiffoo.backup.monitor.HealthStatus;
import com.jiffoo.backup.monitor.StoreCheckHealth;
import com.jiffoo.backup.store.LocalDirectorySink;
import com.jiffoo.backup.store.StoreLayout;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class WalArchiveCheckTest {
    @TempDir
    Path dir;

    private static HealthReport monitor(Sink sink, Instant now) {
        return BackupMonitor.builder()
                .sink(sink)
                .kinds(StoreLayout.BASE_BACKUP_KIND)
                .clock(Clock.fixed(now, ZoneOffset.UTC))
                .storeCheck(WalArchiveCheck.create(BackupTrust.STORE, Duration.ofMinutes(5), null))
                .build()
                .checkBackupFreshness();
    }

    private static StoreCheckHealth wal(HealthReport r) {
        assertThat(r.storeChecks()).extracting(StoreCheckHealth::name).containsExactly("wal");
        return r.storeChecks().get(0);
    }

    @Test
    void lagIsOkAtFourMinutesAndCriticalAtSix() throws IOException {
        Sink sink = LocalDirectorySink.create(dir);
        String key = null;
        for (int n = 1; n <= 3; n++) {
            key = WalStores.push(sink, seg(1, n), new byte[] {1});
        }
        WalStores.base(sink, "base_1", 1, seg(1, 1), seg(1, 2), Instant.now());
        Instant committed = sink.list(StoreLayout.manifestKey(key)).get(0).lastModified();

        HealthReport ok = monitor(sink, committed.plus(Duration.ofMinutes(4)));
        assertThat(wal(ok).status()).isEqualTo(HealthStatus.OK);
        assertThat(wal(ok).summary()).contains(seg(1, 3)).contains("continuous");
        assertThat(ok.status()).isEqualTo(HealthStatus.OK);

        HealthReport late = monitor(sink, committed.plus(Duration.ofMinutes(6)));
        assertThat(late.status()).isEqualTo(HealthStatus.CRITICAL);
        assertThat(wal(late).findings()).extracting(Finding::check).containsExactly("wal-lag");
        assertThat(wal(late).findings().get(0).message()).contains("6m").contains("5m");
        assertThat(late.summaryLines()).anySatisfy(l -> assertThat(l).startsWith("wal: CRITICAL"));
        assertThat(late.toJson()).contains("\"storeChecks\":[{\"name\":\"wal\",\"status\":\"CRITICAL\"");
    }

    @Test
    void aGapSinceTheOldestBaseBackupIsCritical() throws IOException {
        Sink sink = LocalDirectorySink.create(dir);
        for (int n = 1; n <= 4; n++) {
            WalStores.push(sink, seg(1, n), new byte[] {1});
        }
        WalStores.base(sink, "base_1", 1, seg(1, 1), seg(1, 1), Instant.now());
        WalStores.deleteAll(sink, StoreLayout.walSegmentKey(seg(1, 3), WalStores.SUFFIXES));
        HealthReport r = monitor(sink, Instant.now());
        assertThat(wal(r).status()).isEqualTo(HealthStatus.CRITICAL);
        assertThat(wal(r).findings())
                .singleElement()
                .satisfies(f -> assertThat(f.message()).contains(seg(1, 3)).contains("base_1"));
    }

    @Test
    void noWalOrAnUnreadableStoreIsNeverOk() throws IOException {
        Sink sink = LocalDirectorySink.create(dir);
        WalStores.base(sink, "base_1", 1, seg(1, 1), seg(1, 1), Instant.now());
        assertThat(wal(monitor(sink, Instant.now())).status()).isEqualTo(HealthStatus.CRITICAL);

        Sink unreadable = new WalUnreadable(sink);
        HealthReport r = monitor(unreadable, Instant.now());
        assertThat(wal(r).status()).isEqualTo(HealthStatus.CRITICAL);
        assertThat(wal(r).findings().get(0).message()).contains("could not run").contains("Cannot list the WAL");
    }

    @Test
    void aServerThatCannotBeAskedIsCriticalNotOk() throws IOException {
        Sink sink = LocalDirectorySink.create(dir);
        WalStores.base(sink, "base_1", 1, seg(1, 1), seg(1, 1), Instant.now());
        HealthReport r = BackupMonitor.builder()
                .sink(sink)
                .kinds(StoreLayout.BASE_BACKUP_KIND)
                .storeCheck(ArchiverCheck.create(
                        com.jiffoo.backup.postgres.PgConnection.builder()
                                .host("127.0.0.1")
                                .port(1)
                                .database("postgres")
                                .user("postgres")
                                .build(),
                        10))
                .build()
                .checkBackupFreshness();
        StoreCheckHealth archiver = r.storeChecks().get(0);
        assertThat(archiver.name()).isEqualTo("archiver");
        assertThat(archiver.status()).isEqualTo(HealthStatus.CRITICAL);
        assertThat(archiver.findings().get(0).message()).contains("Cannot ask").contains("127.0.0.1");
        assertThat(r.status()).isEqualTo(HealthStatus.CRITICAL);
    }

    /** Sets the time a committed WAL file's manifest was written (what the listing reports as its commit). */
    private static void committedAt(Path root, String dataKey, Instant at) throws IOException {
        java.nio.file.Files.setLastModifiedTime(
                root.resolve(StoreLayout.manifestKey(dataKey)), java.nio.file.attribute.FileTime.from(at));
    }

    private static HealthReport monitorWithCopy(Sink store, Sink copy, Instant now, WalArchiveCheck check) {
        return BackupMonitor.builder()
                .sink(store)
                .copy(copy)
                .kinds(StoreLayout.BASE_BACKUP_KIND)
                .clock(Clock.fixed(now, ZoneOffset.UTC))
                .storeCheck(check)
                .build()
                .checkBackupFreshness();
    }

    private static StoreCheckHealth copyWal(HealthReport r) {
        assertThat(r.copies()).hasSize(1);
        assertThat(r.copies().get(0).checks())
                .extracting(StoreCheckHealth::name)
                .containsExactly("wal");
        return r.copies().get(0).checks().get(0);
    }

    @Test
    void aCopyThatLacksWalTheStoreCommittedBeyondItsLimitIsCriticalForThatCopy() throws IOException {
        Path storeDir = dir.resolve("store");
        Path copyDir = dir.resolve("copy");
        Sink store = LocalDirectorySink.create(storeDir);
        Sink copy = LocalDirectorySink.create(copyDir);
        Instant t = Instant.now().truncatedTo(java.time.temporal.ChronoUnit.SECONDS);
        for (int n = 1; n <= 4; n++) {
            committedAt(storeDir, WalStores.push(store, seg(1, n), new byte[] {1}), t);
            if (n <= 3) {
                // copied later, by a scheduled copy: the copy's own newest file looks fresh
                committedAt(copyDir, WalStores.push(copy, seg(1, n), new byte[] {1}), t.plus(Duration.ofMinutes(5)));
            }
        }
        WalStores.base(store, "base_1", 1, seg(1, 1), seg(1, 2), t);
        WalStores.base(copy, "base_1", 1, seg(1, 1), seg(1, 2), t);
        WalArchiveCheck check = WalArchiveCheck.create(BackupTrust.STORE, Duration.ofMinutes(10), null)
                .copyMaxLag(Duration.ofMinutes(5));

        // 4 minutes after the store committed the segment the copy lacks: within the copy's limit
        HealthReport early = monitorWithCopy(store, copy, t.plus(Duration.ofMinutes(4)), check);
        assertThat(copyWal(early).status()).isEqualTo(HealthStatus.OK);
        assertThat(early.status()).isEqualTo(HealthStatus.OK);

        HealthReport late = monitorWithCopy(store, copy, t.plus(Duration.ofMinutes(6)), check);
        assertThat(wal(late).status()).as("the store is within its own limit").isEqualTo(HealthStatus.OK);
        StoreCheckHealth c = copyWal(late);
        assertThat(c.findings()).extracting(Finding::check).containsExactly("wal-behind");
        assertThat(c.findings().get(0).message())
                .contains("lacks 1 WAL file")
                .contains(store.location())
                .contains(seg(1, 4))
                .contains("copy --from");
        assertThat(late.status()).isEqualTo(HealthStatus.CRITICAL);
        assertThat(late.summaryLines())
                .anySatisfy(l -> assertThat(l).startsWith("copy " + copy.location() + " wal: CRITICAL"))
                .anySatisfy(l -> assertThat(l).startsWith("store " + store.location() + " wal: OK"));
        assertThat(late.toJson())
                .contains("\"check\":\"wal-behind\",\"status\":\"CRITICAL\"")
                .contains("\"store\":\"" + copy.location() + "\"");

        // the copy's own newest file ages past its limit: wal-lag names the copy
        HealthReport stale = monitorWithCopy(store, copy, t.plus(Duration.ofMinutes(11)), check);
        assertThat(copyWal(stale).findings()).extracting(Finding::check).contains("wal-lag", "wal-behind");
        assertThat(copyWal(stale).findings().get(0).message())
                .contains(copy.location())
                .contains("fallen behind");
    }

    @Test
    void aGapOrNoWalInACopyIsCriticalForThatCopyWhileTheStoreIsOk() throws IOException {
        Sink store = LocalDirectorySink.create(dir.resolve("store"));
        Sink copy = LocalDirectorySink.create(dir.resolve("copy"));
        for (int n = 1; n <= 4; n++) {
            WalStores.push(store, seg(1, n), new byte[] {1});
        }
        WalStores.base(store, "base_1", 1, seg(1, 1), seg(1, 1), Instant.now());
        WalStores.base(copy, "base_1", 1, seg(1, 1), seg(1, 1), Instant.now());
        WalArchiveCheck check = WalArchiveCheck.create(BackupTrust.STORE, Duration.ofMinutes(5), null);

        HealthReport none = monitorWithCopy(store, copy, Instant.now(), check);
        assertThat(wal(none).status()).isEqualTo(HealthStatus.OK);
        assertThat(copyWal(none).findings()).extracting(Finding::check).containsExactly("wal-lag", "wal-continuity");
        assertThat(copyWal(none).findings().get(0).message())
                .contains("no WAL is archived in the copy " + copy.location());

        for (int n : new int[] {1, 2, 4}) {
            WalStores.push(copy, seg(1, n), new byte[] {1});
        }
        HealthReport gap = monitorWithCopy(store, copy, Instant.now(), check);
        assertThat(wal(gap).status()).isEqualTo(HealthStatus.OK);
        assertThat(copyWal(gap).findings()).singleElement().satisfies(f -> {
            assertThat(f.check()).isEqualTo("wal-continuity");
            assertThat(f.message()).contains(seg(1, 3)).contains("in the copy");
        });
        assertThat(gap.copies().get(0).status()).isEqualTo(HealthStatus.CRITICAL);
    }

    @Test
    void aCopyWhoseWalCannotBeListedIsCriticalNamingIt() throws IOException {
        Sink store = LocalDirectorySink.create(dir.resolve("store"));
        Sink copyDir = LocalDirectorySink.create(dir.resolve("copy"));
        WalStores.push(store, seg(1, 1), new byte[] {1});
        WalStores.base(store, "base_1", 1, seg(1, 1), seg(1, 1), Instant.now());
        WalStores.base(copyDir, "base_1", 1, seg(1, 1), seg(1, 1), Instant.now());
        Sink copy = new WalUnreadable(copyDir);
        HealthReport r = monitorWithCopy(
                store, copy, Instant.now(), WalArchiveCheck.create(BackupTrust.STORE, Duration.ofMinutes(5), null));
        assertThat(wal(r).status()).isEqualTo(HealthStatus.OK);
        assertThat(copyWal(r).status()).isEqualTo(HealthStatus.CRITICAL);
        assertThat(copyWal(r).findings().get(0).message())
                .contains("Cannot list the WAL")
                .contains(copy.location());
    }

    /** A store whose {@code wal/} listing fails, as an unreachable bucket's does. */
    private record WalUnreadable(Sink delegate) implements Sink {
        @Override
        public String location() {
            return delegate.location();
        }

        @Override
        public SinkOutput create(String key) throws IOException {
            return delegate.create(key);
        }

        @Override
        public InputStream open(String key) throws IOException {
            return delegate.open(key);
        }

        @Override
        public List<StoredObject> list(String prefix) throws IOException {
            if (prefix.startsWith(StoreLayout.WAL_PREFIX)) {
                throw new IOException("connection refused");
            }
            return delegate.list(prefix);
        }

        @Override
        public void delete(String key) throws IOException {
            delegate.delete(key);
        }

        @Override
        public void close() throws IOException {
            delegate.close();
        }
    }
}

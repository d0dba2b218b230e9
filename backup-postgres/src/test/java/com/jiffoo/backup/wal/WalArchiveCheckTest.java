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

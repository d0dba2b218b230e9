package com.jiffoo.backup.wal;

import static com.jiffoo.backup.wal.WalContinuityTest.seg;
import static org.assertj.core.api.Assertions.assertThat;

import com.jiffoo.backup.BackupManifest;
import com.jiffoo.backup.Sink;
import com.jiffoo.backup.StoredObject;
import com.jiffoo.backup.store.LocalDirectorySink;
import com.jiffoo.backup.store.StoreLayout;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class WalRetentionTest {
    @TempDir
    Path dir;

    private static Set<String> keys(Sink sink) throws IOException {
        Set<String> out = new TreeSet<>();
        for (StoredObject o : sink.list(StoreLayout.WAL_PREFIX)) {
            out.add(o.key());
        }
        return out;
    }

    private static List<String> objectsOf(String dataKey) {
        return List.of(StoreLayout.manifestKey(dataKey), StoreLayout.signatureKey(dataKey), dataKey);
    }

    @Test
    void keepsWalFromTheOldestKeptBaseBackupsStartAndEveryHistoryFile() throws IOException {
        Sink sink = LocalDirectorySink.create(dir);
        List<String> data = new ArrayList<>();
        for (int n = 1; n <= 6; n++) {
            data.add(WalStores.push(sink, seg(1, n), new byte[] {1}));
        }
        String backupFile = WalStores.push(sink, seg(1, 3) + ".00000028.backup", new byte[] {1});
        String oldBackupFile = WalStores.push(sink, seg(1, 2) + ".00000028.backup", new byte[] {1});
        String history = WalStores.pushHistory(sink, 2, "1\t0/6000000\tx\n");
        String tl2old = WalStores.push(sink, seg(2, 2), new byte[] {1}); // a branch before the kept start
        BackupManifest kept =
                WalStores.base(sink, "base_new", 1, seg(1, 3), seg(1, 3), Instant.parse("2026-01-11T02:00:00Z"));
        Set<String> before = keys(sink);

        List<String> gone = new ArrayList<>();
        gone.addAll(objectsOf(data.get(0)));
        gone.addAll(objectsOf(oldBackupFile));
        gone.addAll(objectsOf(data.get(1)));
        gone.addAll(objectsOf(tl2old));

        WalRetention.Report dry = WalRetention.of(sink).prune(List.of(kept), true);
        assertThat(dry.keepFrom()).isEqualTo(seg(1, 3));
        assertThat(dry.deletedKeys()).containsExactlyInAnyOrderElementsOf(gone);
        assertThat(keys(sink)).isEqualTo(before);

        WalRetention.Report r = WalRetention.of(sink).prune(List.of(kept), false);
        assertThat(r.deleted())
                .containsExactlyInAnyOrder(seg(1, 1), seg(1, 2), seg(1, 2) + ".00000028.backup", seg(2, 2));
        // manifest first, then signature, then data
        assertThat(r.deletedKeys().subList(0, 3))
                .isEqualTo(objectsOf(StoreLayout.dataKeyOf(r.deletedKeys().get(2))));
        Set<String> expected = new TreeSet<>(before);
        gone.forEach(expected::remove);
        assertThat(keys(sink)).isEqualTo(expected);
        assertThat(keys(sink)).contains(history, backupFile, data.get(2));
        assertThat(WalContinuity.builder().sink(sink).build().check().gaps()).isEmpty();
    }

    @Test
    void aBaseBackupTakenWithArchiveModeOffNeverDecidesWhatWalGoes() throws IOException {
        Sink sink = LocalDirectorySink.create(dir);
        for (int n = 1; n <= 8; n++) {
            WalStores.push(sink, seg(1, n), new byte[] {1});
        }
        Instant t = Instant.parse("2026-01-11T02:00:00Z");
        BackupManifest good = WalStores.base(sink, "base_good", 1, seg(1, 3), seg(1, 3), t);
        BackupManifest off = WalStores.base(sink, "base_off", 1, seg(1, 7), seg(1, 7), t.plusSeconds(3600), "off");
        Set<String> before = keys(sink);

        // alone, it deletes nothing
        WalRetention.Report alone = WalRetention.of(sink).prune(List.of(off), false);
        assertThat(alone.keepFrom()).isNull();
        assertThat(alone.reason()).contains("archive_mode");
        assertThat(keys(sink)).isEqualTo(before);

        // beside a good one, the good one decides
        WalRetention.Report both = WalRetention.of(sink).prune(List.of(off, good), false);
        assertThat(both.keepFrom()).isEqualTo(seg(1, 3));
        assertThat(both.deleted()).containsExactly(seg(1, 1), seg(1, 2));
    }

    @Test
    void withoutAKeptBaseBackupNothingGoes() throws IOException {
        Sink sink = LocalDirectorySink.create(dir);
        WalStores.push(sink, seg(1, 1), new byte[] {1});
        Set<String> before = keys(sink);
        WalRetention.Report r = WalRetention.of(sink).prune(List.of(), false);
        assertThat(r.deleted()).isEmpty();
        assertThat(r.keepFrom()).isNull();
        assertThat(keys(sink)).isEqualTo(before);
    }
}

package com.jiffoo.backup.wal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.jiffoo.backup.Sink;
import com.jiffoo.backup.store.LocalDirectorySink;
import com.jiffoo.backup.store.StoreLayout;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Instant;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class WalContinuityTest {
    private static final Instant T0 = Instant.parse("2026-01-11T02:00:00Z");

    @TempDir
    Path dir;

    /** Reads the history files as the tests store them: plain text. */
    static WalContinuity.HistoryReader plainReader(Sink sink) {
        return f -> {
            try (var in = sink.open(f.dataKey())) {
                return new String(in.readAllBytes(), StandardCharsets.UTF_8);
            }
        };
    }

    static String seg(long tl, long n) {
        return new WalSegment(tl, n, WalSegment.DEFAULT_SIZE).name();
    }

    private WalContinuity.Report check(Sink sink) {
        return WalContinuity.builder()
                .sink(sink)
                .historyReader(plainReader(sink))
                .build()
                .check();
    }

    @Test
    void reportsAGapAsARangeAndNamesTheBaseBackupsItCuts() throws IOException {
        Sink sink = LocalDirectorySink.create(dir);
        for (int n = 1; n <= 8; n++) {
            WalStores.push(sink, seg(1, n), new byte[] {(byte) n});
        }
        WalStores.base(sink, "base_1", 1, seg(1, 3), seg(1, 4), T0);
        WalStores.base(sink, "base_2", 1, seg(1, 6), seg(1, 6), T0.plusSeconds(3600));
        assertThat(check(sink).continuous()).isTrue();

        WalStores.deleteAll(sink, StoreLayout.walSegmentKey(seg(1, 5), WalStores.SUFFIXES));
        WalStores.deleteAll(sink, StoreLayout.walSegmentKey(seg(1, 6), WalStores.SUFFIXES));
        WalStores.deleteAll(sink, StoreLayout.walSegmentKey(seg(1, 1), WalStores.SUFFIXES)); // before the start

        WalContinuity.Report r = check(sink);
        assertThat(r.continuous()).isFalse();
        assertThat(r.start()).isEqualTo(seg(1, 3));
        assertThat(r.startReason()).contains("base_1");
        assertThat(r.newestSegment()).isEqualTo(seg(1, 8));
        assertThat(r.gaps())
                .containsExactly(
                        new WalContinuity.Gap(1, seg(1, 5), seg(1, 6), 2, java.util.List.of("base_1", "base_2")));
        assertThat(r.unrestorable()).extracting(WalContinuity.BaseBackup::id).containsExactly("base_2");
        assertThat(r.unrestorable().get(0).problem()).contains(seg(1, 6));

        WalContinuity.Report since =
                WalContinuity.builder().sink(sink).since(seg(1, 7)).build().check();
        assertThat(since.gaps()).isEmpty();
        assertThat(since.start()).isEqualTo(seg(1, 7));
    }

    @Test
    void followsATimelineSwitchThroughItsHistoryFile() throws IOException {
        Sink sink = LocalDirectorySink.create(dir);
        for (int n = 1; n <= 4; n++) {
            WalStores.push(sink, seg(1, n), new byte[] {1});
        }
        WalStores.push(sink, seg(1, 5) + ".partial", new byte[] {1}); // the old timeline's last segment
        for (int n = 5; n <= 7; n++) {
            WalStores.push(sink, seg(2, n), new byte[] {2});
        }
        WalStores.base(sink, "base_1", 1, seg(1, 2), seg(1, 2), T0);
        WalContinuity.Report noHistory = check(sink);
        assertThat(noHistory.missingHistories()).containsExactly("00000002.history");
        assertThat(noHistory.switchPointsInferred()).isTrue();
        assertThat(noHistory.gaps()).isEmpty();

        WalStores.pushHistory(sink, 2, "1\t0/5000100\tno recovery target specified\n");
        WalContinuity.Report r = check(sink);
        assertThat(r.continuous()).isTrue();
        assertThat(r.switchPointsInferred()).isFalse();
        assertThat(r.timelines()).containsExactly(1L, 2L);
        assertThat(r.newestSegment()).isEqualTo(seg(2, 7));
        assertThat(r.notes()).isEmpty();

        // promoted again moments ago: the history file is there, no segment of timeline 3 yet
        WalStores.pushHistory(sink, 3, "1\t0/5000100\tx\n2\t0/8000000\ty\n");
        assertThat(check(sink).notes()).singleElement().asString().contains("timeline 3 has its history file");
        assertThat(check(sink).continuous()).isTrue();

        // the segment holding the switch point is replayed from the new timeline
        WalStores.deleteAll(sink, StoreLayout.walSegmentKey(seg(2, 5), WalStores.SUFFIXES));
        assertThat(check(sink).gaps()).extracting(WalContinuity.Gap::first).containsExactly(seg(2, 5));

        // a switch the history file places later than the new timeline's first archived segment
        WalStores.push(sink, seg(2, 5), new byte[] {2});
        WalStores.deleteAll(sink, StoreLayout.walSegmentKey(seg(1, 4), WalStores.SUFFIXES));
        assertThat(check(sink).gaps())
                .containsExactly(new WalContinuity.Gap(1, seg(1, 4), seg(1, 4), 1, java.util.List.of("base_1")));
    }

    @Test
    void aGivenTimelineIsFollowedInsteadOfTheNewest() throws IOException {
        Sink sink = LocalDirectorySink.create(dir);
        // the old primary goes on on timeline 1 after a copy was promoted to timeline 2 in segment 5
        for (int n = 1; n <= 8; n++) {
            WalStores.push(sink, seg(1, n), new byte[] {1});
        }
        for (int n = 5; n <= 6; n++) {
            WalStores.push(sink, seg(2, n), new byte[] {2});
        }
        WalStores.pushHistory(sink, 2, "1\t0/5000100\tno recovery target specified\n");
        WalStores.base(sink, "base_1", 1, seg(1, 2), seg(1, 2), T0);
        WalStores.deleteAll(sink, StoreLayout.walSegmentKey(seg(1, 7), WalStores.SUFFIXES));

        WalContinuity.Report newest = check(sink);
        assertThat(newest.timelines()).containsExactly(1L, 2L);
        assertThat(newest.newestSegment()).isEqualTo(seg(2, 6));
        assertThat(newest.gaps()).isEmpty(); // timeline 1 after the switch is not on the way to timeline 2

        WalContinuity.Report one = WalContinuity.builder()
                .sink(sink)
                .historyReader(plainReader(sink))
                .timeline(1)
                .since(seg(1, 2))
                .build()
                .check();
        assertThat(one.timelines()).containsExactly(1L);
        assertThat(one.newestSegment()).isEqualTo(seg(1, 8));
        assertThat(one.gaps()).extracting(WalContinuity.Gap::first).containsExactly(seg(1, 7));

        assertThatThrownBy(() ->
                        WalContinuity.builder().sink(sink).timeline(3).build().check())
                .isInstanceOf(com.jiffoo.backup.NotFoundException.class)
                .hasMessageContaining("No WAL segment of timeline 3");
    }

    @Test
    void aDataObjectWithoutManifestIsNotArchived() throws IOException {
        Sink sink = LocalDirectorySink.create(dir);
        WalStores.push(sink, seg(1, 1), new byte[] {1});
        WalStores.pushUncommitted(sink, seg(1, 2));
        WalStores.push(sink, seg(1, 3), new byte[] {1});
        WalContinuity.Report r = check(sink);
        assertThat(r.uncommitted()).containsExactly(StoreLayout.walSegmentKey(seg(1, 2), WalStores.SUFFIXES));
        assertThat(r.gaps()).extracting(WalContinuity.Gap::first).containsExactly(seg(1, 2));
        assertThat(r.startReason()).contains("no base backup");
        assertThat(r.committedSegments()).isEqualTo(2);
    }

    @Test
    void anEmptyArchiveHasNoWal() throws IOException {
        Sink sink = LocalDirectorySink.create(dir);
        WalStores.base(sink, "base_1", 1, seg(1, 2), seg(1, 2), T0);
        WalContinuity.Report r = check(sink);
        assertThat(r.noWal()).isTrue();
        assertThat(r.unrestorable()).extracting(WalContinuity.BaseBackup::id).containsExactly("base_1");
    }
}

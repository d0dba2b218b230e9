package com.jiffoo.backup.wal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class WalSegmentTest {
    private static final long MIB = 1024 * 1024;

    @Test
    void parsesNamesAndCountsAcrossLogs() {
        WalSegment s = WalSegment.parse("0000000200000001000000FF", WalSegment.DEFAULT_SIZE);
        assertThat(s.timeline()).isEqualTo(2);
        assertThat(s.number()).isEqualTo(256 + 255);
        assertThat(s.next().name()).isEqualTo("000000020000000200000000");
        assertThat(s.onTimeline(3).name()).isEqualTo("0000000300000001000000FF");
        assertThat(s.startLsn()).isEqualTo(WalSegment.parseLsn("1/FF000000"));
    }

    @Test
    void otherSegmentSizesHaveOtherSegmentsPerLog() {
        WalSegment s = WalSegment.parse("000000010000000000000FFF", MIB);
        assertThat(s.next().name()).isEqualTo("000000010000000100000000");
        assertThatThrownBy(() -> WalSegment.parse("000000010000000000000100", 64 * MIB))
                .hasMessageContaining("wal_segment_size");
        assertThatThrownBy(() -> WalSegment.checkSize(3 * MIB)).hasMessageContaining("power of two");
    }

    @Test
    void mapsPositionsToSegmentsAsPgWalfileNameDoes() {
        assertThat(WalSegment.containing(1, WalSegment.parseLsn("0/2000028"), WalSegment.DEFAULT_SIZE)
                        .name())
                .isEqualTo("000000010000000000000002");
        assertThat(WalSegment.containing(1, WalSegment.parseLsn("3/1000000"), WalSegment.DEFAULT_SIZE)
                        .name())
                .isEqualTo("000000010000000300000001");
        assertThat(WalSegment.formatLsn(WalSegment.parseLsn("A/2000028"))).isEqualTo("A/2000028");
        assertThatThrownBy(() -> WalSegment.parseLsn("0x2000028")).hasMessageContaining("0/2000028");
        assertThatThrownBy(() -> WalSegment.parse("00000001000000000000000g", WalSegment.DEFAULT_SIZE))
                .hasMessageContaining("24 upper-case hex");
    }

    @Test
    void parsesTimelineHistoryFiles() {
        TimelineHistory h = TimelineHistory.parse(
                3, "1\t0/5000100\tno recovery target specified\n\n# comment\n2\t0/9000000\tbefore 2026-01-11\n");
        assertThat(h.switches())
                .containsExactly(
                        new TimelineHistory.Switch(1, 0x5000100L, "no recovery target specified"),
                        new TimelineHistory.Switch(2, 0x9000000L, "before 2026-01-11"));
        assertThat(TimelineHistory.fileName(10)).isEqualTo("0000000A.history");
        assertThatThrownBy(() -> TimelineHistory.parse(2, "2\t0/5000100\tx\n")).hasMessageContaining("timeline 2");
        assertThatThrownBy(() -> TimelineHistory.parse(2, "1\tnonsense\n")).hasMessageContaining("nonsense");
    }
}

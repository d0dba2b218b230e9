package com.jiffoo.backup.cli;

import com.jiffoo.backup.BackupListener.Operation;
import com.jiffoo.backup.Progress;
import org.junit.jupiter.api.Test;

import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;

/** The progress line's text: bytes, rate, and the ETA only when the size is known. */
class TerminalTest {

    @Test
    void knownSizeShowsShareRateAndEta() {
        Progress p = new Progress("k", 0, 10L << 20, 40L << 20, Duration.ofSeconds(5));
        assertThat(Terminal.line(Operation.RESTORE, p))
                .isEqualTo("restore  10.0 MiB of 40.0 MiB (25%)  2.0 MiB/s  ETA 0:15");
    }

    @Test
    void unknownSizeShowsBytesAndRateOnly() {
        Progress p = new Progress("k", 0, 3L << 30, -1, Duration.ofSeconds(60));
        assertThat(Terminal.line(Operation.BACKUP, p)).isEqualTo("backup  3.0 GiB  51.2 MiB/s");
    }

    @Test
    void bytesInBinaryUnits() {
        assertThat(Terminal.bytes(512)).isEqualTo("512 B");
        assertThat(Terminal.bytes(1536)).isEqualTo("1.5 KiB");
        assertThat(Terminal.bytes(74_239_754)).isEqualTo("70.8 MiB");
    }
}

package com.jiffoo.backup.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.jiffoo.backup.BackupListener.Operation;
import com.jiffoo.backup.Progress;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The progress line's text: bytes, rate, and the ETA only when the size is known; the commit gate. */
class TerminalTest {

    /** A stop before the commit refuses it (nothing is committed); a stop after it began lets it finish. */
    @Test
    void theCommitGateDecidesWhetherAStopCameBeforeOrDuringTheCommit() {
        CliCommand.CommitGate before = new CliCommand.CommitGate();
        assertThat(before.stop()).as("no commit had begun").isFalse();
        org.assertj.core.api.Assertions.assertThatThrownBy(
                        () -> Terminal.progress(true, before).committing(Operation.RESTORE, "files/x.tar.gz.gpg"))
                .isInstanceOf(com.jiffoo.backup.RestoreException.class)
                .hasMessageContaining("not changed");

        CliCommand.CommitGate during = new CliCommand.CommitGate();
        Terminal.progress(true, during).committing(Operation.RESTORE, "files/x.tar.gz.gpg");
        assertThat(during.stop()).as("the commit had begun").isTrue();
    }

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

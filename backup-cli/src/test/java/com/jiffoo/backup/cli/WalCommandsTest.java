package com.jiffoo.backup.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.jiffoo.backup.testutil.TestKeys;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The hand-made parser of {@code wal-push} and {@code wal-fetch}: what it takes, and what it leaves to picocli. */
class WalCommandsTest {
    @TempDir
    Path tmp;

    @Test
    void leavesHelpJsonUnknownOptionsAndWrongArgumentCountsToPicocli() {
        assertThat(WalCommands.fastPath(new String[] {"wal-fetch", "--help"})).isNull();
        assertThat(WalCommands.fastPath(new String[] {"wal-push", "-h"})).isNull();
        assertThat(WalCommands.fastPath(new String[] {"wal-fetch", "--json", "--store", "x", "a", "b"}))
                .isNull();
        assertThat(WalCommands.fastPath(new String[] {"wal-fetch", "--frobnicate", "a", "b"}))
                .isNull();
        assertThat(WalCommands.fastPath(new String[] {"wal-fetch", "a"})).isNull();
        assertThat(WalCommands.fastPath(new String[] {"wal-push", "a", "b"})).isNull();
        assertThat(WalCommands.fastPath(new String[] {"wal-push", "--store"})).isNull();
        // --read-ahead without --spool: picocli's wal-fetch refuses it (the fast path used to ignore it)
        assertThat(WalCommands.fastPath(new String[] {"wal-fetch", "--read-ahead", "4", "a", "b"}))
                .isNull();
        assertThat(WalCommands.fastPath(new String[] {"wal-push", "--store", "a", "--store", "b", "f"}))
                .isNull();
        assertThat(WalCommands.fastPath(new String[] {"list"})).isNull();
        assertThat(WalCommands.fastPath(new String[] {"--verbose", "wal-push", "a"}))
                .isNull();
    }

    @Test
    void runsWithOptionsBeforeTheFilesInEitherForm() throws Exception {
        Path key = TestKeys.keyFile(tmp, "backup.key");
        Path store = Files.createDirectory(tmp.resolve("store"));
        Path dest = tmp.resolve("RECOVERYXLOG");
        // a store without wal/ (nothing archived, or an unmounted volume): abort, never "not found"
        assertThat(WalCommands.fastPath(new String[] {
                    "wal-fetch", "--store", "file:" + store, "--key-file=" + key, "00000002.history", dest.toString()
                }))
                .isEqualTo(WalCommands.FETCH_ABORT);
        Files.createDirectory(store.resolve("wal"));
        assertThat(WalCommands.fastPath(new String[] {
                    "wal-fetch", "--store", "file:" + store, "--key-file=" + key, "00000002.history", dest.toString()
                }))
                .isEqualTo(1);
        assertThat(WalCommands.fastPath(new String[] {
                    "wal-fetch",
                    "--store=file:" + tmp.resolve("missing"),
                    "--key-file",
                    key.toString(),
                    "--",
                    "00000002.history",
                    dest.toString()
                }))
                .isEqualTo(WalCommands.FETCH_ABORT);
        assertThat(dest).doesNotExist();
    }

    @Test
    void aWalFetchThatCannotEvenStartAbortsRecovery() {
        assertThat(Main.run("wal-fetch")).isEqualTo(WalCommands.FETCH_ABORT);
        assertThat(Main.run("wal-fetch", "--no-such-option", "a", "b")).isEqualTo(WalCommands.FETCH_ABORT);
        assertThat(Main.run("wal-push")).isEqualTo(2);
    }
}

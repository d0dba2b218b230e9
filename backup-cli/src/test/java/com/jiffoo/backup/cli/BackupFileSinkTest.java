package com.jiffoo.backup.cli;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.jiffoo.backup.IntegrityException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Issue 11 item 10: a backup given as a file reads its manifest with the store's bound (1 MiB), not whole. */
class BackupFileSinkTest {
    @TempDir
    Path dir;

    @Test
    void aHugeManifestNextToABackupFileIsRefusedWithoutReadingIt() throws Exception {
        Path data = Files.writeString(dir.resolve("files_backup_20260101_000000.tar.gz.gpg"), "data");
        try (RandomAccessFile f = new RandomAccessFile(
                dir.resolve(data.getFileName() + ".manifest.json").toFile(), "rw")) {
            f.setLength(3L << 30); // 3 GiB, sparse: reading it whole failed with an OutOfMemoryError
        }
        assertThatThrownBy(() -> BackupFileSink.open(data))
                .isInstanceOf(IntegrityException.class)
                .hasMessageContaining(data.getFileName() + ".manifest.json")
                .hasMessageContaining("larger than 1048576 bytes");
    }
}

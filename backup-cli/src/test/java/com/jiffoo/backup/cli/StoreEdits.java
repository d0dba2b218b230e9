package com.jiffoo.backup.cli;

import com.jiffoo.backup.BackupPipeline;
import com.jiffoo.backup.crypto.OpenPgpTransform;
import com.jiffoo.backup.crypto.PassphraseKeyFile;
import com.jiffoo.backup.files.DirectorySource;
import com.jiffoo.backup.store.LocalDirectorySink;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;

/**
 * A local directory store as the CLI tests find it: files backups written through the library at given times, and
 * what a broken clock, a hand edit or a failing disk does to them afterwards — done to the files directly.
 */
final class StoreEdits {
    private StoreEdits() {}

    /**
     * In {@code dir}: a store ({@code store/}), an uploads directory with 1 MiB of random bytes ({@code uploads/}) and
     * a key file ({@code backup.key}); then one encrypted files backup per age, each made with a clock standing
     * that long before now.
     *
     * @return the backups' data keys, in the order of {@code ago}
     */
    static List<String> filesBackups(Path dir, Duration... ago) throws Exception {
        Path src = Files.createDirectories(dir.resolve("uploads"));
        RunbookFixture.writeRandom(src.resolve("a.bin"), 1, 7);
        PassphraseKeyFile key = PassphraseKeyFile.generate(dir.resolve("backup.key"));
        Instant now = Instant.now();
        List<String> keys = new ArrayList<>();
        try (LocalDirectorySink sink = LocalDirectorySink.create(Files.createDirectories(dir.resolve("store")))) {
            for (Duration d : ago) {
                keys.add(BackupPipeline.builder()
                        .source(DirectorySource.builder(src).build())
                        .encryption(OpenPgpTransform.builder().passphrase(key).build())
                        .sink(sink)
                        .clock(Clock.fixed(now.minus(d), ZoneOffset.UTC))
                        .build()
                        .run()
                        .objectKey());
            }
        }
        return keys;
    }

    /** Flips one bit of the byte at {@code offset} of a stored file in place, as a failing disk would. */
    static void damage(Path file, long offset) throws IOException {
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.seek(offset);
            int b = f.read();
            f.seek(offset);
            f.write(b ^ 0x40);
        }
    }
}

package com.jiffoo.backup.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.jiffoo.backup.SinkOutput;
import com.jiffoo.backup.StorageException;
import com.jiffoo.backup.store.LocalDirectorySink;
import java.io.ByteArrayOutputStream;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class UploadCheckTest {
    @TempDir
    Path dir;

    /** Writes of every size, small and larger than the kept edges, keep exactly the first and last bytes. */
    @Test
    void theRecorderKeepsTheFirstAndLastBytesWhateverTheWriteSizes() throws Exception {
        for (int size :
                new int[] {0, 1, 100, UploadCheck.EDGE, UploadCheck.EDGE + 1, 3 * UploadCheck.EDGE + 17, 1_000_003}) {
            byte[] data = new byte[size];
            new SplittableRandom(size).nextBytes(data);
            ByteArrayOutputStream through = new ByteArrayOutputStream();
            UploadCheck.Recorder r = new UploadCheck.Recorder(through);
            SplittableRandom chunks = new SplittableRandom(size + 1);
            for (int off = 0; off < size; ) {
                int n = Math.min(size - off, chunks.nextInt(3) == 0 ? 1 : 1 + chunks.nextInt(9000));
                if (n == 1) {
                    r.write(data[off]);
                } else {
                    r.write(data, off, n);
                }
                off += n;
            }
            int edge = Math.min(size, UploadCheck.EDGE);
            assertThat(through.toByteArray())
                    .as("passed through, size %d", size)
                    .isEqualTo(data);
            assertThat(r.count()).isEqualTo(size);
            assertThat(r.head()).as("head, size %d", size).isEqualTo(Arrays.copyOf(data, edge));
            assertThat(r.tail()).as("tail, size %d", size).isEqualTo(Arrays.copyOfRange(data, size - edge, size));
            assertThat(UploadCheck.Recorder.of(data).tail()).isEqualTo(r.tail());
        }
    }

    /** An object cut short by one byte after its commit (truncate, the referee tool) is not what was sent. */
    @Test
    void anObjectThatIsNotWhatWasSentFailsWithExit4AndOneThatIsPasses() throws Exception {
        LocalDirectorySink sink = LocalDirectorySink.create(dir.resolve("store"));
        byte[] data = new byte[3 * UploadCheck.EDGE + 5];
        new SplittableRandom(3).nextBytes(data);
        UploadCheck.Recorder sent;
        try (SinkOutput out = sink.create("files/x.bin")) {
            sent = new UploadCheck.Recorder(out);
            sent.write(data, 0, data.length);
            out.commit();
        }
        UploadCheck.confirm(sink, "files/x.bin", sent);
        Process p = new ProcessBuilder(
                        "truncate", "-s", "-1", dir.resolve("store/files/x.bin").toString())
                .start();
        assertThat(p.waitFor(10, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).isZero();
        assertThatThrownBy(() -> UploadCheck.confirm(sink, "files/x.bin", sent))
                .isInstanceOfSatisfying(StorageException.class, e -> {
                    assertThat(e.code().exitCode()).isEqualTo(4);
                    assertThat(e.getMessage())
                            .contains(
                                    "holds " + (data.length - 1) + " bytes",
                                    "but " + data.length + " were sent",
                                    "did not store the bytes that were sent",
                                    "Nothing was committed");
                });
        assertThatThrownBy(() -> UploadCheck.confirm(sink, "files/missing.bin", sent))
                .isInstanceOf(StorageException.class)
                .hasMessageContaining("does not list");
    }
}

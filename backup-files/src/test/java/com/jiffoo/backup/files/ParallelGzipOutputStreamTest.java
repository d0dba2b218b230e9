package com.jiffoo.backup.files;

import static com.jiffoo.backup.files.TestTrees.q;
import static com.jiffoo.backup.files.TestTrees.sh;
import static com.jiffoo.backup.files.TestTrees.sha256;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.function.Supplier;
import java.util.stream.Stream;
import java.util.zip.Deflater;
import java.util.zip.GZIPInputStream;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

class ParallelGzipOutputStreamTest {

    private static final int BLOCK = ParallelGzipOutputStream.DEFAULT_BLOCK_SIZE;
    private static final String[] WORDS = ("order customer product price shipping invoice payment refund cart "
                    + "discount coupon address warehouse stock category review rating image thumbnail session token user")
            .split(" ");

    @TempDir
    Path tmp;

    static Stream<Arguments> sizes() {
        return Stream.of(0, 1, BLOCK - 1, BLOCK, BLOCK + 1, 2 * BLOCK, 20 * BLOCK + 12_345)
                .flatMap(n -> Stream.of(Arguments.of(n, true), Arguments.of(n, false)));
    }

    @ParameterizedTest(name = "{0} bytes, compressible {1}")
    @MethodSource("sizes")
    void roundTripsThroughGzipInputStream(int size, boolean compressible) throws IOException {
        byte[] data = compressible ? text(size, 7) : random(size, 7);
        byte[] gz = compress(data, 6, 3, BLOCK, 1000 + size % 977);
        assertThat(gunzip(gz)).isEqualTo(data);
    }

    @Test
    void roundTripsWithBlocksSmallerThanTheDictionaryAndSingleByteWrites() throws IOException {
        byte[] data = text(300_000, 3);
        // 1000-byte blocks: each dictionary is built from several blocks before it
        assertThat(gunzip(compress(data, 6, 4, 1000, 333))).isEqualTo(data);
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ParallelGzipOutputStream out = new ParallelGzipOutputStream(bytes, 6, 2, 4096, () -> raw(6))) {
            for (byte b : data) {
                out.write(b);
            }
        }
        assertThat(gunzip(bytes.toByteArray())).isEqualTo(data);
    }

    @ParameterizedTest(name = "level {0}")
    @ValueSource(ints = {1, 6, 9})
    void realGzipAcceptsTheStreamAndRestoresTheSameBytes(int level) throws IOException {
        byte[] data = mixed(3 * 1024 * 1024 + 17);
        Path file = tmp.resolve("data-" + level + ".gz");
        Files.write(file, compress(data, level, 4, BLOCK, 65_536));
        sh(tmp, "gzip -t " + q(file));
        String restored = sh(tmp, "gzip -dc " + q(file) + " | sha256sum").split(" ")[0];
        assertThat(restored).isEqualTo(sha256(data));
        assertThat(sh(tmp, "gzip -l " + q(file))).contains(String.valueOf(data.length));
    }

    @ParameterizedTest(name = "level {0}")
    @ValueSource(ints = {1, 6, 9})
    void ratioOnTextIsWithinTwoPercentOfSingleThreadedGzip(int level) throws IOException {
        byte[] data = text(8 * 1024 * 1024, 11);
        ByteArrayOutputStream single = new ByteArrayOutputStream();
        try (GZIPOutputStream gz = new GZIPOutputStream(single, 65_536) {
            {
                def.setLevel(level);
            }
        }) {
            gz.write(data);
        }
        int parallel = compress(data, level, 4, BLOCK, 65_536).length;
        assertThat((double) parallel / single.size()).isBetween(0.98, 1.02);
    }

    @Test
    void usesAtMostTheConfiguredThreadsAndStopsThemOnClose() throws IOException {
        ParallelGzipOutputStream out = new ParallelGzipOutputStream(new ByteArrayOutputStream(), 6, 3);
        out.write(random(40 * BLOCK, 5));
        assertThat(liveWorkers(out)).isBetween(1, 3);
        out.close();
        assertThat(liveWorkers(out)).isZero();
        out.close(); // idempotent
        assertThatThrownBy(() -> out.write(1)).isInstanceOf(IOException.class).hasMessageContaining("closed");
    }

    @Test
    void closingBeforeAnyWriteWritesAnEmptyGzipAndLeavesNoThreads() throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        ParallelGzipOutputStream out = new ParallelGzipOutputStream(bytes, 6, 2);
        out.close();
        assertThat(liveWorkers(out)).isZero();
        assertThat(gunzip(bytes.toByteArray())).isEmpty();
    }

    @Test
    void workerFailureSurfacesAsIOExceptionOnWriteAndLeavesNoThreads() throws IOException {
        IllegalStateException boom = new IllegalStateException("deflater broke");
        ParallelGzipOutputStream out =
                new ParallelGzipOutputStream(new ByteArrayOutputStream(), 6, 2, BLOCK, failingAfter(3, boom));
        byte[] block = random(BLOCK, 1);
        assertThatThrownBy(() -> {
                    for (int i = 0; i < 100; i++) {
                        out.write(block);
                    }
                })
                .isInstanceOf(IOException.class)
                .hasMessageContaining("worker thread")
                .hasRootCause(boom);
        assertThat(liveWorkers(out)).isZero();
        assertThatThrownBy(() -> out.write(block))
                .isInstanceOf(IOException.class)
                .hasRootCause(boom);
        out.close(); // the failure was reported by write: close frees, does not throw it again
        out.close();
        assertThat(liveWorkers(out)).isZero();
    }

    @Test
    void workerFailureInTheLastBlockSurfacesOnClose() throws IOException {
        IllegalStateException boom = new IllegalStateException("deflater broke");
        ParallelGzipOutputStream out =
                new ParallelGzipOutputStream(new ByteArrayOutputStream(), 6, 2, BLOCK, failingAfter(0, boom));
        out.write(text(1000, 2));
        assertThatThrownBy(out::close).isInstanceOf(IOException.class).hasRootCause(boom);
        assertThat(liveWorkers(out)).isZero();
        out.close();
    }

    @Test
    void failingWriterFailsTheStreamAndLeavesNoThreads() throws IOException {
        IOException full = new IOException("No space left on device");
        ParallelGzipOutputStream out = new ParallelGzipOutputStream(failingAfter(3 * BLOCK, full), 6, 2);
        byte[] block = random(BLOCK, 9);
        assertThatThrownBy(() -> {
                    for (int i = 0; i < 100; i++) {
                        out.write(block);
                    }
                })
                .isSameAs(full);
        assertThat(liveWorkers(out)).isZero();
        assertThatThrownBy(out::flush).isSameAs(full);
        out.close();
        assertThat(liveWorkers(out)).isZero();
    }

    @Test
    void writerInterruptedWhileWaitingFailsTheStreamAndLeavesNoThreads() throws IOException {
        ParallelGzipOutputStream out = new ParallelGzipOutputStream(new ByteArrayOutputStream(), 9, 1);
        byte[] data = text(BLOCK, 4);
        Thread.currentThread().interrupt();
        try {
            assertThatThrownBy(() -> {
                        for (int i = 0; i < 50; i++) {
                            out.write(data); // one worker, two blocks in flight: the writer must wait
                        }
                    })
                    .isInstanceOf(java.io.InterruptedIOException.class);
            assertThat(Thread.currentThread().isInterrupted()).isTrue();
        } finally {
            Thread.interrupted();
        }
        out.close();
        assertThat(liveWorkers(out)).isZero();
    }

    @Test
    void rejectsBadArguments() {
        OutputStream sink = OutputStream.nullOutputStream();
        assertThatThrownBy(() -> new ParallelGzipOutputStream(sink, 0, 2))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("between 1 and 9");
        assertThatThrownBy(() -> new ParallelGzipOutputStream(sink, 6, 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("threads");
    }

    /** Threads of {@code out}'s pool that are alive. */
    static int liveWorkers(ParallelGzipOutputStream out) {
        return (int) Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.isAlive() && t.getName().startsWith(out.threadNamePrefix()))
                .count();
    }

    /** A stream that drops what it is given and throws {@code failure} once more than {@code bytes} came. */
    static OutputStream failingAfter(long bytes, IOException failure) {
        return new OutputStream() {
            private long written;

            @Override
            public void write(int b) throws IOException {
                write(new byte[] {(byte) b}, 0, 1);
            }

            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                written += len;
                if (written > bytes) {
                    throw failure;
                }
            }
        };
    }

    private static byte[] compress(byte[] data, int level, int threads, int blockSize, int chunk) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ParallelGzipOutputStream out =
                new ParallelGzipOutputStream(bytes, level, threads, blockSize, () -> raw(level))) {
            for (int off = 0; off < data.length; off += chunk) {
                out.write(data, off, Math.min(chunk, data.length - off));
            }
        }
        return bytes.toByteArray();
    }

    private static Deflater raw(int level) {
        return new Deflater(level, true);
    }

    /** Deflaters that throw {@code failure} once {@code calls} deflate calls have been made across all of them. */
    private static Supplier<Deflater> failingAfter(int calls, RuntimeException failure) {
        int[] made = {0};
        return () -> new Deflater(6, true) {
            @Override
            public int deflate(byte[] b, int off, int len, int flush) {
                synchronized (made) {
                    if (made[0]++ >= calls) {
                        throw failure;
                    }
                }
                return super.deflate(b, off, len, flush);
            }
        };
    }

    private static byte[] gunzip(byte[] gz) throws IOException {
        try (GZIPInputStream in = new GZIPInputStream(new ByteArrayInputStream(gz))) {
            return in.readAllBytes();
        }
    }

    private static byte[] random(int size, long seed) {
        byte[] b = new byte[size];
        new Random(seed).nextBytes(b);
        return b;
    }

    /** Log-like text: compresses about 3:1 with gzip. */
    static byte[] text(int size, long seed) {
        Random random = new Random(seed);
        StringBuilder sb = new StringBuilder(size + 200);
        while (sb.length() < size) {
            for (int w = 0; w < 12; w++) {
                sb.append(WORDS[random.nextInt(WORDS.length)]).append(' ');
            }
            sb.append(random.nextInt(1_000_000)).append('\n');
        }
        sb.setLength(size);
        return sb.toString().getBytes(StandardCharsets.US_ASCII);
    }

    /** Runs of text and of random bytes, of varied lengths. */
    private static byte[] mixed(int size) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(size);
        Random random = new Random(99);
        List<Supplier<byte[]>> kinds = List.of(
                () -> text(10_000 + random.nextInt(400_000), random.nextLong()),
                () -> random(1 + random.nextInt(300_000), random.nextLong()));
        while (out.size() < size) {
            byte[] run = kinds.get(random.nextInt(2)).get();
            out.write(run, 0, Math.min(run.length, size - out.size()));
        }
        return out.toByteArray();
    }
}

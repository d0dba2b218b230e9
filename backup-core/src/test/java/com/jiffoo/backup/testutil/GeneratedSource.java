package com.jiffoo.backup.testutil;

import com.jiffoo.backup.Source;
import com.jiffoo.backup.SourceException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * A source of {@code size} pseudo-random bytes from a seed, generated on the fly (nothing held in memory), that can
 * be told to fail after some bytes. {@link #stream()} gives the same bytes again for comparisons.
 */
public final class GeneratedSource implements Source {
    private final String kind;
    private final long size;
    private final long seed;
    private final long failAfter;

    public GeneratedSource(String kind, long size, long seed) {
        this(kind, size, seed, -1);
    }

    private GeneratedSource(String kind, long size, long seed, long failAfter) {
        this.kind = kind;
        this.size = size;
        this.seed = seed;
        this.failAfter = failAfter;
    }

    /** The same source, failing with a SourceException after {@code bytes} bytes. */
    public GeneratedSource failingAfter(long bytes) {
        return new GeneratedSource(kind, size, seed, bytes);
    }

    @Override
    public String kind() {
        return kind;
    }

    @Override
    public String suffix() {
        return ".bin";
    }

    @Override
    public String describe() {
        return "generated(" + size + " bytes, seed " + seed + ")";
    }

    @Override
    public Map<String, Object> writeTo(OutputStream out) throws IOException {
        try (InputStream in = stream()) {
            byte[] buf = new byte[64 * 1024];
            long written = 0;
            int n;
            while ((n = in.read(buf)) > 0) {
                if (failAfter >= 0 && written + n > failAfter) {
                    out.write(buf, 0, (int) (failAfter - written));
                    throw new SourceException("generated source failed on purpose after " + failAfter + " bytes");
                }
                out.write(buf, 0, n);
                written += n;
            }
        }
        return Map.of("bytes", size, "seed", seed);
    }

    /** The bytes this source writes, as a stream. */
    public InputStream stream() {
        return stream(size, seed);
    }

    /**
     * {@code size} pseudo-random bytes from {@code seed}, generated on the fly. The bytes depend only on the seed and
     * their position, not on how the stream is read.
     */
    public static InputStream stream(long size, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        return new InputStream() {
            private long left = size;
            private long word;
            private int wordBytes; // bytes of {@code word} not yet returned

            @Override
            public int read() {
                byte[] one = new byte[1];
                return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
            }

            @Override
            public int read(byte[] b, int off, int len) {
                if (left == 0) {
                    return -1;
                }
                int n = (int) Math.min(len, left);
                for (int i = 0; i < n; i++) {
                    if (wordBytes == 0) {
                        word = random.nextLong();
                        wordBytes = 8;
                    }
                    b[off + i] = (byte) word;
                    word >>>= 8;
                    wordBytes--;
                }
                left -= n;
                return n;
            }
        };
    }
}

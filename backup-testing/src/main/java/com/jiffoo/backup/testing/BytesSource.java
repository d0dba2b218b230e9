package com.jiffoo.backup.testing;

import com.jiffoo.backup.Source;
import java.io.IOException;
import java.io.OutputStream;
import java.util.Map;
import java.util.SplittableRandom;

/** A source of {@code size} seeded random bytes, of a kind ({@code database}, {@code files}). */
public final class BytesSource implements Source {
    private final String kind;
    private final long seed;
    private final int size;

    /** A source of {@code kind} that writes {@code size} bytes drawn from {@code seed}. */
    public BytesSource(String kind, long seed, int size) {
        this.kind = kind;
        this.seed = seed;
        this.size = size;
    }

    /** The bytes this source writes. */
    public byte[] bytes() {
        byte[] b = new byte[size];
        new SplittableRandom(seed).nextBytes(b);
        return b;
    }

    @Override
    public String kind() {
        return kind;
    }

    @Override
    public String baseName() {
        return kind.equals("database") ? "db_backup" : kind + "_backup";
    }

    @Override
    public String suffix() {
        return kind.equals("database") ? ".sql" : ".tar.gz";
    }

    @Override
    public String describe() {
        return "test bytes " + seed;
    }

    @Override
    public Map<String, Object> writeTo(OutputStream out) throws IOException {
        out.write(bytes());
        return Map.of("seed", seed);
    }
}

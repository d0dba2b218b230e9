package com.jiffoo.backup.bench;

import com.jiffoo.backup.crypto.OpenPgpTransform;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * One WAL segment's message (16 MiB), encrypted and decrypted whole, as {@code wal-push} and {@code wal-fetch} do
 * per segment: with a random key ({@code keygen}'s 32 random bytes in base64, S2K count byte 0x60) and with a
 * passphrase a person chose (count byte 0xFF, 64 MiB of SHA-256 per message), side by side in one run. The
 * difference is the S2K derivation each message pays.
 *
 * <pre>
 * java -cp benchmarks/target/benchmarks.jar org.openjdk.jmh.Main SegmentMessage -prof com.jiffoo.backup.bench.CpuTimeProfiler
 * </pre>
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 3)
@Measurement(iterations = 5, time = 3)
@Fork(1)
public class SegmentMessage {
    /** A WAL segment's size. */
    static final int SEGMENT = 16 << 20;

    /** The key, the segment and its encrypted message. */
    @State(Scope.Thread)
    public static class Keyed {
        /** {@code random}: 32 random bytes in base64; {@code chosen}: a passphrase a person chose. */
        @Param({"random", "chosen"})
        public String key;

        OpenPgpTransform pgp;
        final byte[] segment = new byte[SEGMENT];
        byte[] message;

        /** Makes the key and encrypts the segment once for the decryption benchmark. */
        @Setup(Level.Trial)
        public void setUp() throws IOException {
            char[] passphrase;
            if (key.equals("random")) {
                byte[] k = new byte[32];
                new SecureRandom().nextBytes(k);
                passphrase = Base64.getEncoder().encodeToString(k).toCharArray();
            } else {
                passphrase = "correct horse battery staple, twice over".toCharArray();
            }
            pgp = OpenPgpTransform.builder().passphrase(passphrase, key).build();
            new Random(11).nextBytes(segment);
            message = encrypt(this);
        }
    }

    static byte[] encrypt(Keyed k) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream(SEGMENT + (1 << 16));
        try (OutputStream enc = k.pgp.encode(out)) {
            enc.write(k.segment);
        }
        return out.toByteArray();
    }

    /** Encrypts one segment: the S2K derivation and 16 MiB of AES-256 CFB and SHA-1. */
    @Benchmark
    public int encryptSegment(Keyed k) throws IOException {
        return encrypt(k).length;
    }

    /** Decrypts one segment and checks its MDC. */
    @Benchmark
    public long decryptSegment(Keyed k) throws IOException {
        try (InputStream in = k.pgp.decode(new ByteArrayInputStream(k.message))) {
            return in.transferTo(OutputStream.nullOutputStream());
        }
    }
}

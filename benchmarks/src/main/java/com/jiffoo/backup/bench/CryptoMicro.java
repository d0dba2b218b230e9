package com.jiffoo.backup.bench;

import com.jiffoo.backup.crypto.OpenPgpTransform;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import javax.crypto.Cipher;
import javax.crypto.spec.IvParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

/**
 * JMH microbenchmarks of the OpenPGP stage and the primitives under it, each operation on one 1 MiB buffer of
 * random bytes, so the score in ops/s is MiB/s. The OpenPGP benchmarks measure steady streaming: a message is opened
 * outside the timed part (its S2K, 65 MB of SHA-256, would dominate a 1 MiB message) and each operation writes or
 * reads 1 MiB more of it. On a shared machine add {@code -prof com.jiffoo.backup.bench.CpuTimeProfiler} for scores
 * per CPU second. The primitives take the 1 MiB in 8 KiB calls, as the OpenPGP streams call them: the JVM
 * switches to its AES-NI and SHA stubs only once the calling code is compiled by C2, which with one call per MiB
 * takes about a minute of warm-up instead of a second.
 *
 * <pre>
 * java -cp benchmarks/target/benchmarks.jar org.openjdk.jmh.Main CryptoMicro
 * java -cp benchmarks/target/benchmarks.jar org.openjdk.jmh.Main CryptoMicro.openPgp -f 1 -wi 3 -i 5
 * java -cp benchmarks/target/benchmarks.jar org.openjdk.jmh.Main CryptoMicro -prof com.jiffoo.backup.bench.CpuTimeProfiler
 * </pre>
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 5, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class CryptoMicro {
    /** The bytes one operation processes: 1 MiB. */
    static final int SIZE = 1 << 20;

    /** The bytes one call of a primitive processes. */
    static final int CALL = 1 << 13;

    /** Messages to decrypt hold this many operations' worth of data before a new one is opened. */
    private static final int MESSAGE_MIB = 64;

    private static final char[] PASSPHRASE = "jmh benchmark passphrase".toCharArray();

    /** S2K count byte 0x10: 2,048 bytes hashed. */
    private static final int LOW_S2K_COUNT = 0x10;

    /** 1 MiB of random bytes and a buffer for results. */
    @State(Scope.Thread)
    public static class Data {
        final byte[] plain = new byte[SIZE];
        final byte[] out = new byte[SIZE + 16];
        final OpenPgpTransform pgp =
                OpenPgpTransform.builder().passphrase(PASSPHRASE, "jmh").build();

        /** Fills the buffer with random bytes. */
        @Setup(Level.Trial)
        public void setUp() {
            new Random(7).nextBytes(plain);
        }
    }

    /**
     * A message being written, ours and the baseline's, to a null sink: opened once (its S2K is not measured) and
     * never finished until the trial ends, so every operation adds 1 MiB to a long message.
     */
    @State(Scope.Thread)
    public static class Encoders {
        OutputStream ours;
        OutputStream baseline;

        /** Opens both messages. */
        @Setup(Level.Trial)
        public void open(Data data) throws IOException {
            ours = data.pgp.encode(OutputStream.nullOutputStream());
            baseline = BcJceBaseline.encrypt(OutputStream.nullOutputStream(), PASSPHRASE);
        }

        /** Finishes both messages. */
        @TearDown(Level.Trial)
        public void close() throws IOException {
            ours.close();
            baseline.close();
        }
    }

    /**
     * A message of 64 MiB to read, ours and the baseline's reader on it; a new reader is opened (untimed) when one
     * is used up. The message is the one {@code OpenPgpTransform} writes but for a low S2K count, so that opening
     * it costs microseconds, not 65 MB of SHA-256 (that would distort a CPU-time measurement).
     */
    @State(Scope.Thread)
    public static class Decoders {
        byte[] message;
        InputStream ours;
        InputStream baseline;
        int oursLeft;
        int baselineLeft;

        /** Encrypts the message. */
        @Setup(Level.Trial)
        public void encrypt(Data data) throws IOException {
            ByteArrayOutputStream sink = new ByteArrayOutputStream(MESSAGE_MIB * SIZE + (1 << 16));
            try (OutputStream enc = BcJceBaseline.encrypt(sink, PASSPHRASE, LOW_S2K_COUNT)) {
                for (int i = 0; i < MESSAGE_MIB; i++) {
                    enc.write(data.plain);
                }
            }
            message = sink.toByteArray();
        }

        /** Opens the next reader where the current one is used up. */
        @Setup(Level.Invocation)
        public void reopen(Data data) throws IOException {
            if (oursLeft == 0) {
                if (ours != null) {
                    ours.close();
                }
                ours = data.pgp.decode(new ByteArrayInputStream(message));
                oursLeft = MESSAGE_MIB;
            }
            if (baselineLeft == 0) {
                baseline = BcJceBaseline.decrypt(new ByteArrayInputStream(message), PASSPHRASE);
                baselineLeft = MESSAGE_MIB;
            }
        }
    }

    /** SunJCE ciphers on one random AES-256 key, and the digests. */
    @State(Scope.Thread)
    public static class Primitives {
        Cipher cfbEncrypt;
        Cipher cfbDecrypt;
        Cipher cbcEncrypt;
        Cipher ctr;
        Cipher ecb;
        MessageDigest sha256;
        MessageDigest sha1;

        /** Initialises the ciphers and digests. */
        @Setup(Level.Trial)
        public void setUp() throws GeneralSecurityException {
            byte[] key = new byte[32];
            new Random(8).nextBytes(key);
            SecretKeySpec k = new SecretKeySpec(key, "AES");
            IvParameterSpec iv = new IvParameterSpec(new byte[16]);
            cfbEncrypt = cipher("AES/CFB/NoPadding", Cipher.ENCRYPT_MODE, k, iv);
            cfbDecrypt = cipher("AES/CFB/NoPadding", Cipher.DECRYPT_MODE, k, iv);
            cbcEncrypt = cipher("AES/CBC/NoPadding", Cipher.ENCRYPT_MODE, k, iv);
            ctr = cipher("AES/CTR/NoPadding", Cipher.ENCRYPT_MODE, k, iv);
            ecb = Cipher.getInstance("AES/ECB/NoPadding");
            ecb.init(Cipher.ENCRYPT_MODE, k);
            sha256 = MessageDigest.getInstance("SHA-256");
            sha1 = MessageDigest.getInstance("SHA-1");
        }

        /** 1 MiB through {@code c} in {@link #CALL}-byte updates. */
        static int run(Cipher c, Data data) throws GeneralSecurityException {
            int n = 0;
            for (int off = 0; off < SIZE; off += CALL) {
                n += c.update(data.plain, off, CALL, data.out, off);
            }
            return n;
        }

        /** 1 MiB into {@code d} in {@link #CALL}-byte updates. */
        static void run(MessageDigest d, Data data) {
            for (int off = 0; off < SIZE; off += CALL) {
                d.update(data.plain, off, CALL);
            }
        }

        private static Cipher cipher(String name, int mode, SecretKeySpec key, IvParameterSpec iv)
                throws GeneralSecurityException {
            Cipher c = Cipher.getInstance(name);
            c.init(mode, key, iv);
            return c;
        }
    }

    /** OpenPgpTransform: AES-256 CFB (through the CBC intrinsic) + MDC SHA-1 + packets. */
    @Benchmark
    public void openPgpEncrypt(Data data, Encoders enc) throws IOException {
        enc.ours.write(data.plain);
    }

    /** The baseline: the same message through Bouncy Castle's JCE operators (SunJCE AES/CFB). */
    @Benchmark
    public void openPgpEncryptBcJce(Data data, Encoders enc) throws IOException {
        enc.baseline.write(data.plain);
    }

    /** OpenPgpTransform: AES-256 CFB (through the ECB intrinsic) + MDC SHA-1 + packets. */
    @Benchmark
    public int openPgpDecrypt(Data data, Decoders dec) throws IOException {
        dec.oursLeft--;
        return dec.ours.readNBytes(data.out, 0, SIZE);
    }

    /** The baseline decryption through Bouncy Castle's JCE operators. */
    @Benchmark
    public int openPgpDecryptBcJce(Data data, Decoders dec) throws IOException {
        dec.baselineLeft--;
        return dec.baseline.readNBytes(data.out, 0, SIZE);
    }

    /** SunJCE {@code AES/CFB/NoPadding} encryption: a Java loop over single-block AES-NI calls. */
    @Benchmark
    public int aesCfbEncrypt(Data data, Primitives p) throws GeneralSecurityException {
        return Primitives.run(p.cfbEncrypt, data);
    }

    /** SunJCE {@code AES/CFB/NoPadding} decryption. */
    @Benchmark
    public int aesCfbDecrypt(Data data, Primitives p) throws GeneralSecurityException {
        return Primitives.run(p.cfbDecrypt, data);
    }

    /** SunJCE {@code AES/CBC/NoPadding} encryption: the serial AES-NI bound for CFB encryption. */
    @Benchmark
    public int aesCbcEncrypt(Data data, Primitives p) throws GeneralSecurityException {
        return Primitives.run(p.cbcEncrypt, data);
    }

    /** SunJCE {@code AES/CTR/NoPadding}: parallel AES-NI, for reference. */
    @Benchmark
    public int aesCtr(Data data, Primitives p) throws GeneralSecurityException {
        return Primitives.run(p.ctr, data);
    }

    /** SunJCE {@code AES/ECB/NoPadding}: parallel AES-NI, what {@code OpenPgpTransform} decrypts CFB with. */
    @Benchmark
    public int aesEcb(Data data, Primitives p) throws GeneralSecurityException {
        return Primitives.run(p.ecb, data);
    }

    /** {@code MessageDigest} SHA-256 (the integrity sidecar). */
    @Benchmark
    public void sha256(Data data, Primitives p, Blackhole bh) {
        Primitives.run(p.sha256, data);
        bh.consume(p.sha256);
    }

    /** {@code MessageDigest} SHA-1 (OpenPGP's MDC). */
    @Benchmark
    public void sha1(Data data, Primitives p, Blackhole bh) {
        Primitives.run(p.sha1, data);
        bh.consume(p.sha1);
    }
}

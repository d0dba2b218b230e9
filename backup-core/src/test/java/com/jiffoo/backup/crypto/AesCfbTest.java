package com.jiffoo.backup.crypto;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.jiffoo.backup.testutil.TestKeys;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.Random;
import javax.crypto.Cipher;
import javax.crypto.spec.IvParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** {@link AesCfb} against the JCE's own {@code AES/CFB/NoPadding}, the reference it must equal byte for byte. */
class AesCfbTest {

    private static byte[] referenceCfb(int mode, byte[] key, byte[] iv, byte[] data) throws Exception {
        Cipher c = Cipher.getInstance("AES/CFB/NoPadding");
        c.init(mode, new SecretKeySpec(key, "AES"), new IvParameterSpec(iv));
        return c.doFinal(data);
    }

    /** Sizes that cross every case: single bytes, blocks cut anywhere, exact blocks, more than one chunk. */
    private static int nextSize(Random r, int left) {
        int size = switch (r.nextInt(6)) {
            case 0 -> 1;
            case 1 -> r.nextInt(16);
            case 2 -> 16 * (1 + r.nextInt(4));
            case 3 -> r.nextInt(5000);
            case 4 -> (1 + r.nextInt(3)) * AesCfb.CHUNK + r.nextInt(100);
            default -> 1 + 16 * r.nextInt(300) + r.nextInt(3);
        };
        return Math.min(size, left);
    }

    @ParameterizedTest
    @ValueSource(ints = {16, 24, 32})
    void encryptionEqualsJceCfbWhateverTheWriteSizes(int keyLength) throws Exception {
        byte[] key = TestKeys.randomBytes(keyLength, keyLength);
        byte[] iv = TestKeys.randomBytes(16, 7);
        byte[] plain = TestKeys.randomBytes(300_007, 11);
        Random r = new Random(keyLength);
        ByteArrayOutputStream sink = new ByteArrayOutputStream();
        try (OutputStream enc = AesCfb.encrypting(sink, key, iv)) {
            int off = 0;
            while (off < plain.length) {
                int n = nextSize(r, plain.length - off);
                if (n == 1 && r.nextBoolean()) {
                    enc.write(plain[off]);
                } else {
                    enc.write(plain, off, n);
                }
                off += n;
            }
        }
        assertThat(sink.toByteArray()).isEqualTo(referenceCfb(Cipher.ENCRYPT_MODE, key, iv, plain));
    }

    @ParameterizedTest
    @ValueSource(ints = {16, 24, 32})
    void decryptionEqualsJceCfbWhateverTheReadSizes(int keyLength) throws Exception {
        byte[] key = TestKeys.randomBytes(keyLength, keyLength + 1);
        byte[] iv = TestKeys.randomBytes(16, 8);
        byte[] plain = TestKeys.randomBytes(300_011, 12);
        byte[] cipher = referenceCfb(Cipher.ENCRYPT_MODE, key, iv, plain);
        Random r = new Random(keyLength);
        ByteArrayOutputStream got = new ByteArrayOutputStream();
        try (InputStream dec = AesCfb.decrypting(new TrickleInputStream(cipher, r), key, iv)) {
            byte[] buf = new byte[4 * AesCfb.CHUNK];
            while (true) {
                if (r.nextInt(8) == 0) {
                    int b = dec.read();
                    if (b < 0) {
                        break;
                    }
                    got.write(b);
                    continue;
                }
                int n = dec.read(buf, 3, nextSize(r, buf.length - 3));
                if (n < 0) {
                    break;
                }
                got.write(buf, 3, n);
            }
        }
        assertThat(got.toByteArray()).isEqualTo(plain);
    }

    @Test
    void everyWrittenByteIsPassedOnAtOnceSoFlushNeedsNoPadding() throws Exception {
        byte[] key = TestKeys.randomBytes(32, 1);
        byte[] iv = new byte[16];
        ByteArrayOutputStream sink = new ByteArrayOutputStream();
        OutputStream enc = AesCfb.encrypting(sink, key, iv);
        enc.write(new byte[] {1, 2, 3, 4, 5}, 0, 5);
        enc.flush();
        assertThat(sink.toByteArray())
                .isEqualTo(referenceCfb(Cipher.ENCRYPT_MODE, key, iv, new byte[] {1, 2, 3, 4, 5}));
    }

    @Test
    void closeClosesTheWrappedStreamsOnceAndWritesAfterCloseFail() throws Exception {
        byte[] key = TestKeys.randomBytes(32, 2);
        int[] closes = new int[2];
        OutputStream enc = AesCfb.encrypting(
                new ByteArrayOutputStream() {
                    @Override
                    public void close() {
                        closes[0]++;
                    }
                },
                key,
                new byte[16]);
        enc.close();
        enc.close();
        assertThatThrownBy(() -> enc.write(1)).isInstanceOf(IOException.class);
        InputStream dec = AesCfb.decrypting(
                new ByteArrayInputStream(new byte[0]) {
                    @Override
                    public void close() {
                        closes[1]++;
                    }
                },
                key,
                new byte[16]);
        dec.close();
        dec.close();
        assertThatThrownBy(dec::read).isInstanceOf(IOException.class);
        assertThat(closes).containsExactly(1, 1);
    }

    @Test
    void keyAndIvLengthsAreChecked() {
        assertThatThrownBy(() -> AesCfb.encrypting(OutputStream.nullOutputStream(), new byte[20], new byte[16]))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("16, 24 or 32");
        assertThatThrownBy(() -> AesCfb.decrypting(InputStream.nullInputStream(), new byte[32], new byte[8]))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("one block");
    }

    /** Gives back at most a random number of bytes per read, as a network or partial-packet stream does. */
    private static final class TrickleInputStream extends ByteArrayInputStream {
        private final Random random;

        TrickleInputStream(byte[] data, Random random) {
            super(data);
            this.random = random;
        }

        @Override
        public synchronized int read(byte[] b, int off, int len) {
            return super.read(b, off, Math.min(len, 1 + random.nextInt(40_000)));
        }
    }
}

package com.jiffoo.backup.crypto;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.security.GeneralSecurityException;
import java.util.Objects;
import javax.crypto.Cipher;
import javax.crypto.spec.IvParameterSpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * AES in full-block CFB mode (CFB-128, as OpenPGP's integrity-protected data packet uses it: no resynchronisation)
 * over streams, built on the JCE modes the JVM accelerates instead of on {@code AES/CFB/NoPadding}, which SunJCE
 * runs one block at a time in Java (about 420 MiB/s here, against 950 MiB/s for CBC encryption and 15 GiB/s for
 * ECB, both intrinsified with AES-NI). Package-private helper of {@link OpenPgpTransform}.
 *
 * <p>Encryption: with keystream blocks {@code Z1 = E(IV)}, {@code Z(i+1) = E(C(i))} and ciphertext
 * {@code C(i) = P(i) ^ Z(i)}, the next keystream block is {@code E(P(i) ^ Z(i))}: exactly what CBC encryption of the
 * plaintext computes when its chaining value is {@code Z(i)}. So {@code AES/CBC/NoPadding}, started with the IV
 * {@code E(IV)} and fed the plaintext, yields the keystream one block ahead, and one XOR gives the ciphertext. CFB
 * encryption stays serial (each block needs the previous one), but the serial loop runs in the JVM's AES-NI stub.
 *
 * <p>Decryption: {@code P(i) = C(i) ^ E(C(i-1))} needs no chaining, so one {@code AES/ECB/NoPadding} call over the
 * ciphertext blocks gives the whole keystream (AES-NI, several blocks in parallel).
 *
 * <p>Both streams pass every byte on at once: a block cut between two writes or reads is finished byte by byte, so
 * nothing is held back and {@code flush} needs no padding. Neither stream is thread-safe. Closing one closes the
 * wrapped stream.
 */
final class AesCfb {
    /** The AES block size in bytes. */
    static final int BLOCK = 16;

    /**
     * Bytes processed per JCE call at most (the size of the keystream buffer, less one block). Small enough that
     * the calls soon reach C2's compile thresholds, which is when the AES-NI stubs replace SunJCE's Java loops: with
     * 64 KiB calls, CBC ran at 400 MiB/s for the first 350 MiB; with 8 KiB calls for the first 64 MiB, and as fast
     * afterwards (950 MiB/s).
     */
    static final int CHUNK = 1 << 13;

    /** Eight bytes of a byte array as one {@code long}, at any offset. */
    private static final VarHandle LONGS = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.nativeOrder());

    private AesCfb() {}

    /** True for the key lengths AES takes: 16, 24 or 32 bytes. */
    static boolean isAesKey(byte[] key) {
        return key.length == 16 || key.length == 24 || key.length == 32;
    }

    /**
     * Wraps {@code out} so that bytes written to the result reach it CFB-encrypted with {@code key} from {@code iv}.
     * Closing the result closes {@code out}.
     */
    static OutputStream encrypting(OutputStream out, byte[] key, byte[] iv) throws GeneralSecurityException {
        Objects.requireNonNull(out, "out");
        SecretKeySpec k = aesKey(key, iv);
        byte[] z = firstKeystreamBlock(k, iv);
        Cipher cbc = Cipher.getInstance("AES/CBC/NoPadding");
        cbc.init(Cipher.ENCRYPT_MODE, k, new IvParameterSpec(z));
        return new EncryptingStream(out, cbc, z);
    }

    /**
     * Wraps {@code in} (CFB ciphertext made with {@code key} from {@code iv}) so that reading the result gives the
     * plaintext. Closing the result closes {@code in}.
     */
    static InputStream decrypting(InputStream in, byte[] key, byte[] iv) throws GeneralSecurityException {
        Objects.requireNonNull(in, "in");
        SecretKeySpec k = aesKey(key, iv);
        byte[] z = firstKeystreamBlock(k, iv);
        Cipher ecb = Cipher.getInstance("AES/ECB/NoPadding");
        ecb.init(Cipher.ENCRYPT_MODE, k);
        return new DecryptingStream(in, ecb, z);
    }

    private static SecretKeySpec aesKey(byte[] key, byte[] iv) {
        if (!isAesKey(key)) {
            throw new IllegalArgumentException("an AES key has 16, 24 or 32 bytes, not " + key.length);
        }
        if (iv.length != BLOCK) {
            throw new IllegalArgumentException("the CFB IV is one block (16 bytes), not " + iv.length);
        }
        return new SecretKeySpec(key, "AES");
    }

    /** {@code E(iv)}: the keystream of the first block. */
    private static byte[] firstKeystreamBlock(SecretKeySpec key, byte[] iv) throws GeneralSecurityException {
        Cipher ecb = Cipher.getInstance("AES/ECB/NoPadding");
        ecb.init(Cipher.ENCRYPT_MODE, key);
        return ecb.doFinal(iv);
    }

    /**
     * {@code out[outOff + i] = in[inOff + i] ^ ks[i]} for {@code i < n}, eight bytes at a time: C2 does not
     * vectorize the plain byte loop (about 2 GiB/s here, against 17 GiB/s for this one). {@code out} may be
     * {@code in} at the same offset.
     */
    private static void xor(byte[] in, int inOff, byte[] ks, byte[] out, int outOff, int n) {
        int i = 0;
        for (; i <= n - Long.BYTES; i += Long.BYTES) {
            LONGS.set(out, outOff + i, (long) LONGS.get(in, inOff + i) ^ (long) LONGS.get(ks, i));
        }
        for (; i < n; i++) {
            out[outOff + i] = (byte) (in[inOff + i] ^ ks[i]);
        }
    }

    /**
     * The CFB keystream, driven by the bytes fed back into it: the plaintext for encryption (through CBC), the
     * ciphertext for decryption (through ECB). In both directions the output is the input XOR the keystream, and the
     * input is what feeds the cipher, so one loop serves both.
     */
    private static final class Keystream {
        private final Cipher cipher;
        /** The keystream block for the current block; for CBC also the cipher's chaining value. */
        private final byte[] z;
        /** The input of the current block, its first {@code pos} bytes. */
        private final byte[] partial = new byte[BLOCK];
        /** Keystream for up to {@link #CHUNK} bytes plus the next keystream block. */
        private final byte[] ks = new byte[CHUNK + BLOCK];

        private int pos;

        Keystream(Cipher cipher, byte[] z) {
            this.cipher = cipher;
            this.z = z;
        }

        /**
         * Writes {@code out[outOff ..] = in[inOff ..] ^ keystream} for up to {@code len} bytes, at most
         * {@link #CHUNK}, and returns how many. {@code out} may be {@code in} at the same offset.
         */
        int apply(byte[] in, int inOff, int len, byte[] out, int outOff) throws GeneralSecurityException {
            if (pos > 0 || len < BLOCK) {
                int n = Math.min(len, BLOCK - pos);
                for (int i = 0; i < n; i++) {
                    byte b = in[inOff + i];
                    partial[pos + i] = b;
                    out[outOff + i] = (byte) (b ^ z[pos + i]);
                }
                pos += n;
                if (pos == BLOCK) {
                    expect(cipher.update(partial, 0, BLOCK, z, 0), BLOCK); // CBC: E(P ^ z) = E(C); ECB: E(C)
                    pos = 0;
                }
                return n;
            }
            int n = Math.min(len, CHUNK) & -BLOCK;
            System.arraycopy(z, 0, ks, 0, BLOCK);
            expect(cipher.update(in, inOff, n, ks, BLOCK), n); // ks = Z(1) .. Z(m+1)
            System.arraycopy(ks, n, z, 0, BLOCK);
            xor(in, inOff, ks, out, outOff, n);
            return n;
        }

        private static void expect(int produced, int wanted) {
            if (produced != wanted) {
                throw new IllegalStateException("the JCE cipher returned " + produced + " bytes for " + wanted
                        + " bytes of whole blocks; it is not a plain block cipher mode");
            }
        }
    }

    /** CFB encryption: see the class comment. */
    private static final class EncryptingStream extends OutputStream {
        private final OutputStream out;
        private final Keystream keystream;
        private final byte[] buf = new byte[CHUNK];
        private final byte[] one = new byte[1];
        private boolean closed;

        EncryptingStream(OutputStream out, Cipher cbc, byte[] z) {
            this.out = out;
            this.keystream = new Keystream(cbc, z);
        }

        @Override
        public void write(int b) throws IOException {
            one[0] = (byte) b;
            write(one, 0, 1);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            Objects.checkFromIndexSize(off, len, b.length);
            if (closed) {
                throw new IOException("stream closed");
            }
            try {
                while (len > 0) {
                    int n = keystream.apply(b, off, len, buf, 0);
                    out.write(buf, 0, n);
                    off += n;
                    len -= n;
                }
            } catch (GeneralSecurityException e) {
                throw new IOException("AES encryption failed: " + e.getMessage(), e);
            }
        }

        @Override
        public void flush() throws IOException {
            if (closed) {
                throw new IOException("stream closed");
            }
            out.flush();
        }

        /** Closes {@code out}: every byte was passed on when written, a last partial block included. */
        @Override
        public void close() throws IOException {
            if (!closed) {
                closed = true;
                out.close();
            }
        }
    }

    /** CFB decryption: see the class comment. Decrypts in place in the caller's array. */
    private static final class DecryptingStream extends InputStream {
        private final InputStream in;
        private final Keystream keystream;
        private final byte[] one = new byte[1];
        private boolean closed;

        DecryptingStream(InputStream in, Cipher ecb, byte[] z) {
            this.in = in;
            this.keystream = new Keystream(ecb, z);
        }

        @Override
        public int read() throws IOException {
            int n;
            do {
                n = read(one, 0, 1);
            } while (n == 0);
            return n < 0 ? -1 : one[0] & 0xff;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            Objects.checkFromIndexSize(off, len, b.length);
            if (closed) {
                throw new IOException("stream closed");
            }
            if (len == 0) {
                return 0;
            }
            int read = in.read(b, off, len);
            try {
                for (int done = 0; done < read; ) {
                    done += keystream.apply(b, off + done, read - done, b, off + done);
                }
            } catch (GeneralSecurityException e) {
                throw new IOException("AES decryption failed: " + e.getMessage(), e);
            }
            return read;
        }

        /** What {@code in} has available: each ciphertext byte decrypts to one plaintext byte at once. */
        @Override
        public int available() throws IOException {
            return closed ? 0 : in.available();
        }

        @Override
        public void close() throws IOException {
            if (!closed) {
                closed = true;
                in.close();
            }
        }
    }
}

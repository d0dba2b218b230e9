package com.jiffoo.backup.crypto;

import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.util.Arrays;

/**
 * One 32-byte block of PBKDF2-HMAC-SHA256 (RFC 8018), as {@link PgpAuthenticator} derives its HMAC key: the same
 * bytes as the JDK's {@code PBKDF2WithHmacSHA256} (PgpAuthenticatorTest compares them), for a fraction of its CPU in
 * a short-lived JVM.
 *
 * <p>Every iteration after the first hashes a 32-byte value under HMAC's inner and outer pads: with the pads' SHA-256
 * states computed once, that is one compression each, of a block whose layout never changes (the value, the 0x80
 * padding byte, the length 768 bits). Here those two compressions work on 32-bit words held in arrays reused across
 * the iterations: no {@link MessageDigest} clone, no byte/word conversion, no allocation per iteration. Each JVM that
 * reads or writes a manifest derives the key once (every {@code wal-fetch}, {@code wal-push} and restore), so the
 * derivation runs mostly before the JIT compiler finished with it; the old way through cloned digests cost about
 * twice the CPU there, and kept the compiler busier (docs/benchmarks.md, issue 14).
 */
final class Pbkdf2Sha256 {
    private static final int[] K = {
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
        0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
        0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
        0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
        0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
        0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
    };
    private static final int[] INITIAL = {
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19
    };
    private static final int BLOCK = 64;
    /** The bit length of what an iteration hashes under a pad: the 64-byte pad block and the 32-byte value. */
    private static final int ITERATION_BITS = (BLOCK + 32) * 8;

    private Pbkdf2Sha256() {}

    /** PBKDF2-HMAC-SHA256 of {@code password} and {@code salt}, {@code iterations} (at least 1), its first block. */
    static byte[] derive(byte[] password, byte[] salt, int iterations) {
        if (iterations < 1) {
            throw new IllegalArgumentException("iterations must be at least 1: " + iterations);
        }
        byte[] key = password;
        byte[] ipad = new byte[BLOCK];
        byte[] opad = new byte[BLOCK];
        int[] w = new int[64];
        int[] inner = new int[8];
        int[] outer = new int[8];
        int[] u = new int[8];
        int[] t = new int[8];
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            if (password.length > BLOCK) {
                key = sha.digest(password); // HMAC's key longer than a block is its hash
            }
            for (int i = 0; i < BLOCK; i++) {
                int k = i < key.length ? key[i] : 0;
                ipad[i] = (byte) (k ^ 0x36);
                opad[i] = (byte) (k ^ 0x5c);
            }
            // U1 = HMAC(P, S || INT(1)): the salt has any length, so through the digest
            sha.update(ipad);
            sha.update(salt);
            sha.update(new byte[] {0, 0, 0, 1});
            byte[] first = sha.digest();
            sha.update(opad);
            sha.update(first);
            sha.digest(first, 0, first.length);
            toWords(first, u);
            Arrays.fill(first, (byte) 0);
            System.arraycopy(u, 0, t, 0, 8);
            // the pads' states: one compression of each pad block from the initial state
            toWords(ipad, w);
            compress(INITIAL, w, inner);
            toWords(opad, w);
            compress(INITIAL, w, outer);
            for (int i = 1; i < iterations; i++) {
                iterationBlock(u, w);
                compress(inner, w, u);
                iterationBlock(u, w);
                compress(outer, w, u);
                for (int j = 0; j < 8; j++) {
                    t[j] ^= u[j];
                }
            }
            byte[] out = new byte[32];
            for (int j = 0; j < 8; j++) {
                out[4 * j] = (byte) (t[j] >>> 24);
                out[4 * j + 1] = (byte) (t[j] >>> 16);
                out[4 * j + 2] = (byte) (t[j] >>> 8);
                out[4 * j + 3] = (byte) t[j];
            }
            return out;
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("SHA-256 is not available: " + e.getMessage(), e);
        } finally {
            if (key != password) {
                Arrays.fill(key, (byte) 0);
            }
            Arrays.fill(ipad, (byte) 0);
            Arrays.fill(opad, (byte) 0);
            Arrays.fill(w, 0);
            Arrays.fill(inner, 0);
            Arrays.fill(outer, 0);
            Arrays.fill(u, 0);
            Arrays.fill(t, 0);
        }
    }

    /** The big-endian words of {@code bytes} (a multiple of 4 long) into {@code words}. */
    private static void toWords(byte[] bytes, int[] words) {
        for (int i = 0; i < bytes.length / 4; i++) {
            words[i] = (bytes[4 * i] & 0xff) << 24
                    | (bytes[4 * i + 1] & 0xff) << 16
                    | (bytes[4 * i + 2] & 0xff) << 8
                    | bytes[4 * i + 3] & 0xff;
        }
    }

    /** The last block of SHA-256 over a pad block and the 32-byte {@code value}: value, 0x80, zeros, length. */
    private static void iterationBlock(int[] value, int[] w) {
        System.arraycopy(value, 0, w, 0, 8);
        w[8] = 0x80000000;
        for (int i = 9; i < 15; i++) {
            w[i] = 0;
        }
        w[15] = ITERATION_BITS;
    }

    /** SHA-256's compression of the block {@code w[0..15]} (w[16..63] are overwritten) from {@code state}. */
    private static void compress(int[] state, int[] w, int[] out) {
        for (int i = 16; i < 64; i++) {
            int x = w[i - 2];
            int y = w[i - 15];
            int s1 = Integer.rotateRight(x, 17) ^ Integer.rotateRight(x, 19) ^ (x >>> 10);
            int s0 = Integer.rotateRight(y, 7) ^ Integer.rotateRight(y, 18) ^ (y >>> 3);
            w[i] = s1 + w[i - 7] + s0 + w[i - 16];
        }
        int a = state[0];
        int b = state[1];
        int c = state[2];
        int d = state[3];
        int e = state[4];
        int f = state[5];
        int g = state[6];
        int h = state[7];
        for (int i = 0; i < 64; i++) {
            int t1 = h
                    + (Integer.rotateRight(e, 6) ^ Integer.rotateRight(e, 11) ^ Integer.rotateRight(e, 25))
                    + ((e & f) ^ (~e & g))
                    + K[i]
                    + w[i];
            int t2 = (Integer.rotateRight(a, 2) ^ Integer.rotateRight(a, 13) ^ Integer.rotateRight(a, 22))
                    + ((a & b) ^ (a & c) ^ (b & c));
            h = g;
            g = f;
            f = e;
            e = d + t1;
            d = c;
            c = b;
            b = a;
            a = t1 + t2;
        }
        out[0] = state[0] + a;
        out[1] = state[1] + b;
        out[2] = state[2] + c;
        out[3] = state[3] + d;
        out[4] = state[4] + e;
        out[5] = state[5] + f;
        out[6] = state[6] + g;
        out[7] = state[7] + h;
    }
}

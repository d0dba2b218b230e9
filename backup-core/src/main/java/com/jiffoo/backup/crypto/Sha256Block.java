package com.jiffoo.backup.crypto;

/**
 * SHA-256's compression function (FIPS 180-4, section 6.2.2) on {@code int}s, for {@link PgpAuthenticator}'s PBKDF2,
 * which hashes 400,000 single blocks from saved states: no {@code MessageDigest} can start from a saved state without
 * a clone, and cloning allocated per block. Not a general digest: whole blocks only, the caller pads.
 */
final class Sha256Block {
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

    private Sha256Block() {}

    /** SHA-256's initial hash value. */
    static int[] initial() {
        return new int[] {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19
        };
    }

    /** The 64-byte block {@code block} as 16 big-endian words in {@code w[0..15]}; returns {@code w}. */
    static int[] words(byte[] block, int[] w) {
        for (int i = 0; i < 16; i++) {
            w[i] = (block[4 * i] & 0xFF) << 24
                    | (block[4 * i + 1] & 0xFF) << 16
                    | (block[4 * i + 2] & 0xFF) << 8
                    | block[4 * i + 3] & 0xFF;
        }
        return w;
    }

    /**
     * The last block of a message of one 64-byte block followed by the 32 bytes {@code digest} (as HMAC hashes a
     * digest after a pad): the digest, the {@code 0x80} byte, zeros and the length in bits, 768.
     */
    static void padded32(int[] digest, int[] w) {
        System.arraycopy(digest, 0, w, 0, 8);
        w[8] = 0x80000000;
        for (int i = 9; i < 15; i++) {
            w[i] = 0;
        }
        w[15] = 768;
    }

    /**
     * {@code out = compress(from, w[0..15])}: {@code w} (64 words) holds the block and is overwritten by the message
     * schedule; {@code out} may be {@code from} or any 8 words.
     */
    static void compress(int[] from, int[] w, int[] out) {
        for (int t = 16; t < 64; t++) {
            int x = w[t - 15];
            int y = w[t - 2];
            int s0 = Integer.rotateRight(x, 7) ^ Integer.rotateRight(x, 18) ^ (x >>> 3);
            int s1 = Integer.rotateRight(y, 17) ^ Integer.rotateRight(y, 19) ^ (y >>> 10);
            w[t] = w[t - 16] + s0 + w[t - 7] + s1;
        }
        int a = from[0];
        int b = from[1];
        int c = from[2];
        int d = from[3];
        int e = from[4];
        int f = from[5];
        int g = from[6];
        int h = from[7];
        for (int t = 0; t < 64; t++) {
            int t1 = h
                    + (Integer.rotateRight(e, 6) ^ Integer.rotateRight(e, 11) ^ Integer.rotateRight(e, 25))
                    + ((e & f) ^ (~e & g))
                    + K[t]
                    + w[t];
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
        out[0] = from[0] + a;
        out[1] = from[1] + b;
        out[2] = from[2] + c;
        out[3] = from[3] + d;
        out[4] = from[4] + e;
        out[5] = from[5] + f;
        out[6] = from[6] + g;
        out[7] = from[7] + h;
    }
}

package com.jiffoo.backup.testutil;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.SplittableRandom;

/**
 * Test helpers for key files and data: key files with mode 0600 like the runbook's
 * {@code openssl rand -base64 32 > backup.key}, and reproducible random data.
 *
 * <pre>{@code
 * Path key = TestKeys.keyFile(tempDir, "backup.key");
 * byte[] data = TestKeys.randomBytes(1 << 20, 42);
 * }</pre>
 */
public final class TestKeys {

    private TestKeys() {
    }

    /** Writes a key file holding a fresh random passphrase (base64 of 32 bytes and a newline), mode 0600. */
    public static Path keyFile(Path dir, String name) {
        byte[] b = new byte[32];
        new SecureRandom().nextBytes(b);
        return keyFile(dir, name, Base64.getEncoder().encodeToString(b) + "\n");
    }

    /** Writes {@code content} verbatim to {@code dir/name} with mode 0600 (replacing an existing file). */
    public static Path keyFile(Path dir, String name, String content) {
        try {
            Path f = dir.resolve(name);
            Files.deleteIfExists(f);
            Files.createFile(f, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            Files.writeString(f, content, StandardCharsets.UTF_8);
            return f;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The first line of a key file (the passphrase), for assertions that it never leaks. */
    public static String passphraseOf(Path keyFile) {
        try {
            return Files.readAllLines(keyFile, StandardCharsets.UTF_8).get(0);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** {@code size} pseudo-random bytes, the same for the same seed. */
    public static byte[] randomBytes(int size, long seed) {
        byte[] b = new byte[size];
        SplittableRandom r = new SplittableRandom(seed);
        for (int i = 0; i < size; i += 8) {
            long v = r.nextLong();
            for (int j = 0; j < 8 && i + j < size; j++) {
                b[i + j] = (byte) (v >>> (8 * j));
            }
        }
        return b;
    }

    /** An endless-if-you-like stream of {@code size} pseudo-random bytes that is never held in memory. */
    public static InputStream randomStream(long size, long seed) {
        return new InputStream() {
            private final SplittableRandom r = new SplittableRandom(seed);
            private long left = size;

            @Override
            public int read() {
                if (left <= 0) {
                    return -1;
                }
                left--;
                return r.nextInt(256);
            }

            @Override
            public int read(byte[] b, int off, int len) {
                if (left <= 0) {
                    return -1;
                }
                int n = (int) Math.min(len, left);
                for (int i = 0; i < n; i += 8) {
                    long v = r.nextLong();
                    for (int j = 0; j < 8 && i + j < n; j++) {
                        b[off + i + j] = (byte) (v >>> (8 * j));
                    }
                }
                left -= n;
                return n;
            }
        };
    }
}

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

    private TestKeys() {}

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

    /** {@code size} pseudo-random bytes, the same for the same seed (see {@link GeneratedSource#stream}). */
    public static byte[] randomBytes(int size, long seed) {
        try (InputStream in = GeneratedSource.stream(size, seed)) {
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A stream of {@code size} pseudo-random bytes that is never held in memory. */
    public static InputStream randomStream(long size, long seed) {
        return GeneratedSource.stream(size, seed);
    }
}

package com.jiffoo.backup.internal;

import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.security.MessageDigest;

/**
 * Counts and hashes (SHA-256) the bytes passing to {@code out}. The digest is read once writing is done.
 * {@link #close()} closes {@code out}.
 */
public final class CountingDigestOutputStream extends FilterOutputStream {
    private final MessageDigest digest = Sha256.newDigest();
    private volatile long count;

    /** Wraps {@code out}. */
    public CountingDigestOutputStream(OutputStream out) {
        super(out);
    }

    @Override
    public void write(int b) throws IOException {
        out.write(b);
        digest.update((byte) b);
        count++;
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
        out.write(b, off, len);
        digest.update(b, off, len);
        count += len;
    }

    /** Bytes written so far; safe to read from another thread. */
    public long count() {
        return count;
    }

    /** The hex SHA-256 of everything written. Call once, at the end. */
    public String sha256() {
        return Sha256.hex(digest.digest());
    }
}

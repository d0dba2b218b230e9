package com.jiffoo.backup.internal;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.security.MessageDigest;

/**
 * Counts and hashes (SHA-256) the bytes read from {@code in}, or only counts them. The digest is read once the stream is
 * exhausted.
 */
public final class CountingDigestInputStream extends FilterInputStream {
    private final MessageDigest digest;
    private volatile long count;
    private boolean eof;

    /** Wraps {@code in}, counting and hashing. */
    public CountingDigestInputStream(InputStream in) {
        this(in, true);
    }

    /** Wraps {@code in}, counting, and hashing when {@code hash}. */
    public CountingDigestInputStream(InputStream in, boolean hash) {
        super(in);
        this.digest = hash ? Sha256.newDigest() : null;
    }

    @Override
    public int read() throws IOException {
        int b = in.read();
        if (b >= 0) {
            if (digest != null) {
                digest.update((byte) b);
            }
            count++;
        } else {
            eof = true;
        }
        return b;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
        int n = in.read(b, off, len);
        if (n > 0) {
            if (digest != null) {
                digest.update(b, off, n);
            }
            count += n;
        } else if (n < 0) {
            eof = true;
        }
        return n;
    }

    @Override
    public long skip(long n) throws IOException {
        byte[] buf = new byte[(int) Math.min(n, 8192)];
        long done = 0;
        while (done < n) {
            int r = read(buf, 0, (int) Math.min(buf.length, n - done));
            if (r < 0) {
                break;
            }
            done += r;
        }
        return done;
    }

    @Override
    public boolean markSupported() {
        return false;
    }

    @Override
    public synchronized void mark(int readlimit) {}

    @Override
    public synchronized void reset() throws IOException {
        throw new IOException("mark/reset not supported");
    }

    /** Bytes read so far; safe to read from another thread. */
    public long count() {
        return count;
    }

    /** True once the underlying stream returned end of file. */
    public boolean atEof() {
        return eof;
    }

    /** The hex SHA-256 of everything read, or null when not hashing. Call once, at the end. */
    public String sha256() {
        return digest == null ? null : Sha256.hex(digest.digest());
    }
}

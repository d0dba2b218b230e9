package com.jiffoo.backup.store.multipart;

import java.io.InputStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The bytes of one part (or of a whole small object), held in memory so that a failed upload can be sent again.
 * By default in 256 KiB chunks allocated as they fill: below half a G1 region even in small heaps, so never
 * "humongous" objects. For a store client that sends arrays ({@link ObjectStore#contiguousParts()}) a part up to
 * 2047 MiB is one array grown as it fills (64 KiB first, then doubling), sent as it is ({@link #array()}). Written
 * by one thread, then read by any number of streams (an upload attempt and its retries).
 */
public final class PartBuffer {
    private static final int CHUNK = 256 << 10;
    private static final int MAX_ARRAY = 2047 << 20;
    private static final int FIRST = 64 << 10;
    private final List<byte[]> chunks = new ArrayList<>();
    private final long capacity;
    private final int chunk;
    private long size;

    PartBuffer(long capacity, boolean contiguous) {
        this.capacity = capacity;
        this.chunk = contiguous ? MAX_ARRAY : CHUNK;
    }

    /** The number of bytes written. */
    public long size() {
        return size;
    }

    long remaining() {
        return capacity - size;
    }

    /** Copies up to {@link #remaining()} bytes; returns how many were taken. */
    int write(byte[] b, int off, int len) {
        int n = (int) Math.min(len, remaining());
        int done = 0;
        while (done < n) {
            int index = (int) (size / chunk);
            int at = (int) (size % chunk);
            int cap = (int) Math.min(chunk, capacity - (long) index * chunk);
            if (index == chunks.size()) {
                chunks.add(new byte[chunk == CHUNK ? cap : Math.min(FIRST, cap)]);
            }
            byte[] chunk = chunks.get(index);
            if (at == chunk.length) {
                chunk = Arrays.copyOf(chunk, (int) Math.min(cap, 2L * chunk.length));
                chunks.set(index, chunk);
            }
            int m = Math.min(n - done, chunk.length - at);
            System.arraycopy(b, off + done, chunk, at, m);
            done += m;
            size += m;
        }
        return n;
    }

    /** The array holding the bytes at {@code [0, size())} when they are in one (it may be longer), else null. */
    public byte[] array() {
        return chunks.isEmpty() ? new byte[0] : chunks.size() == 1 ? chunks.get(0) : null;
    }

    /** A new stream over the bytes written. */
    public InputStream newInputStream() {
        return new InputStream() {
            private long pos;

            @Override
            public int read() {
                byte[] one = new byte[1];
                return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
            }

            @Override
            public int read(byte[] b, int off, int len) {
                if (len == 0) {
                    return 0;
                }
                if (pos >= size) {
                    return -1;
                }
                byte[] c = chunks.get((int) (pos / chunk));
                int at = (int) (pos % chunk);
                int m = (int) Math.min(Math.min(len, c.length - at), size - pos);
                System.arraycopy(c, at, b, off, m);
                pos += m;
                return m;
            }

            @Override
            public int available() {
                return (int) Math.min(Integer.MAX_VALUE, size - pos);
            }
        };
    }

    /** The hex MD5 of the bytes: a single PUT's ETag when the store keeps plain MD5 ETags. */
    String md5Hex() {
        java.security.MessageDigest md5 = com.jiffoo.backup.internal.ETags.md5();
        for (int i = 0; i < chunks.size(); i++) {
            md5.update(chunks.get(i), 0, (int) Math.min(chunks.get(i).length, size - (long) i * chunk));
        }
        return java.util.HexFormat.of().formatHex(md5.digest());
    }
}

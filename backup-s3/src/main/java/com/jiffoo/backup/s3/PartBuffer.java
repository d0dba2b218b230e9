package com.jiffoo.backup.s3;

import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;

/**
 * The bytes of one part, in 256 KiB chunks allocated as they fill (a part may be larger than a Java array can be).
 * Written by one thread, then read any number of times (an upload attempt and its retries).
 */
final class PartBuffer {
    /** 256 KiB: below half a G1 region even in small heaps, so chunks are never "humongous" objects. */
    private static final int CHUNK = 256 << 10;
    private final List<byte[]> chunks = new ArrayList<>();
    private final long capacity;
    private long size;

    PartBuffer(long capacity) {
        this.capacity = capacity;
    }

    long size() {
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
            int inChunk = (int) (size % CHUNK);
            if (inChunk == 0 && chunks.size() == size / CHUNK) {
                chunks.add(new byte[(int) Math.min(CHUNK, capacity - size)]);
            }
            byte[] chunk = chunks.get((int) (size / CHUNK));
            int m = Math.min(n - done, chunk.length - inChunk);
            System.arraycopy(b, off + done, chunk, inChunk, m);
            done += m;
            size += m;
        }
        return n;
    }

    /** A new stream over the bytes written. */
    InputStream newInputStream() {
        return new InputStream() {
            private long pos;

            @Override
            public int read() {
                if (pos >= size) {
                    return -1;
                }
                byte b = chunks.get((int) (pos / CHUNK))[(int) (pos % CHUNK)];
                pos++;
                return b & 0xff;
            }

            @Override
            public int read(byte[] b, int off, int len) {
                if (len == 0) {
                    return 0;
                }
                if (pos >= size) {
                    return -1;
                }
                int total = 0;
                while (total < len && pos < size) {
                    byte[] chunk = chunks.get((int) (pos / CHUNK));
                    int inChunk = (int) (pos % CHUNK);
                    int m = (int) Math.min(Math.min(len - total, chunk.length - inChunk), size - pos);
                    System.arraycopy(chunk, inChunk, b, off + total, m);
                    total += m;
                    pos += m;
                }
                return total;
            }

            @Override
            public int available() {
                return (int) Math.min(Integer.MAX_VALUE, size - pos);
            }
        };
    }
}

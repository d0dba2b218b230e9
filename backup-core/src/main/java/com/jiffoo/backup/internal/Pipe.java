package com.jiffoo.backup.internal;

import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A bounded byte pipe between one writer thread and one reader thread, so that two stages of a pipeline (e.g.
 * compression and encryption) run on two cores. Memory is {@code (depth + 2) * chunkSize} at most, whatever flows
 * through. Unlike {@link java.io.PipedInputStream} it moves whole chunks and never polls.
 *
 * <p>Failure in either direction is passed on: {@link #fail(Throwable)} by the writer makes the reader's next read
 * throw; the reader {@linkplain InputStream#close() closing early} makes the writer's next write throw.
 */
public final class Pipe {
    private static final byte[] EOF = new byte[0];

    private final int chunkSize;
    private final BlockingQueue<byte[]> full;
    private final BlockingQueue<byte[]> free;
    private final Out out = new Out();
    private final In in = new In();
    private volatile Throwable writerFailure;
    private volatile boolean readerClosed;
    private volatile boolean readerTook;

    /**
     * @param chunkSize bytes per chunk
     * @param depth     chunks that may wait between writer and reader
     */
    public Pipe(int chunkSize, int depth) {
        if (chunkSize < 1 || depth < 1) {
            throw new IllegalArgumentException("chunkSize and depth must be >= 1");
        }
        this.chunkSize = chunkSize;
        this.full = new ArrayBlockingQueue<>(depth + 1);
        this.free = new ArrayBlockingQueue<>(depth + 2);
    }

    /** Checks a chunk size for a pipeline's buffer: 4 KiB..64 MiB. */
    public static int checkChunkSize(int bytes) {
        if (bytes < 4096 || bytes > 64 * 1024 * 1024) {
            throw new IllegalArgumentException("bufferChunkSize must be 4 KiB..64 MiB, got " + bytes);
        }
        return bytes;
    }

    /** Checks a chunk count for a pipeline's buffer: 1..1024. */
    public static int checkChunks(int count) {
        if (count < 1 || count > 1024) {
            throw new IllegalArgumentException("bufferChunks must be 1..1024, got " + count);
        }
        return count;
    }

    /** The writer's end. Closing it signals end of data. */
    public OutputStream outputStream() {
        return out;
    }

    /** The reader's end. Closing it early makes further writes fail. */
    public InputStream inputStream() {
        return in;
    }

    /** Whether the reader has taken at least one byte. */
    public boolean readerTookAny() {
        return readerTook;
    }

    /** Closes the reader's end (what {@code inputStream().close()} does), without a checked exception. */
    public void closeReader() {
        in.close();
    }

    /** Called by the writer when it fails: the reader's next read throws an IOException caused by {@code t}. */
    public void fail(Throwable t) {
        writerFailure = t;
        full.clear();
        full.offer(EOF);
    }

    private byte[] chunk() {
        byte[] c = free.poll();
        return c != null ? c : new byte[chunkSize];
    }

    private final class Out extends OutputStream {
        private byte[] buf;
        private int pos;
        private boolean closed;

        @Override
        public void write(int b) throws IOException {
            write(new byte[] {(byte) b}, 0, 1);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            if (closed) {
                throw new IOException("pipe closed by its writer");
            }
            while (len > 0) {
                if (buf == null) {
                    buf = chunk();
                    pos = 0;
                }
                int n = Math.min(len, chunkSize - pos);
                System.arraycopy(b, off, buf, pos, n);
                pos += n;
                off += n;
                len -= n;
                if (pos == chunkSize) {
                    put(buf);
                    buf = null;
                }
            }
        }

        @Override
        public void flush() throws IOException {
            if (buf != null && pos > 0) {
                byte[] c = pos == chunkSize ? buf : java.util.Arrays.copyOf(buf, pos);
                put(c);
                buf = null;
            }
        }

        private void put(byte[] c) throws IOException {
            try {
                checkReader();
                while (!full.offer(c, 100, TimeUnit.MILLISECONDS)) {
                    checkReader();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("interrupted while writing to the pipe");
            }
        }

        private void checkReader() throws IOException {
            if (readerClosed) {
                throw new ReaderClosedException();
            }
        }

        @Override
        public void close() throws IOException {
            if (closed) {
                return;
            }
            flush();
            closed = true;
            put(EOF);
        }
    }

    private final class In extends InputStream {
        private byte[] cur;
        private int pos;
        private boolean eof;
        private boolean took;

        @Override
        public int read() throws IOException {
            byte[] one = new byte[1];
            int n = read(one, 0, 1);
            return n < 0 ? -1 : one[0] & 0xff;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            if (len == 0) {
                return 0;
            }
            if (readerClosed) {
                throw new IOException("pipe closed by its reader");
            }
            while (cur == null || pos == cur.length) {
                if (eof) {
                    return -1;
                }
                if (cur != null && cur.length == chunkSize) {
                    free.offer(cur);
                }
                cur = null;
                byte[] next;
                try {
                    next = full.take();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new InterruptedIOException("interrupted while reading from the pipe");
                }
                if (writerFailure != null) {
                    throw new WriterFailedException(writerFailure);
                }
                if (next == EOF) {
                    eof = true;
                    return -1;
                }
                cur = next;
                pos = 0;
            }
            int n = Math.min(len, cur.length - pos);
            System.arraycopy(cur, pos, b, off, n);
            pos += n;
            if (!took) {
                took = true;
                readerTook = true;
            }
            return n;
        }

        @Override
        public void close() {
            readerClosed = true;
            full.clear();
        }
    }

    /** Thrown to the writer when the reader stopped reading: the failure is the reader's, reported elsewhere. */
    public static final class ReaderClosedException extends IOException {
        private static final long serialVersionUID = 1L;

        ReaderClosedException() {
            super("the next stage stopped reading");
        }
    }

    /** Thrown to the reader when the writer failed: the failure is the writer's, reported elsewhere. */
    public static final class WriterFailedException extends IOException {
        private static final long serialVersionUID = 1L;

        WriterFailedException(Throwable cause) {
            super("the previous stage failed: " + cause.getMessage(), cause);
        }
    }

    /** True when {@code t} or one of its causes is a {@link ReaderClosedException}. */
    public static boolean isReaderClosed(Throwable t) {
        return causedBy(t, ReaderClosedException.class);
    }

    /** True when {@code t} or one of its causes is a {@link WriterFailedException}. */
    public static boolean isWriterFailed(Throwable t) {
        return causedBy(t, WriterFailedException.class);
    }

    private static boolean causedBy(Throwable t, Class<? extends IOException> type) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (type.isInstance(c)) {
                return true;
            }
        }
        return false;
    }
}

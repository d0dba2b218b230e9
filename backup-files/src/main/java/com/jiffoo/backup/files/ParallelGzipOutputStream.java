package com.jiffoo.backup.files;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;
import java.util.zip.CRC32;
import java.util.zip.Deflater;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A gzip stream that deflates on several threads, the way pigz does, and still writes one standard gzip member
 * (RFC 1952) that {@code gzip -d}, {@code tar xz} and {@link java.util.zip.GZIPInputStream} read.
 *
 * <p>The input is cut into blocks ({@value #DEFAULT_BLOCK_SIZE} bytes by default). Each block is deflated by a
 * worker thread with its own {@link Deflater}, primed with the last 32 KiB of the input before it as a preset
 * dictionary, so matches reach back across block boundaries as they do in a single-threaded stream. A block ends
 * with a sync flush (an empty stored block, which puts the next block on a byte boundary); the last one is
 * finished. The compressed blocks are written to {@code out} in order on the caller's thread, which also computes
 * the CRC-32 of the input and writes the gzip header and trailer.
 *
 * <p>Memory is bounded by configuration: at most {@code threads x 2} blocks are in flight (each holds its input,
 * 32 KiB of dictionary and its compressed output), plus one block being filled; a writer that gets ahead waits for
 * the oldest block. The threads are daemon threads of a pool owned by this stream; {@link #close()} shuts them down
 * and waits for them, also after a failure. Idle workers also end by themselves after a while, so a stream that is
 * dropped without being closed does not keep threads forever.
 *
 * <p>Errors: a failure in a worker (or in {@code out}) fails the stream and stops the workers at once; the next
 * {@code write}, {@code flush} or {@code close} throws an {@link IOException} with the first failure as its cause,
 * and every later {@code write} or {@code flush} throws the same. {@code close()} is idempotent.
 *
 * <p>Not thread-safe: one thread writes (the workers are internal).
 */
final class ParallelGzipOutputStream extends OutputStream {

    private static final Logger LOG = LoggerFactory.getLogger(ParallelGzipOutputStream.class);

    /** The default block size, pigz's. */
    static final int DEFAULT_BLOCK_SIZE = 128 * 1024;

    /** Deflate's window: the most of the preceding input a block can refer to. */
    static final int DICTIONARY_SIZE = 32 * 1024;

    /** How long an idle worker waits for work before it ends (a pool whose stream was dropped drains itself). */
    private static final long KEEP_ALIVE_SECONDS = 5;

    /** How long {@link #close()} waits for a running worker to finish its block. */
    private static final long JOIN_MILLIS = 10_000;

    private static final AtomicInteger STREAMS = new AtomicInteger();

    private final OutputStream out;
    private final int blockSize;
    private final int maxInFlight;
    private final Supplier<Deflater> deflaters;
    private final String threadPrefix;
    private final Set<Worker> workers = ConcurrentHashMap.newKeySet();
    private final AtomicInteger workerCount = new AtomicInteger();
    private final ThreadPoolExecutor pool;
    private final ArrayDeque<Future<Compressed>> inFlight = new ArrayDeque<>();
    private final AtomicReference<Throwable> workerFailure = new AtomicReference<>();
    private final CRC32 crc = new CRC32();

    /** The block being filled: {@code DICTIONARY_SIZE} bytes of room for the dictionary, then the data. */
    private byte[] buffer;
    /** Dictionary bytes just before {@link #DICTIONARY_SIZE} in {@link #buffer}. */
    private int dictionaryLength;
    /** Data bytes from {@link #DICTIONARY_SIZE} in {@link #buffer}. */
    private int length;

    private long totalIn;
    private IOException failure;
    private boolean closed;

    /**
     * A stream writing gzip at {@code level} to {@code out} with {@code threads} workers and 128 KiB blocks. The
     * gzip header is written at once.
     *
     * @throws IllegalArgumentException when {@code level} is not 1-9 or {@code threads} is below 1
     * @throws IOException when writing the header fails
     */
    ParallelGzipOutputStream(OutputStream out, int level, int threads) throws IOException {
        this(out, level, threads, DEFAULT_BLOCK_SIZE, () -> new Deflater(level, true));
    }

    /** As above, with a block size and the source of each worker's raw (no zlib wrapper) {@link Deflater}. */
    ParallelGzipOutputStream(OutputStream out, int level, int threads, int blockSize, Supplier<Deflater> deflaters)
            throws IOException {
        this.out = Objects.requireNonNull(out, "out");
        this.deflaters = Objects.requireNonNull(deflaters, "deflaters");
        if (level < 1 || level > 9) {
            throw new IllegalArgumentException("gzip level must be between 1 and 9, got " + level);
        }
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be at least 1, got " + threads);
        }
        if (blockSize < 1) {
            throw new IllegalArgumentException("blockSize must be at least 1, got " + blockSize);
        }
        this.blockSize = blockSize;
        this.maxInFlight = threads * 2;
        this.buffer = new byte[DICTIONARY_SIZE + blockSize];
        this.threadPrefix = "jiffoo-gzip-" + STREAMS.incrementAndGet() + "-";
        // the header first, so that a failing out leaves no pool behind
        out.write(new byte[] {
            0x1f,
            (byte) 0x8b, // magic
            8, // CM: deflate
            0, // FLG: no name, comment or extra field
            0,
            0,
            0,
            0, // MTIME: none
            (byte) (level == 9 ? 2 : level == 1 ? 4 : 0), // XFL: as gzip sets it
            (byte) 255, // OS: unknown
        });
        this.pool = new ThreadPoolExecutor(
                threads, threads, KEEP_ALIVE_SECONDS, TimeUnit.SECONDS, new LinkedBlockingQueue<>(), Worker::new);
        pool.allowCoreThreadTimeOut(true);
    }

    @Override
    public void write(int b) throws IOException {
        write(new byte[] {(byte) b}, 0, 1);
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
        Objects.checkFromIndexSize(off, len, b.length);
        ensureUsable();
        try {
            while (len > 0) {
                int n = Math.min(len, blockSize - length);
                System.arraycopy(b, off, buffer, DICTIONARY_SIZE + length, n);
                length += n;
                off += n;
                len -= n;
                if (length == blockSize) {
                    submit(false);
                }
            }
            writeDone(false);
        } catch (IOException | RuntimeException | Error e) {
            throw fail(e);
        }
    }

    /**
     * Writes the blocks already compressed and flushes {@code out}. Like {@link java.util.zip.GZIPOutputStream}'s
     * default, it does not force out the input of the block being filled (that would cost compression).
     */
    @Override
    public void flush() throws IOException {
        ensureUsable();
        try {
            writeDone(false);
            out.flush();
        } catch (IOException | RuntimeException | Error e) {
            throw fail(e);
        }
    }

    /**
     * Compresses what is left, writes the gzip trailer, stops the workers and closes {@code out}. After a failure
     * that {@code write} or {@code flush} already threw, it only stops the workers and closes {@code out}: the first
     * failure stays the one reported, and is not thrown again. Calling it again does nothing.
     */
    @Override
    public void close() throws IOException {
        if (closed) {
            return;
        }
        closed = true;
        IOException error = null;
        if (failure == null) {
            try {
                submit(true);
                writeDone(true);
                writeTrailer();
                out.flush();
            } catch (IOException | RuntimeException | Error e) {
                error = fail(e);
            }
        }
        stopWorkers();
        try {
            out.close();
        } catch (IOException e) {
            if (error == null) {
                error = e;
            } else if (error != e) {
                error.addSuppressed(e);
            }
        }
        if (error != null) {
            throw error;
        }
    }

    /** The prefix of this stream's worker thread names (tests count them). */
    String threadNamePrefix() {
        return threadPrefix;
    }

    private void ensureUsable() throws IOException {
        if (failure != null) {
            throw failure;
        }
        if (closed) {
            throw new IOException("The gzip stream is closed");
        }
        Throwable t = workerFailure.get();
        if (t != null) {
            throw fail(new IOException("gzip compression failed on a worker thread: " + t, t));
        }
    }

    /** Hands the block being filled to a worker and starts a new one, whose dictionary is this block's tail. */
    private void submit(boolean last) throws IOException {
        byte[] block = buffer;
        int dictionary = dictionaryLength;
        int n = length;
        crc.update(block, DICTIONARY_SIZE, n);
        totalIn += n;
        while (inFlight.size() >= maxInFlight) {
            writeHead();
        }
        inFlight.add(pool.submit(() -> compress(block, dictionary, n, last)));
        if (!last) {
            buffer = new byte[DICTIONARY_SIZE + blockSize];
            dictionaryLength = Math.min(DICTIONARY_SIZE, dictionary + n);
            System.arraycopy(
                    block,
                    DICTIONARY_SIZE + n - dictionaryLength,
                    buffer,
                    DICTIONARY_SIZE - dictionaryLength,
                    dictionaryLength);
            length = 0;
        }
    }

    /** Writes the compressed blocks at the head of the queue: those done, or all of them when {@code all}. */
    private void writeDone(boolean all) throws IOException {
        while (!inFlight.isEmpty() && (all || inFlight.peek().isDone())) {
            writeHead();
        }
    }

    private void writeHead() throws IOException {
        Compressed c;
        try {
            c = inFlight.peek().get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("Interrupted while waiting for gzip compression");
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            throw new IOException("gzip compression failed on a worker thread: " + cause, cause);
        }
        inFlight.remove();
        out.write(c.bytes, 0, c.length);
    }

    private void writeTrailer() throws IOException {
        long value = crc.getValue();
        long size = totalIn & 0xFFFFFFFFL;
        byte[] trailer = new byte[8];
        for (int i = 0; i < 4; i++) {
            trailer[i] = (byte) (value >>> (8 * i));
            trailer[4 + i] = (byte) (size >>> (8 * i));
        }
        out.write(trailer);
    }

    /** Runs on a worker: deflates {@code n} bytes at {@link #DICTIONARY_SIZE} of {@code block}. */
    private Compressed compress(byte[] block, int dictionary, int n, boolean last) {
        try {
            Deflater deflater = ((Worker) Thread.currentThread()).deflater();
            deflater.reset();
            if (dictionary > 0) {
                deflater.setDictionary(block, DICTIONARY_SIZE - dictionary, dictionary);
            }
            deflater.setInput(block, DICTIONARY_SIZE, n);
            // room for stored blocks of incompressible data and the flush marker, so one pass is the rule
            byte[] result = new byte[n + (n >> 4) + 64];
            int pos = 0;
            if (last) {
                deflater.finish();
                while (!deflater.finished()) {
                    if (pos == result.length) {
                        result = Arrays.copyOf(result, result.length * 2);
                    }
                    pos += deflater.deflate(result, pos, result.length - pos);
                }
            } else {
                while (true) {
                    int room = result.length - pos;
                    int k = deflater.deflate(result, pos, room, Deflater.SYNC_FLUSH);
                    pos += k;
                    if (k < room) {
                        break;
                    }
                    result = Arrays.copyOf(result, result.length * 2);
                }
            }
            return new Compressed(result, pos);
        } catch (RuntimeException | Error e) {
            workerFailure.compareAndSet(null, e);
            throw e;
        }
    }

    /** Records the first failure, stops the workers and returns the failure to throw. */
    private IOException fail(Throwable t) {
        if (failure == null) {
            failure = t instanceof IOException ? (IOException) t : new IOException("gzip compression failed: " + t, t);
            stopWorkers();
        }
        return failure;
    }

    /** Cancels what is queued, stops the pool and waits for its threads, which end their deflaters. */
    private void stopWorkers() {
        for (Future<Compressed> f : inFlight) {
            f.cancel(false);
        }
        inFlight.clear();
        pool.shutdownNow();
        // a worker finishes its block (milliseconds) and ends; wait for it even when this thread is interrupted
        boolean interrupted = false;
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(JOIN_MILLIS);
        for (Worker w : new ArrayList<>(workers)) {
            while (w.isAlive() && deadline - System.nanoTime() > 0) {
                try {
                    w.join(Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime())));
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
            if (w.isAlive()) {
                LOG.warn(
                        "gzip worker {} did not stop within {} ms; it ends when its block is done",
                        w.getName(),
                        JOIN_MILLIS);
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
        buffer = null;
    }

    /** A deflated block. */
    private static final class Compressed {
        final byte[] bytes;
        final int length;

        Compressed(byte[] bytes, int length) {
            this.bytes = bytes;
            this.length = length;
        }
    }

    /** A pool thread with its own {@link Deflater}, ended when the thread ends. */
    private final class Worker extends Thread {
        private Deflater deflater;

        Worker(Runnable task) {
            super(task, threadPrefix + workerCount.incrementAndGet());
            setDaemon(true);
            workers.add(this);
        }

        Deflater deflater() {
            if (deflater == null) {
                deflater = deflaters.get();
            }
            return deflater;
        }

        @Override
        public void run() {
            try {
                super.run();
            } finally {
                if (deflater != null) {
                    deflater.end();
                }
                workers.remove(this);
            }
        }
    }
}

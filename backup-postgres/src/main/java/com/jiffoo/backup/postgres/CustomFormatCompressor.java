package com.jiffoo.backup.postgres;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.Queue;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.zip.Adler32;
import java.util.zip.Deflater;

/**
 * Compresses an uncompressed pg_dump custom-format archive ({@code pg_dump -Fc -Z0}) into the archive {@code pg_dump
 * -Fc -Z N} would have written, with the data of each table and large object deflated on several threads.
 *
 * <p>pg_dump compresses on one core; with {@code -Z 9} that is most of a backup's CPU (about 85 % of pg_dump's own
 * time on the bench database). This class reads pg_dump's output as it comes, copies the header and table of contents
 * unchanged but for the compression level, and replaces every data block's raw chunks by a zlib stream made of
 * independent pieces deflated in parallel, each primed with the last 32 KiB of the piece before it (as {@code pigz}
 * does), so the ratio is within a fraction of a percent of pg_dump's own. The result is an ordinary custom-format
 * archive: {@code pg_restore} reads it, and {@code pg_restore -l} lists it, exactly as one written by pg_dump.
 *
 * <p>Layout (PostgreSQL's {@code pg_backup_archiver.c} and {@code pg_backup_custom.c}): the header ({@code PGDMP},
 * version, int and offset sizes, format, compression level as an int, creation time as seven ints, three strings),
 * the table of contents (a count, then per entry ints, strings, a dependency list ended by a null string and a data
 * offset), then data blocks: a type byte ({@code 1} table data, {@code 3} large objects) and the entry's dump id,
 * followed by chunks ({@code int length, bytes}) ended by a zero length; a large-object block holds
 * {@code oid, chunks..., 0} per object and ends with oid 0. An int is a sign byte and {@code intSize} bytes, least
 * significant first; a string is an int length (-1 for null) and its bytes.
 *
 * <p>Only archive versions 1.13 and 1.14 (pg_dump 11 to 15) are taken; {@link #supports(int)} tells by pg_dump's
 * major version, and a newer archive is refused with an {@link IOException} before any output (the caller lets pg_dump
 * compress then). Memory: at most {@code 2 * threads + 2} pieces of {@value #PIECE} bytes and as many output buffers
 * of about that size, reused from piece to piece and table to table, whatever the size of the database; a stream of
 * one piece (a small table or large object) is deflated on the calling thread. Not thread-safe; one instance per archive.
 */
final class CustomFormatCompressor implements AutoCloseable {

    /** Bytes of pg_dump's data per independently deflated piece. */
    static final int PIECE = 1024 * 1024;

    private static final int DICTIONARY = 32 * 1024;
    /** An output buffer: a piece's deflate bound (zlib's deflateBound: n + n/4096 + n/16384 + ...) with room. */
    private static final int OUTPUT = PIECE + PIECE / 64 + 64;

    private static final int BLK_DATA = 1;
    private static final int BLK_BLOBS = 3;
    private static final int FORMAT_CUSTOM = 1;
    private static final int K_OFFSET_POS_NOT_SET = 1;
    private static final int K_OFFSET_POS_SET = 2;
    private static final AtomicInteger POOLS = new AtomicInteger();

    private final int level;
    private final int threads;
    private final ExecutorService pool;
    private final ThreadLocal<Deflater> deflaters;
    private final Queue<Deflater> made = new ConcurrentLinkedQueue<>();
    // buffers reused from piece to piece and from stream to stream: at most as many as pieces can be in flight
    private final BlockingQueue<byte[]> freePieces;
    private final BlockingQueue<byte[]> freeOutputs;

    private InputStream in;
    private OutputStream out;
    private long read;
    private long written;
    private int intSize;
    private int offsetSize;
    private int minor;
    private final byte[] copyBuffer = new byte[64 * 1024];

    /**
     * @param level   zlib's level, 1..9
     * @param threads deflating threads, at least 1
     */
    CustomFormatCompressor(int level, int threads) {
        if (level < 1 || level > 9) {
            throw new IllegalArgumentException("level must be 1..9, got " + level);
        }
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be at least 1, got " + threads);
        }
        this.level = level;
        this.threads = threads;
        this.freePieces = new ArrayBlockingQueue<>(2 * threads + 2);
        this.freeOutputs = new ArrayBlockingQueue<>(2 * threads + 2);
        int id = POOLS.incrementAndGet();
        AtomicInteger n = new AtomicInteger();
        this.pool = Executors.newFixedThreadPool(threads, r -> {
            Thread t = new Thread(r, "jiffoo-dump-deflate-" + id + "-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        this.deflaters = ThreadLocal.withInitial(() -> {
            Deflater d = new Deflater(level, true);
            made.add(d);
            return d;
        });
    }

    /** Whether the archives of pg_dump of this major version are taken (11 to 15: archive versions 1.13, 1.14). */
    static boolean supports(int pgDumpMajor) {
        return pgDumpMajor >= 11 && pgDumpMajor <= 15;
    }

    /**
     * Reads an uncompressed custom-format archive from {@code source} to its end and writes the compressed archive to
     * {@code sink} (flushed, not closed).
     *
     * @return the bytes read from {@code source}
     * @throws IOException when reading or writing fails, or {@code source} is not an uncompressed custom-format archive of
     *         a version taken (the message says which)
     */
    long compress(InputStream source, OutputStream sink) throws IOException {
        this.in = new BufferedInputStream(source, 128 * 1024);
        this.out = new BufferedOutputStream(
                new java.io.FilterOutputStream(sink) {
                    @Override
                    public void write(byte[] b, int off, int len) throws IOException {
                        sink.write(b, off, len);
                        written += len;
                    }

                    @Override
                    public void write(int b) throws IOException {
                        sink.write(b);
                        written++;
                    }
                },
                128 * 1024);
        this.read = 0;
        header();
        toc();
        int type;
        while ((type = in.read()) >= 0) {
            read++;
            out.write(type);
            if (type == BLK_DATA) {
                copyInt(); // dump id
                data();
            } else if (type == BLK_BLOBS) {
                copyInt(); // dump id
                while (copyInt() != 0) { // oid; 0 ends the block
                    data();
                }
            } else {
                throw new FormatException("pg_dump's archive has a data block of unknown type " + type + " after "
                        + read + " bytes; set the dump's parallel compression to 0 (pg_dump compresses itself)");
            }
        }
        out.flush();
        return read;
    }

    private void header() throws IOException {
        byte[] magic = readBytes(5);
        if (!"PGDMP".equals(new String(magic, StandardCharsets.ISO_8859_1))) {
            throw new FormatException("pg_dump's output does not start with PGDMP: not a custom-format archive");
        }
        out.write(magic);
        int major = copyByte();
        int minor = copyByte();
        copyByte(); // revision
        if (major != 1 || minor < 13 || minor > 14) {
            throw new FormatException("pg_dump wrote archive version " + major + "." + minor + ", which this compressor"
                    + " does not take (1.13 and 1.14: pg_dump 11 to 15); set the dump's parallel compression to 0");
        }
        intSize = copyByte();
        if (intSize < 1 || intSize > 8) {
            throw new FormatException("pg_dump's archive has an int size of " + intSize);
        }
        offsetSize = copyByte();
        if (offsetSize < 1 || offsetSize > 16) {
            throw new FormatException("pg_dump's archive has an offset size of " + offsetSize);
        }
        int format = copyByte();
        if (format != FORMAT_CUSTOM) {
            throw new FormatException("pg_dump's archive has format " + format + ", not custom");
        }
        long compression = readInt();
        if (compression != 0) {
            throw new FormatException("pg_dump compressed its archive itself (level " + compression
                    + "); it must run with" + " --compress=0 for this compressor");
        }
        writeInt(level);
        for (int i = 0; i < 7; i++) {
            copyInt(); // creation time: sec, min, hour, mday, mon, year, isdst
        }
        copyString(); // database
        copyString(); // server version
        copyString(); // pg_dump version
        this.minor = minor;
    }

    private void toc() throws IOException {
        long entries = copyInt();
        if (entries < 0) {
            throw new FormatException("pg_dump's archive has a negative entry count");
        }
        for (long i = 0; i < entries; i++) {
            copyInt(); // dump id
            copyInt(); // has data dumper
            copyString(); // table oid
            copyString(); // oid
            copyString(); // tag
            copyString(); // desc
            copyInt(); // section
            copyString(); // definition
            copyString(); // drop statement
            copyString(); // copy statement
            copyString(); // namespace
            copyString(); // tablespace
            if (minor >= 14) {
                copyString(); // table access method
            }
            copyString(); // owner
            copyString(); // "false": with oids
            while (copyString() >= 0) {
                // dependencies, ended by a null string
            }
            // the custom format's data offset: a flag byte and the offset's bytes. An offset pg_dump set (it wrote
            // to a file and rewrote the contents at the end) is wrong once the data is compressed: it becomes "not
            // set", as in an archive written to a pipe, and pg_restore reads the blocks in order.
            int flag = in.read();
            if (flag < 0) {
                throw truncated();
            }
            read++;
            if (flag == K_OFFSET_POS_SET) {
                readBytes(offsetSize);
                out.write(K_OFFSET_POS_NOT_SET);
                out.write(new byte[offsetSize]);
            } else {
                out.write(flag);
                copyBytes(offsetSize);
            }
        }
    }

    /** Compresses one data stream: chunks until a zero length, replaced by a zlib stream's chunks and a zero. */
    private void data() throws IOException {
        Stream stream = new Stream();
        long len;
        while ((len = readInt()) != 0) {
            if (len < 0) {
                throw new FormatException(
                        "pg_dump's archive has a chunk of negative length " + len + " after " + read + " bytes");
            }
            stream.feed(len);
        }
        stream.finish();
        writeInt(0);
    }

    /** One zlib stream being built from pieces deflated on the pool, written in order. */
    private final class Stream {
        private final ArrayDeque<Future<Deflated>> pending = new ArrayDeque<>();
        private final Adler32 adler = new Adler32();
        private byte[] piece = takePiece();
        private int fill;
        private byte[] dictionary;
        private boolean first = true;

        void feed(long len) throws IOException {
            while (len > 0) {
                int n = (int) Math.min(len, PIECE - fill);
                readFully(piece, fill, n);
                fill += n;
                len -= n;
                if (fill == PIECE) {
                    submit(false);
                }
            }
        }

        void finish() throws IOException {
            if (first) {
                // the whole stream is one piece (most tables and large objects are small): deflated here, without
                // a hand-over to the pool
                adler.update(piece, 0, fill);
                byte[] input = piece;
                piece = null;
                Deflated d = deflate(input, fill, null, true, true);
                writeChunk(d);
                recycle(d);
            } else {
                submit(true);
                while (!pending.isEmpty()) {
                    writeNext();
                }
            }
            long sum = adler.getValue();
            byte[] trailer = {(byte) (sum >>> 24), (byte) (sum >>> 16), (byte) (sum >>> 8), (byte) sum};
            writeInt(trailer.length);
            out.write(trailer);
        }

        private void submit(boolean last) throws IOException {
            byte[] input = piece;
            int length = fill;
            adler.update(input, 0, length);
            byte[] dict = dictionary;
            boolean header = first;
            first = false;
            dictionary = nextDictionary(dict, input, length);
            piece = last ? null : takePiece();
            fill = 0;
            pending.add(pool.submit(() -> deflate(input, length, dict, header, last)));
            while (pending.size() > 2 * threads) {
                writeNext();
            }
        }

        private void writeNext() throws IOException {
            Future<Deflated> next = pending.removeFirst();
            try {
                Deflated d = next.get();
                writeChunk(d);
                recycle(d);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("interrupted while compressing pg_dump's archive");
            } catch (ExecutionException e) {
                throw new IOException("compressing pg_dump's archive failed: " + e.getCause(), e.getCause());
            }
        }
    }

    /** A deflated piece: the first {@code length} bytes of {@code bytes} (a buffer returned to the pool once written). */
    private record Deflated(byte[] bytes, int length) {}

    /** A piece buffer: a free one when there is one (they are reused from stream to stream), else a new one. */
    private byte[] takePiece() {
        byte[] b = freePieces.poll();
        return b != null ? b : new byte[PIECE];
    }

    private void recycle(Deflated d) {
        freeOutputs.offer(d.bytes());
    }

    private static byte[] nextDictionary(byte[] previous, byte[] input, int length) {
        if (length >= DICTIONARY) {
            return Arrays.copyOfRange(input, length - DICTIONARY, length);
        }
        byte[] before = previous == null ? new byte[0] : previous;
        int keep = Math.min(before.length, DICTIONARY - length);
        byte[] d = new byte[keep + length];
        System.arraycopy(before, before.length - keep, d, 0, keep);
        System.arraycopy(input, 0, d, keep, length);
        return d;
    }

    /**
     * Deflates {@code input[0, length)} (raw deflate, primed with {@code dictionary}), into a reused output buffer;
     * {@code input} goes back to the free pieces afterwards. {@code header}: the zlib header first; {@code last}: the
     * final block, else a sync flush (the next piece starts on a byte boundary).
     */
    private Deflated deflate(byte[] input, int length, byte[] dictionary, boolean header, boolean last) {
        Deflater d = deflaters.get();
        d.reset();
        if (dictionary != null && dictionary.length > 0) {
            d.setDictionary(dictionary);
        }
        d.setInput(input, 0, length);
        byte[] o = freeOutputs.poll();
        if (o == null) {
            o = new byte[OUTPUT];
        }
        int n = 0;
        if (header) {
            o[n++] = 0x78;
            o[n++] = (byte) zlibFlags(level);
        }
        if (last) {
            d.finish();
        }
        while (true) {
            if (n == o.length) {
                o = Arrays.copyOf(o, o.length + o.length / 2); // incompressible input: past deflate's bound
            }
            int k = last ? d.deflate(o, n, o.length - n) : d.deflate(o, n, o.length - n, Deflater.SYNC_FLUSH);
            n += k;
            if (last ? d.finished() : n < o.length && d.needsInput()) {
                break;
            }
        }
        freePieces.offer(input);
        return new Deflated(o, n);
    }

    /** The second byte of a zlib header for {@code level} (FLEVEL and the check bits; no preset dictionary). */
    static int zlibFlags(int level) {
        int flevel = level <= 1 ? 0 : level <= 5 ? 1 : level == 6 ? 2 : 3;
        int flg = flevel << 6;
        int check = (0x78 * 256 + flg) % 31;
        return check == 0 ? flg : flg + 31 - check;
    }

    private void writeChunk(Deflated d) throws IOException {
        if (d.length() == 0) {
            return; // a zero length would end the data
        }
        writeInt(d.length());
        out.write(d.bytes(), 0, d.length());
    }

    private int copyByte() throws IOException {
        int b = in.read();
        if (b < 0) {
            throw truncated();
        }
        read++;
        out.write(b);
        return b;
    }

    private void copyBytes(int n) throws IOException {
        for (int i = 0; i < n; i++) {
            copyByte();
        }
    }

    private byte[] readBytes(int n) throws IOException {
        byte[] b = new byte[n];
        readFully(b, 0, n);
        return b;
    }

    private void readFully(byte[] b, int off, int n) throws IOException {
        while (n > 0) {
            int r = in.read(b, off, n);
            if (r < 0) {
                throw truncated();
            }
            read += r;
            off += r;
            n -= r;
        }
    }

    private long readInt() throws IOException {
        int sign = in.read();
        if (sign < 0) {
            throw truncated();
        }
        read++;
        long value = 0;
        for (int i = 0; i < intSize; i++) {
            int b = in.read();
            if (b < 0) {
                throw truncated();
            }
            read++;
            value |= ((long) b) << (8 * i);
        }
        return sign == 0 ? value : -value;
    }

    private long copyInt() throws IOException {
        long v = readInt();
        writeInt(v);
        return v;
    }

    private void writeInt(long v) throws IOException {
        out.write(v < 0 ? 1 : 0);
        long abs = Math.abs(v);
        for (int i = 0; i < intSize; i++) {
            out.write((int) (abs >>> (8 * i)) & 0xFF);
        }
    }

    /** Copies a string; returns its length, -1 for a null string. */
    private long copyString() throws IOException {
        long len = copyInt();
        long left = len;
        while (left > 0) {
            int n = (int) Math.min(left, copyBuffer.length);
            readFully(copyBuffer, 0, n);
            out.write(copyBuffer, 0, n);
            left -= n;
        }
        return len;
    }

    private Truncated truncated() {
        return new Truncated("pg_dump's archive ended early, after " + read + " bytes");
    }

    /** pg_dump's archive ended before its structure did: pg_dump stopped (its exit code tells why). */
    static final class Truncated extends EOFException {
        private static final long serialVersionUID = 1L;

        Truncated(String message) {
            super(message);
        }
    }

    /** The bytes read from the archive so far. */
    long bytesRead() {
        return read;
    }

    /** The bytes of the compressed archive written so far. */
    long bytesWritten() {
        return written;
    }

    /** The archive read is not one this compressor takes: the message says what was found. */
    static final class FormatException extends IOException {
        private static final long serialVersionUID = 1L;

        FormatException(String message) {
            super(message);
        }
    }

    /** Stops the deflating threads and frees their deflaters' native memory. */
    @Override
    public void close() {
        pool.shutdownNow();
        try {
            if (pool.awaitTermination(10, TimeUnit.SECONDS)) {
                made.forEach(Deflater::end);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}

package com.jiffoo.backup.files;

import com.github.luben.zstd.ZstdInputStreamNoFinalizer;
import com.github.luben.zstd.ZstdOutputStreamNoFinalizer;
import com.jiffoo.backup.RestoreException;
import com.jiffoo.backup.internal.StageStreams;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.zip.GZIPInputStream;
import java.util.zip.GZIPOutputStream;

/**
 * How a {@link DirectorySource} compresses its tar stream, and the one place that compresses, recognises and
 * decompresses it.
 *
 * <p>{@link DirectoryRestoreTarget} and {@link TarListCheck} do not need to be told: they recognise all three by
 * their magic bytes (gzip {@code 1f 8b}, zstd {@code 28 b5 2f fd}, anything else is a plain tar).
 *
 * <pre>{@code
 * DirectorySource.builder(dir).compression(Compression.ZSTD, 9).build();
 * }</pre>
 */
public enum Compression {
    /** gzip (deflate), levels 1 to 9, default 6; suffix {@code .tar.gz}. Readable by {@code tar xzf}. */
    GZIP("gzip", ".tar.gz", 1, 9, 6),
    /** Zstandard, levels 1 to 22, default 3; suffix {@code .tar.zst}. Readable by {@code tar --zstd -xf}. */
    ZSTD("zstd", ".tar.zst", 1, 22, 3),
    /** No compression, plain tar; suffix {@code .tar}. The only level is 0. */
    NONE("none", ".tar", 0, 0, 0);

    private final String id;
    private final String suffix;
    private final int minLevel;
    private final int maxLevel;
    private final int defaultLevel;

    Compression(String id, String suffix, int minLevel, int maxLevel, int defaultLevel) {
        this.id = id;
        this.suffix = suffix;
        this.minLevel = minLevel;
        this.maxLevel = maxLevel;
        this.defaultLevel = defaultLevel;
    }

    /** The name recorded in the manifest's facts: {@code gzip}, {@code zstd}, {@code none}. */
    public String id() {
        return id;
    }

    /** The file-name suffix of a tar stream compressed this way: {@code .tar.gz}, {@code .tar.zst}, {@code .tar}. */
    public String suffix() {
        return suffix;
    }

    /** The lowest accepted level. */
    public int minLevel() {
        return minLevel;
    }

    /** The highest accepted level. */
    public int maxLevel() {
        return maxLevel;
    }

    /** The level used when none is given. */
    public int defaultLevel() {
        return defaultLevel;
    }

    /**
     * Wraps {@code out} in this compressor. gzip on several threads deflates in parallel ({@link
     * ParallelGzipOutputStream}), zstd uses its own workers; both still write one standard stream with a checksum.
     * Closing the result finishes the stream and closes {@code out}; for zstd it also frees the native context.
     */
    OutputStream compress(OutputStream out, int level, int threads) throws IOException {
        switch (this) {
            case GZIP:
                return threads == 1
                        ? new LevelGzipOutputStream(out, level)
                        : new ParallelGzipOutputStream(out, level, threads);
            case ZSTD:
                ZstdOutputStreamNoFinalizer zstd = new ZstdOutputStreamNoFinalizer(out, level);
                zstd.setChecksum(true);
                if (threads > 1) {
                    // zstd's own multi-threaded mode: still one standard frame, jobs of a few MiB (native memory)
                    zstd.setWorkers(threads);
                }
                return zstd;
            default:
                return out;
        }
    }

    /** The compression whose magic bytes {@code head} (the first four bytes, or fewer) starts with. */
    static Compression detect(byte[] head) {
        if (head.length >= 2 && (head[0] & 0xff) == 0x1f && (head[1] & 0xff) == 0x8b) {
            return GZIP;
        }
        if (head.length >= 4
                && (head[0] & 0xff) == 0x28
                && (head[1] & 0xff) == 0xb5
                && (head[2] & 0xff) == 0x2f
                && (head[3] & 0xff) == 0xfd) {
            return ZSTD;
        }
        return NONE;
    }

    /**
     * Wraps {@code in} in the decompressor its first bytes call for ({@link #detect}). Closing the result leaves
     * {@code in} open; reading it to the end checks the gzip CRC or the zstd checksum.
     *
     * @throws RestoreException when {@code in} is empty
     */
    static InputStream decompress(InputStream in) throws IOException {
        BufferedInputStream buffered =
                new BufferedInputStream(StageStreams.closeShield(in), DirectorySource.BUFFER_SIZE);
        buffered.mark(4);
        byte[] head = buffered.readNBytes(4);
        buffered.reset();
        if (head.length == 0) {
            throw new RestoreException("The backup is empty: it holds no tar archive. The backup may be corrupt.");
        }
        return switch (detect(head)) {
            case GZIP -> new GZIPInputStream(buffered, DirectorySource.BUFFER_SIZE);
            case ZSTD -> new ZstdInputStreamNoFinalizer(buffered);
            case NONE -> buffered;
        };
    }

    /**
     * Reads a decompressor {@link #decompress} made to its end, so that the gzip CRC or the zstd checksum is checked
     * even when the tar inside ended before the compressed stream did (its last block, the compressor's trailer). A
     * plain stream is left as it is: the caller owns what follows the tar.
     */
    static void drainChecked(InputStream decompressed) throws IOException {
        if (decompressed instanceof GZIPInputStream || decompressed instanceof ZstdInputStreamNoFinalizer) {
            decompressed.transferTo(java.io.OutputStream.nullOutputStream());
        }
    }

    /** A {@link GZIPOutputStream} with a compression level and a 64 KiB buffer. */
    private static final class LevelGzipOutputStream extends GZIPOutputStream {
        LevelGzipOutputStream(OutputStream out, int level) throws IOException {
            super(out, DirectorySource.BUFFER_SIZE);
            def.setLevel(level);
        }
    }
}

package com.jiffoo.backup.files;

import com.jiffoo.backup.BackupManifest;
import com.jiffoo.backup.IntegrityException;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;
import org.apache.commons.compress.archivers.tar.TarUtils;

/**
 * A tar reader with bounded headers, for every tar this library reads back. Commons Compress (1.28) reads a PAX
 * extended header, a GNU long name or long link name wholly into memory, whatever size it declares, follows a chain of
 * such headers by recursion, and keeps global PAX headers for the rest of the archive; it has no option to bound any
 * of it. So a backup of 1.8 MB (a gzip of a header declaring 1.9 GB) took a restore to an OutOfMemoryError, and a
 * chain of empty headers to a StackOverflowError. This reader refuses, with an {@link IntegrityException} naming the
 * header, the entry before it and the limit, and before reading it:
 * <ul>
 *   <li>a GNU long name ({@code L}) or long link name ({@code K}) declaring more than {@value #MAX_HEADER_BYTES}
 *       bytes (1 MiB; a path is at most 4 KiB on Linux);</li>
 *   <li>a PAX extended header ({@code x}) declaring more than {@link #maxPaxHeaderBytes()}: 8 MiB by default, set by
 *       the system property {@value #MAX_PAX_PROPERTY} (bytes, at least 1 MiB). Its size is bounded by the
 *       configuration rather than by 1 MiB because in an incremental archive a directory's entry carries the
 *       directory's whole listing ({@code GNU.dumpdir}: each name, a flag and a NUL), which for a directory of
 *       100,000 names of 20 bytes is 2.2 MB; 8 MiB holds some 380,000 such names. Reading one costs about three
 *       times its size in heap while it is applied (the header's bytes and string, and the index
 *       {@link TarExtraction} makes of the names);</li>
 *   <li>global PAX headers ({@code g}) of more than 1 MiB in all;</li>
 *   <li>more than {@value #MAX_HEADERS_PER_ENTRY} such headers before one entry (GNU tar writes at most three);</li>
 *   <li>more than 4 MiB, or the PAX limit and 1 MiB, whichever is more, read before one entry, whatever they are
 *       (sparse maps, which the reader also keeps, included).</li>
 * </ul>
 * Entry data is not bounded: it is streamed. Not thread-safe, like its parent.
 */
final class BoundedTarInputStream extends TarArchiveInputStream {
    static final int MAX_HEADER_BYTES = 1 << 20;
    static final int MAX_HEADERS_PER_ENTRY = 16;
    static final long MAX_BYTES_BEFORE_ENTRY = 4L << 20;
    /** The system property bounding a PAX extended header ({@code x}), in bytes. */
    static final String MAX_PAX_PROPERTY = "jiffoo.tar.maxPaxHeaderBytes";
    /** The default bound of a PAX extended header: 8 MiB. */
    static final int DEFAULT_MAX_PAX_HEADER_BYTES = 8 << 20;

    /**
     * The largest PAX extended header ({@code x}) read, in bytes: the system property {@value #MAX_PAX_PROPERTY}
     * when set to a number of at least 1 MiB (and below 2 GiB), else {@value #DEFAULT_MAX_PAX_HEADER_BYTES}.
     */
    static int maxPaxHeaderBytes() {
        String v = System.getProperty(MAX_PAX_PROPERTY);
        if (v != null) {
            try {
                long n = Long.parseLong(v.trim());
                if (n >= MAX_HEADER_BYTES && n < Integer.MAX_VALUE - 1024) {
                    return (int) n;
                }
            } catch (NumberFormatException e) {
                // the default
            }
        }
        return DEFAULT_MAX_PAX_HEADER_BYTES;
    }

    private final int maxPax = maxPaxHeaderBytes();
    private final long maxBeforeEntry = Math.max(MAX_BYTES_BEFORE_ENTRY, maxPax + (long) MAX_HEADER_BYTES);

    private final Counting counted;
    private final String what;
    private String previous;
    private int depth;
    private int headers;
    private long globalBytes;

    private BoundedTarInputStream(Counting in, String what) {
        super(in, "UTF-8");
        this.counted = in;
        this.what = what;
        in.owner = this;
    }

    /**
     * Reads the (decompressed) tar in {@code in}.
     *
     * @param what the backup, for messages: its object key, or "the backup"
     */
    static BoundedTarInputStream open(InputStream in, String what) {
        return new BoundedTarInputStream(new Counting(in), what);
    }

    /** How messages name the backup of {@code manifest}. */
    static String name(BackupManifest manifest) {
        return manifest == null ? "the backup" : manifest.objectKey();
    }

    @Override
    public TarArchiveEntry getNextEntry() throws IOException {
        if (depth > 0) { // called by the parent while it reads the headers of one entry
            return super.getNextEntry();
        }
        if (getCurrentEntry() != null) {
            transferTo(OutputStream.nullOutputStream()); // the rest of the previous entry's data: not a header
        }
        headers = 0;
        counted.budget = maxBeforeEntry;
        depth++;
        try {
            TarArchiveEntry entry = super.getNextEntry();
            if (entry != null) {
                previous = entry.getName();
            }
            return entry;
        } finally {
            depth--;
            counted.budget = -1;
        }
    }

    /** Sees every header record before the parent acts on it. */
    @Override
    protected byte[] readRecord() throws IOException {
        byte[] record = super.readRecord();
        if (record == null || record.length < TarConstants.DEFAULT_RCDSIZE || depth == 0) {
            return record;
        }
        String kind = kind(record[
                TarConstants.NAMELEN
                        + TarConstants.MODELEN
                        + TarConstants.UIDLEN
                        + TarConstants.GIDLEN
                        + TarConstants.SIZELEN
                        + TarConstants.MODTIMELEN
                        + TarConstants.CHKSUMLEN]);
        if (kind == null || !TarUtils.verifyCheckSum(record)) {
            return record;
        }
        long size;
        try {
            size = TarUtils.parseOctalOrBinary(
                    record,
                    TarConstants.NAMELEN + TarConstants.MODELEN + TarConstants.UIDLEN + TarConstants.GIDLEN,
                    TarConstants.SIZELEN);
        } catch (IllegalArgumentException e) {
            return record; // the parent refuses the header itself
        }
        String header = kind + " \"" + TarUtils.parseName(record, 0, TarConstants.NAMELEN) + "\"";
        if (++headers > MAX_HEADERS_PER_ENTRY) {
            throw refuse("more than " + MAX_HEADERS_PER_ENTRY + " headers (PAX extended headers, GNU long names) "
                    + "precede one entry, the last " + header + "; the limit is " + MAX_HEADERS_PER_ENTRY + " headers");
        }
        boolean pax = kind.startsWith("PAX");
        if (pax && size > maxPax) {
            throw refuse("the " + header + " declares " + size + " bytes; the limit is " + maxPax + " bytes (an"
                    + " incremental backup's listing of a directory with very many names, GNU.dumpdir, can need more:"
                    + " then restore with the JVM option -D" + MAX_PAX_PROPERTY + "=" + (size + (1 << 20))
                    + ", e.g. in JAVA_OPTS; GNU tar reads it as it is)");
        }
        if (!pax && size > MAX_HEADER_BYTES) {
            throw refuse("the " + header + " declares " + size + " bytes; the limit is 1 MiB (" + MAX_HEADER_BYTES
                    + " bytes)");
        }
        if (kind.startsWith("global") && (globalBytes += size) > MAX_HEADER_BYTES) {
            throw refuse("the global PAX headers take " + globalBytes + " bytes with " + header
                    + "; the limit is 1 MiB (" + MAX_HEADER_BYTES + " bytes) in all");
        }
        return record;
    }

    private static String kind(byte flag) {
        switch (flag) {
            case TarConstants.LF_PAX_EXTENDED_HEADER_LC:
            case TarConstants.LF_PAX_EXTENDED_HEADER_UC:
                return "PAX extended header";
            case TarConstants.LF_PAX_GLOBAL_EXTENDED_HEADER:
                return "global PAX header";
            case TarConstants.LF_GNUTYPE_LONGNAME:
                return "GNU long name";
            case TarConstants.LF_GNUTYPE_LONGLINK:
                return "GNU long link name";
            default:
                return null;
        }
    }

    private IntegrityException refuse(String why) {
        return new IntegrityException("The tar archive inside " + what + " is refused "
                + (previous == null ? "at its first entry" : "after entry \"" + previous + "\"") + ": " + why
                + ". No real tree needs that much: the backup is damaged or was made to exhaust memory; do not rely"
                + " on it. Nothing was restored from it.");
    }

    /** Counts what the headers of one entry read from the archive, and refuses past the budget. */
    private static final class Counting extends FilterInputStream {
        BoundedTarInputStream owner;
        long budget = -1; // -1: not reading headers

        Counting(InputStream in) {
            super(in);
        }

        private void spend(long n) {
            if (budget >= 0 && n > 0 && (budget -= n) < 0) {
                budget = -1;
                throw owner.refuse("more than " + owner.maxBeforeEntry + " bytes of headers precede one "
                        + "entry (PAX extended headers, GNU long names, sparse maps); the limit is "
                        + owner.maxBeforeEntry + " bytes");
            }
        }

        @Override
        public int read() throws IOException {
            int b = super.read();
            spend(b < 0 ? 0 : 1);
            return b;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            int n = super.read(b, off, len);
            spend(n);
            return n;
        }

        @Override
        public long skip(long n) throws IOException {
            long skipped = super.skip(n);
            spend(skipped);
            return skipped;
        }
    }
}

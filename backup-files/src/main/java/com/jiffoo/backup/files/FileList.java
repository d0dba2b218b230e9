package com.jiffoo.backup.files;

import com.jiffoo.backup.IntegrityException;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPInputStream;
import java.util.zip.GZIPOutputStream;

/**
 * The list of every path of a backed-up tree with what identifies its version (type, size, modification and change
 * time in nanoseconds, inode), kept in the manifest of a backup of a chain ({@value #FACT}) so that the next increment
 * knows what changed. Encoded compactly: one record {@code T SIZE MTIME_NS INODE CTIME_NS PATH\0} per entry, gzip,
 * base64, cut into strings of {@value #CHUNK} characters (a manifest string may hold 64 KiB).
 *
 * <p>A manifest is at most 1 MiB, so the encoded list is capped at {@value #MAX_ENCODED} bytes; a tree whose list does
 * not fit records none ({@code fileList.omitted}) and its next increment falls back to GNU tar's own rule (a file
 * changed when its ctime or mtime is not older than the parent backup's start). Memory while writing is the capped
 * compressed buffer; reading holds the parent's list as a map (bounded by the same cap).
 */
final class FileList {
    /** The source fact holding the list. */
    static final String FACT = "fileList";

    static final int CHUNK = 48_000;
    /** The largest encoded list (base64 characters) kept in a manifest. */
    static final int MAX_ENCODED = 768 * 1024;

    private FileList() {}

    /** The initial capacity of the map of {@code entries} records (bounded: the count is read from the manifest). */
    private static int capacity(Object entries) {
        long n = entries instanceof Number x ? x.longValue() : 0;
        return (int) Math.min(Math.max(n, 16) * 4 / 3 + 1, 1 << 20);
    }

    /**
     * One record {@code T SIZE MTIME_NS INODE CTIME_NS PATH} from {@code b[from, to)}, parsed from its bytes (only the
     * path becomes a string).
     *
     * @throws IllegalArgumentException when it is not such a record
     */
    static void parse(byte[] b, int from, int to, Map<String, Meta> out) {
        if (to - from < 2 || b[from + 1] != ' ' || b[from] < 0) {
            throw new IllegalArgumentException("a record without a type");
        }
        char type = (char) b[from];
        long[] v = new long[4];
        int p = from + 2;
        for (int k = 0; k < 4; k++) {
            int end = p;
            while (end < to && b[end] != ' ') {
                end++;
            }
            if (end == to) {
                throw new IllegalArgumentException("a record with fewer than six fields");
            }
            v[k] = parseLong(b, p, end);
            p = end + 1;
        }
        out.put(new String(b, p, to - p, StandardCharsets.UTF_8), new Meta(type, v[0], v[1], v[2], v[3]));
    }

    /** The decimal number in {@code b[from, to)}, with an optional {@code -}, as {@link Long#parseLong} reads it. */
    private static long parseLong(byte[] b, int from, int to) {
        boolean negative = from < to && b[from] == '-';
        int i = negative ? from + 1 : from;
        if (i == to) {
            throw new NumberFormatException("an empty number");
        }
        long r = 0; // accumulated negatively, so that Long.MIN_VALUE fits
        for (; i < to; i++) {
            int d = b[i] - '0';
            if (d < 0 || d > 9) {
                throw new NumberFormatException("not a digit: " + (char) (b[i] & 0xFF));
            }
            r = Math.subtractExact(Math.multiplyExact(r, 10), d);
        }
        return negative ? r : Math.negateExact(r);
    }

    /** What identifies one version of a path. */
    record Meta(char type, long size, long mtimeNanos, long inode, long ctimeNanos) {}

    /**
     * Collects the records of one walk, up to the cap. Each record is written as bytes into a 64 KiB buffer that is
     * deflated when full (one call per buffer, not per record; no string per record but the caller's path). Not
     * thread-safe.
     */
    static final class Writer {
        private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        private OutputStream gz;
        private byte[] buf = new byte[1 << 16];
        private int used;
        private long entries;
        private boolean overflow;

        Writer() {
            try {
                gz = new GZIPOutputStream(bytes, 8192);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        void add(String path, Meta m) {
            if (overflow) {
                return;
            }
            entries++;
            byte[] name = path.getBytes(StandardCharsets.UTF_8);
            if (used + 5 * 21 + name.length + 1 > buf.length) {
                flush();
                if (overflow) {
                    return;
                }
                if (5 * 21 + name.length + 1 > buf.length) {
                    buf = new byte[5 * 21 + name.length + 1]; // a path longer than the buffer
                }
            }
            buf[used++] = (byte) m.type();
            buf[used++] = ' ';
            number(m.size());
            number(m.mtimeNanos());
            number(m.inode());
            number(m.ctimeNanos());
            System.arraycopy(name, 0, buf, used, name.length);
            used += name.length;
            buf[used++] = 0;
        }

        /** {@code v} in decimal as {@link Long#toString} writes it, then a space (at most 21 bytes). */
        private void number(long v) {
            if (v == Long.MIN_VALUE) {
                byte[] min = Long.toString(v).getBytes(StandardCharsets.US_ASCII);
                System.arraycopy(min, 0, buf, used, min.length);
                used += min.length;
            } else {
                if (v < 0) {
                    buf[used++] = '-';
                    v = -v;
                }
                int digits = 1;
                for (long x = v; x >= 10; x /= 10) {
                    digits++;
                }
                for (int i = used + digits - 1; i >= used; i--) {
                    buf[i] = (byte) ('0' + v % 10);
                    v /= 10;
                }
                used += digits;
            }
            buf[used++] = ' ';
        }

        /** Deflates the buffered records; past the cap, drops the list ({@code omitted}). */
        private void flush() {
            if (used == 0) {
                return;
            }
            try {
                gz.write(buf, 0, used);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            used = 0;
            if (bytes.size() / 3 * 4 > MAX_ENCODED) {
                overflow = true;
                gz = null;
                buf = null;
                bytes.reset();
            }
        }

        /** The fact's value: {@code entries}, {@code encoding} and {@code chunks}, or {@code omitted}. */
        Map<String, Object> fact() {
            Map<String, Object> f = new LinkedHashMap<>();
            f.put("entries", entries);
            if (!overflow) {
                flush();
            }
            if (!overflow) {
                try {
                    gz.close();
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
                String all = Base64.getEncoder().encodeToString(bytes.toByteArray());
                if (all.length() > MAX_ENCODED) {
                    overflow = true;
                } else {
                    List<String> chunks = new ArrayList<>();
                    for (int i = 0; i < all.length(); i += CHUNK) {
                        chunks.add(all.substring(i, Math.min(all.length(), i + CHUNK)));
                    }
                    f.put("encoding", "gzip+base64");
                    f.put("chunks", chunks);
                }
            }
            if (overflow) {
                f.put(
                        "omitted",
                        "over " + MAX_ENCODED + " bytes encoded; the next increment compares times with"
                                + " this backup's start instead");
            }
            return f;
        }
    }

    /**
     * The list a manifest's facts record, or null when it has none (omitted for size).
     *
     * @throws IntegrityException when the list is garbled
     */
    static Map<String, Meta> read(Map<String, Object> facts, String backup) {
        if (!(facts.get(FACT) instanceof Map<?, ?> f) || !(f.get("chunks") instanceof List<?> chunks)) {
            return null;
        }
        try {
            StringBuilder all = new StringBuilder();
            for (Object c : chunks) {
                all.append((String) c);
            }
            if (all.length() > MAX_ENCODED) {
                throw new IllegalArgumentException("longer than " + MAX_ENCODED);
            }
            Map<String, Meta> out = new HashMap<>(capacity(f.get("entries")));
            try (InputStream in = new GZIPInputStream(
                    new ByteArrayInputStream(Base64.getDecoder().decode(all.toString())), 1 << 16)) {
                byte[] buf = new byte[1 << 16];
                int have = 0; // bytes in buf; a record starts at 0
                int n;
                while ((n = in.read(buf, have, buf.length - have)) >= 0) {
                    int start = 0;
                    for (int i = have; i < have + n; i++) { // the bytes before have hold no separator
                        if (buf[i] == 0) {
                            parse(buf, start, i, out);
                            start = i + 1;
                        }
                    }
                    have += n;
                    System.arraycopy(buf, start, buf, 0, have - start); // the record not ended yet
                    have -= start;
                    if (have == buf.length) {
                        buf = java.util.Arrays.copyOf(buf, buf.length * 2); // a path longer than the buffer
                    }
                }
            }
            return out;
        } catch (IOException | RuntimeException e) {
            throw new IntegrityException(
                    "The file list in the manifest of " + backup + " is garbled (" + e
                            + "); make a full backup (backup files without --incremental).",
                    backup,
                    null,
                    e);
        }
    }
}

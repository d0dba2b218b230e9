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

    /** What identifies one version of a path. */
    record Meta(char type, long size, long mtimeNanos, long inode, long ctimeNanos) {}

    /** Collects the records of one walk, up to the cap. Not thread-safe. */
    static final class Writer {
        private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        private OutputStream gz;
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
            String rec = m.type() + " " + m.size() + " " + m.mtimeNanos() + " " + m.inode() + " " + m.ctimeNanos() + " "
                    + path + "\0";
            try {
                gz.write(rec.getBytes(StandardCharsets.UTF_8));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            if (bytes.size() / 3 * 4 > MAX_ENCODED) {
                overflow = true;
                gz = null;
                bytes.reset();
            }
        }

        /** The fact's value: {@code entries}, {@code encoding} and {@code chunks}, or {@code omitted}. */
        Map<String, Object> fact() {
            Map<String, Object> f = new LinkedHashMap<>();
            f.put("entries", entries);
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
            Map<String, Meta> out = new HashMap<>();
            try (InputStream in = new java.io.BufferedInputStream(
                    new GZIPInputStream(
                            new ByteArrayInputStream(Base64.getDecoder().decode(all.toString()))),
                    1 << 16)) {
                ByteArrayOutputStream rec = new ByteArrayOutputStream();
                int b;
                while ((b = in.read()) >= 0) {
                    if (b != 0) {
                        rec.write(b);
                        continue;
                    }
                    String r = rec.toString(StandardCharsets.UTF_8);
                    rec.reset();
                    String[] p = r.split(" ", 6);
                    out.put(
                            p[5],
                            new Meta(
                                    p[0].charAt(0),
                                    Long.parseLong(p[1]),
                                    Long.parseLong(p[2]),
                                    Long.parseLong(p[3]),
                                    Long.parseLong(p[4])));
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

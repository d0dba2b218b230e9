package com.jiffoo.backup.postgres;

import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;

/**
 * Passes a tar stream through unchanged and keeps, as they go by, the content of its {@code backup_label} member and
 * the end of its {@code backup_manifest} (which holds the backup's {@code WAL-Ranges}: the server's start and stop
 * points): a small streaming reader of tar headers (ustar; GNU long names and PAX headers are skipped as data), so
 * that the facts of a base backup are known without a second read. Memory is bounded: one 512-byte header, at most
 * {@value #MAX_LABEL} bytes of label and the last {@value #MANIFEST_TAIL} bytes of the manifest. Anything it does not
 * understand ends the scan, never the stream: the bytes always pass. Not thread-safe.
 */
final class BackupLabelScanner extends FilterOutputStream {
    /** The most of {@code backup_label} kept (PostgreSQL writes a few hundred bytes). */
    static final int MAX_LABEL = 64 * 1024;

    /** The bytes kept of the end of {@code backup_manifest}. */
    static final int MANIFEST_TAIL = 8 * 1024;

    private static final int BLOCK = 512;

    private final byte[] header = new byte[BLOCK];
    private int headerFill;
    /** Bytes of the current member's data (and padding) still to pass before the next header. */
    private long skip;
    /** The label's bytes, while the current member is backup_label. */
    private java.io.ByteArrayOutputStream label;

    private long labelLeft;
    private String found;
    /** The end of backup_manifest: a ring of {@value #MANIFEST_TAIL} bytes, while the member passes. */
    private byte[] manifestRing;

    private long manifestLeft;
    private long manifestSeen;
    private String manifestTail;
    private boolean done;

    BackupLabelScanner(OutputStream out) {
        super(out);
    }

    /** The text of {@code backup_label}, or null when the stream so far had none. */
    String label() {
        return found;
    }

    /** The last (up to {@value #MANIFEST_TAIL}) bytes of {@code backup_manifest} as text, or null when none passed. */
    String manifestTail() {
        return manifestTail;
    }

    @Override
    public void write(int b) throws IOException {
        write(new byte[] {(byte) b}, 0, 1);
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
        out.write(b, off, len);
        int i = off;
        int end = off + len;
        while (i < end && !done) {
            if (skip > 0) {
                int n = (int) Math.min(skip, end - i);
                if (label != null && labelLeft > 0) {
                    int keep = (int) Math.min(labelLeft, n);
                    label.write(b, i, keep);
                    labelLeft -= keep;
                    if (labelLeft == 0) {
                        found = label.toString(StandardCharsets.UTF_8);
                        label = null;
                    }
                }
                if (manifestRing != null && manifestLeft > 0) {
                    int keep = (int) Math.min(manifestLeft, n);
                    for (int k = 0; k < keep; k++) {
                        manifestRing[(int) (manifestSeen++ % MANIFEST_TAIL)] = b[i + k];
                    }
                    manifestLeft -= keep;
                    if (manifestLeft == 0) {
                        manifestTail = ringText();
                        manifestRing = null;
                    }
                }
                skip -= n;
                i += n;
                continue;
            }
            int n = Math.min(BLOCK - headerFill, end - i);
            System.arraycopy(b, i, header, headerFill, n);
            headerFill += n;
            i += n;
            if (headerFill == BLOCK) {
                headerFill = 0;
                header();
            }
        }
    }

    private void header() {
        if (header[0] == 0) {
            done = true; // the end-of-archive blocks (or garbage): nothing more to find
            return;
        }
        long size = size();
        if (size < 0) {
            done = true;
            return;
        }
        skip = (size + BLOCK - 1) / BLOCK * BLOCK;
        byte type = header[156];
        String name = text(0, 100);
        if (isUstar()) {
            String prefix = text(345, 155);
            if (!prefix.isEmpty()) {
                name = prefix + "/" + name;
            }
        }
        boolean file = type == '0' || type == 0;
        if (file && "backup_label".equals(strip(name)) && size <= MAX_LABEL && size > 0) {
            label = new java.io.ByteArrayOutputStream((int) size);
            labelLeft = size;
        }
        if (file && "backup_manifest".equals(strip(name)) && size > 0) {
            manifestRing = new byte[MANIFEST_TAIL];
            manifestLeft = size;
            manifestSeen = 0;
        }
    }

    private static String strip(String name) {
        return name.startsWith("./") ? name.substring(2) : name;
    }

    private String ringText() {
        int n = (int) Math.min(manifestSeen, MANIFEST_TAIL);
        byte[] text = new byte[n];
        long first = manifestSeen - n;
        for (int k = 0; k < n; k++) {
            text[k] = manifestRing[(int) ((first + k) % MANIFEST_TAIL)];
        }
        return new String(text, StandardCharsets.UTF_8);
    }

    private boolean isUstar() {
        return header[257] == 'u'
                && header[258] == 's'
                && header[259] == 't'
                && header[260] == 'a'
                && header[261] == 'r';
    }

    private String text(int from, int max) {
        int n = 0;
        while (n < max && header[from + n] != 0) {
            n++;
        }
        return new String(header, from, n, StandardCharsets.UTF_8);
    }

    /** The member's size: octal text, or GNU base-256 (high bit set); -1 when unreadable. */
    private long size() {
        if ((header[124] & 0x80) != 0) {
            long v = 0;
            for (int k = 125; k < 136; k++) {
                v = (v << 8) | (header[k] & 0xff);
            }
            return v;
        }
        String s = text(124, 12).trim();
        if (s.isEmpty()) {
            return 0;
        }
        try {
            return Long.parseLong(s, 8);
        } catch (NumberFormatException e) {
            return -1;
        }
    }
}

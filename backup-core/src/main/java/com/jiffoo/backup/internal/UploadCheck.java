package com.jiffoo.backup.internal;

import com.jiffoo.backup.Sink;
import com.jiffoo.backup.StorageException;
import com.jiffoo.backup.StoredObject;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.regex.Pattern;

/**
 * Confirms, right after a commit and before anything refers to the object, that a store holds what was sent: the
 * size it lists, and the first and last {@value #EDGE} bytes read back with ranged reads. That catches a server that
 * stored an upload's {@code aws-chunked} framing as data (the size grows and the object starts with a chunk header
 * such as {@code 2000;chunk-signature=…}), a truncated or padded object and a proxy that rewrote the body. Memory:
 * two buffers of {@value #EDGE} bytes per object. Not public API; the backup pipeline is its one user, for every sink.
 */
public final class UploadCheck {
    /** How many bytes at each end of an object are kept while sending and compared after the commit. */
    public static final int EDGE = 4096;
    /** The start of an aws-chunked body: a hex chunk size, optional extensions ({@code ;chunk-signature=}), CRLF. */
    private static final Pattern CHUNK_HEADER = Pattern.compile("^[0-9a-fA-F]{1,16}(;[\\x21-\\x7e]*)?\r\n");

    private UploadCheck() {}

    /**
     * Passes bytes through and keeps what the check compares: the count, the first and the last {@value #EDGE}
     * bytes. Not thread-safe; closing it does not close the stream it wraps.
     */
    public static final class Recorder extends FilterOutputStream {
        private final byte[] head = new byte[EDGE];
        private final byte[] tail = new byte[EDGE]; // a ring: the byte at count-1 is at (count-1) % EDGE
        private long count;

        /** Records what goes to {@code out}. */
        public Recorder(OutputStream out) {
            super(out);
        }

        /** What {@code bytes} would record (for a small object written whole). */
        public static Recorder of(byte[] bytes) {
            Recorder r = new Recorder(OutputStream.nullOutputStream());
            r.record(bytes, 0, bytes.length);
            return r;
        }

        @Override
        public void write(int b) throws IOException {
            write(new byte[] {(byte) b}, 0, 1);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            out.write(b, off, len);
            record(b, off, len);
        }

        private void record(byte[] b, int off, int len) {
            if (count < EDGE) {
                System.arraycopy(b, off, head, (int) count, (int) Math.min(len, EDGE - count));
            }
            int skip = Math.max(0, len - EDGE); // only the last EDGE bytes of this write can stay in the tail
            for (int i = skip; i < len; ) {
                int at = (int) ((count + i) % EDGE);
                int n = Math.min(len - i, EDGE - at);
                System.arraycopy(b, off + i, tail, at, n);
                i += n;
            }
            count += len;
        }

        @Override
        public void close() throws IOException {
            flush();
        }

        /** Bytes written. */
        public long count() {
            return count;
        }

        byte[] head() {
            return Arrays.copyOf(head, (int) Math.min(count, EDGE));
        }

        byte[] tail() {
            int n = (int) Math.min(count, EDGE);
            byte[] out = new byte[n];
            for (int i = 0; i < n; i++) {
                out[i] = tail[(int) ((count - n + i) % EDGE)];
            }
            return out;
        }
    }

    /**
     * Checks that {@code key} in {@code sink} holds what {@code sent} recorded.
     *
     * @throws StorageException (exit 4) when the store lists no such object, lists another size, or its first or
     *                          last bytes differ, naming the likely cause and the sink's {@link Sink#mismatchAdvice()};
     *                          also when the store cannot be asked
     */
    public static void confirm(Sink sink, String key, Recorder sent) {
        String where = key + " in " + sink.location();
        try {
            StoredObject stored = listed(sink, key);
            if (stored == null) {
                throw mismatch(
                        sink,
                        key,
                        "the store does not list " + where + " right after its upload was" + " committed",
                        false);
            }
            byte[] head = read(sink, key, 0, Math.min(stored.size(), EDGE));
            boolean framing = looksFramed(head) && !looksFramed(sent.head());
            if (stored.size() != sent.count()) {
                throw mismatch(
                        sink,
                        key,
                        "the store holds " + stored.size() + " bytes for " + where + ", but " + sent.count()
                                + " were sent" + firstBytes(head, sent.head()),
                        framing);
            }
            if (!Arrays.equals(head, sent.head())) {
                throw mismatch(
                        sink,
                        key,
                        "the first bytes " + where + " holds differ from those sent" + firstBytes(head, sent.head()),
                        framing);
            }
            int n = (int) Math.min(stored.size(), EDGE);
            if (!Arrays.equals(read(sink, key, stored.size() - n, n), sent.tail())) {
                throw mismatch(sink, key, "the last " + n + " bytes " + where + " holds differ from those sent", false);
            }
        } catch (IOException | RuntimeException e) {
            if (e instanceof StorageException se) {
                throw se;
            }
            throw new StorageException(
                    "Cannot confirm the upload of " + where + ": " + e.getMessage()
                            + ". Check that the store is reachable and readable (the backup reads back the size and the"
                            + " first and last bytes of what it wrote), then run the backup again.",
                    key,
                    sink.location(),
                    e);
        }
    }

    /**
     * The listing of {@code key}, asked up to three times within about a second: a store whose listings lag behind
     * its writes (not AWS S3, which is consistent) gets that long before the check calls the object missing.
     */
    private static StoredObject listed(Sink sink, String key) throws IOException {
        for (int attempt = 0; ; attempt++) {
            StoredObject o = sink.list(key).stream()
                    .filter(x -> x.key().equals(key))
                    .findFirst()
                    .orElse(null);
            if (o != null || attempt == 2) {
                return o;
            }
            try {
                Thread.sleep(250L << attempt);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new java.io.InterruptedIOException("interrupted while confirming the upload of " + key);
            }
        }
    }

    private static byte[] read(Sink sink, String key, long offset, long length) throws IOException {
        try (InputStream in = sink.open(key, offset, length)) {
            return in.readNBytes((int) length);
        }
    }

    /** True when {@code bytes} start like an aws-chunked body. */
    private static boolean looksFramed(byte[] bytes) {
        String start = new String(bytes, 0, Math.min(bytes.length, 256), StandardCharsets.ISO_8859_1);
        return CHUNK_HEADER.matcher(start).find();
    }

    private static String firstBytes(byte[] stored, byte[] sent) {
        return " (it starts with " + show(stored) + ", what was sent with " + show(sent) + ")";
    }

    /** The first bytes as text when printable, else as hex. */
    private static String show(byte[] bytes) {
        int n = Math.min(bytes.length, 24);
        boolean text = true;
        for (int i = 0; i < n; i++) {
            int c = bytes[i] & 0xff;
            text &= c >= 0x20 && c < 0x7f || c == '\r' || c == '\n';
        }
        if (text) {
            String s = new String(bytes, 0, n, StandardCharsets.ISO_8859_1)
                    .replace("\r", "\\r")
                    .replace("\n", "\\n");
            return "'" + s + (bytes.length > n ? "…'" : "'");
        }
        return "0x" + HexFormat.of().formatHex(bytes, 0, n) + (bytes.length > n ? "…" : "");
    }

    private static StorageException mismatch(Sink sink, String key, String what, boolean framing) {
        String cause = framing
                ? " The server stored the upload's aws-chunked framing (chunk sizes, signatures, checksum trailers) as"
                        + " data: it does not decode 'Content-Encoding: aws-chunked'."
                : " The server, or a proxy in between, did not store the bytes that were sent.";
        String advice = sink.mismatchAdvice();
        return new StorageException(
                "The upload was not stored as sent: " + what + "." + cause + (advice.isEmpty() ? "" : " " + advice)
                        + " Nothing was committed; the backup did not happen.",
                key,
                sink.location(),
                null);
    }
}

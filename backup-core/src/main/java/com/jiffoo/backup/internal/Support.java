package com.jiffoo.backup.internal;

import com.jiffoo.backup.BackupException;
import com.jiffoo.backup.BackupListener;
import com.jiffoo.backup.Progress;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.util.Properties;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Facts about the running library and safe listener calls. Not public API. */
public final class Support {
    private static final Logger log = LoggerFactory.getLogger(Support.class);
    private static volatile String version;
    private static volatile String host;

    private Support() {}

    /**
     * What to do when a store refuses a request as signed at the wrong time ({@code RequestTimeTooSkewed}): the
     * backup host's clock is wrong, not the server's.
     */
    public static final String HOST_CLOCK_ADVICE = "Fix the clock of this host, the one running the backup:"
            + " `timedatectl` should say 'System clock synchronized: yes'; turn NTP on with `timedatectl set-ntp true`"
            + " (or chrony), then run again. The server's clock is not the one to change.";

    /** Checks the range of {@code Sink.open(key, offset, length)}: neither may be negative. */
    public static void checkRange(long offset, long length) {
        if (offset < 0 || length < 0) {
            throw new IllegalArgumentException("offset and length must not be negative: " + offset + ", " + length);
        }
    }

    /** A stream giving at most {@code length} bytes of {@code in}; closing it closes {@code in}. */
    public static InputStream limit(InputStream in, long length) {
        return new java.io.FilterInputStream(in) {
            private long left = length;

            @Override
            public int read() throws IOException {
                byte[] one = new byte[1];
                return read(one, 0, 1) <= 0 ? -1 : one[0] & 0xff;
            }

            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                if (left <= 0) {
                    return len == 0 ? 0 : -1;
                }
                int n = super.read(b, off, (int) Math.min(len, left));
                left -= Math.max(n, 0);
                return n;
            }

            @Override
            public long skip(long n) throws IOException {
                long skipped = super.skip(Math.min(n, left));
                left -= skipped;
                return skipped;
            }
        };
    }

    /** A byte count for people: {@code 512 B}, {@code 1.5 KiB}, {@code 70.8 MiB} (binary units, one decimal). */
    public static String humanBytes(long n) {
        String[] units = {"B", "KiB", "MiB", "GiB", "TiB"};
        double v = n;
        int u = 0;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        return u == 0 ? n + " B" : String.format(java.util.Locale.ROOT, "%.1f %s", v, units[u]);
    }

    /** A duration for people: {@code 3d 4h}, {@code 26h 5m}, {@code 12m} (negative counts as 0). */
    public static String humanDuration(java.time.Duration d) {
        if (d == null) {
            return "?";
        }
        long minutes = Math.max(0, d.toMinutes());
        if (minutes >= 72 * 60) {
            return (minutes / 1440) + "d " + (minutes % 1440) / 60 + "h";
        }
        if (minutes >= 60) {
            return (minutes / 60) + "h " + (minutes % 60) + "m";
        }
        return minutes + "m";
    }

    /** This library's version. */
    public static String libraryVersion() {
        String v = version;
        if (v == null) {
            v = "unknown";
            try (InputStream in = Support.class.getResourceAsStream("/com/jiffoo/backup/version.properties")) {
                if (in != null) {
                    Properties p = new Properties();
                    p.load(in);
                    v = p.getProperty("version", v);
                }
            } catch (IOException e) {
                log.debug("cannot read version.properties", e);
            }
            version = v;
        }
        return v;
    }

    /** This host's name (from {@code HOSTNAME}, else the resolver), or {@code unknown}. */
    public static String hostName() {
        String h = host;
        if (h == null) {
            h = System.getenv("HOSTNAME");
            if (h == null || h.isBlank()) {
                try {
                    h = InetAddress.getLocalHost().getHostName();
                } catch (IOException e) {
                    h = "unknown";
                }
            }
            host = h;
        }
        return h;
    }

    /** Calls a listener method, logging and swallowing what it throws. */
    public static void notify(BackupListener listener, ListenerCall call) {
        try {
            call.run(listener);
        } catch (RuntimeException e) {
            log.warn("a BackupListener threw; ignored: {}", e.toString());
        }
    }

    /** One listener call. */
    @FunctionalInterface
    public interface ListenerCall {
        /** Calls the listener. */
        void run(BackupListener l);
    }

    /** Rate-limits progress callbacks. */
    public static final class ProgressTicker {
        private static final long INTERVAL_NANOS = 250_000_000L;
        private final long startNanos = System.nanoTime();
        private long lastNanos = startNanos;

        /** Nanoseconds since start. */
        public long elapsedNanos() {
            return System.nanoTime() - startNanos;
        }

        /** True when a progress call is due. */
        public boolean due() {
            long now = System.nanoTime();
            if (now - lastNanos >= INTERVAL_NANOS) {
                lastNanos = now;
                return true;
            }
            return false;
        }
    }

    /** A {@link Progress} now. */
    public static Progress progress(String key, long plain, long stored, long expected, ProgressTicker t) {
        return new Progress(key, plain, stored, expected, java.time.Duration.ofNanos(t.elapsedNanos()));
    }

    /** Suppresses {@code extra} into {@code primary} unless they are the same. */
    public static <T extends Throwable> T addSuppressed(T primary, Throwable extra) {
        if (extra != null && extra != primary && extra.getCause() != primary) {
            primary.addSuppressed(extra);
        }
        return primary;
    }

    /** Rethrows a {@link BackupException} as is. */
    public static void rethrowIfBackupException(Throwable t) {
        if (t instanceof BackupException be) {
            throw be;
        }
    }

    /** The message of {@code t}, or its class's simple name when it has none (a {@code ClosedByInterruptException}). */
    public static String message(Throwable t) {
        String m = t.getMessage();
        return m == null || m.isBlank() ? t.getClass().getSimpleName() : m;
    }
}

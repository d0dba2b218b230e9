package com.jiffoo.backup.postgres;

import com.jiffoo.backup.ConfigurationException;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * A write-ahead log position (LSN) as PostgreSQL writes it ({@code 0/2000028}: the high and low 32 bits in hex), and
 * the name of the 16 MiB (or {@code wal_segment_size}) segment that holds it, as {@code pg_walfile_name} and the
 * {@code .backup} history file name it: timeline, log and segment number, 8 hex digits each.
 */
record WalPosition(long value) implements Comparable<WalPosition> {
    private static final Pattern TEXT = Pattern.compile("[0-9A-Fa-f]{1,8}/[0-9A-Fa-f]{1,8}");

    /** Parses {@code 0/2000028}. */
    static WalPosition parse(String text) {
        if (text == null || !TEXT.matcher(text.trim()).matches()) {
            throw new ConfigurationException("'" + text + "' is not a write-ahead log position (LSN): write it as"
                    + " PostgreSQL does, two hex numbers of up to 8 digits with a slash, e.g. 0/2000028"
                    + " (SELECT pg_current_wal_lsn()).");
        }
        String[] parts = text.trim().split("/");
        return new WalPosition((Long.parseLong(parts[0], 16) << 32) | Long.parseLong(parts[1], 16));
    }

    /** The segment (24 hex digits) on {@code timeline} that holds this position, for segments of {@code segmentSize}. */
    String segmentName(int timeline, long segmentSize) {
        long segment = Long.divideUnsigned(value, segmentSize);
        long perLog = 0x1_0000_0000L / segmentSize;
        return String.format(
                Locale.ROOT, "%08X%08X%08X", timeline, Long.divideUnsigned(segment, perLog), segment % perLog);
    }

    @Override
    public int compareTo(WalPosition o) {
        return Long.compareUnsigned(value, o.value);
    }

    /** {@code 0/2000028}. */
    @Override
    public String toString() {
        return String.format(Locale.ROOT, "%X/%X", value >>> 32, value & 0xFFFF_FFFFL);
    }
}

package com.jiffoo.backup.postgres;

import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.wal.WalSegment;

/**
 * A write-ahead log position (LSN) as PostgreSQL writes it ({@code 0/2000028}: the high and low 32 bits in hex), and
 * the name of the 16 MiB (or {@code wal_segment_size}) segment that holds it, as {@code pg_walfile_name} and the
 * {@code .backup} history file name it. The arithmetic is {@link WalSegment}'s; this adds the operator's message for
 * a position given on the command line.
 */
record WalPosition(long value) implements Comparable<WalPosition> {

    /** Parses {@code 0/2000028}. */
    static WalPosition parse(String text) {
        try {
            return new WalPosition(WalSegment.parseLsn(text));
        } catch (IllegalArgumentException e) {
            throw new ConfigurationException("'" + text + "' is not a write-ahead log position (LSN): write it as"
                    + " PostgreSQL does, two hex numbers of up to 8 digits with a slash, e.g. 0/2000028"
                    + " (SELECT pg_current_wal_lsn()).");
        }
    }

    /** The segment (24 hex digits) on {@code timeline} that holds this position, for segments of {@code segmentSize}. */
    String segmentName(int timeline, long segmentSize) {
        return WalSegment.containing(timeline, value, segmentSize).name();
    }

    @Override
    public int compareTo(WalPosition o) {
        return Long.compareUnsigned(value, o.value);
    }

    /** {@code 0/2000028}. */
    @Override
    public String toString() {
        return WalSegment.formatLsn(value);
    }
}

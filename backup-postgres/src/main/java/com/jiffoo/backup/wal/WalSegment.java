package com.jiffoo.backup.wal;

import java.util.Locale;
import java.util.regex.Pattern;

/**
 * One WAL segment: its timeline and its number counted from the start of the log, for a given segment size
 * ({@code wal_segment_size}, 16 MiB by default). Its name is what PostgreSQL archives,
 * {@code <timeline><log><segment in log>}, 8 upper-case hex digits each: {@code 000000010000000000000003}. With
 * 16 MiB segments there are 256 segments per log ({@code ...00000000FF} is followed by {@code ...0000000100000000}).
 *
 * @param timeline    the timeline, 1 or more
 * @param number      the segment's number: its first byte's LSN divided by the segment size
 * @param segmentSize the segment size in bytes, a power of two from 1 MiB to 1 GiB
 */
public record WalSegment(long timeline, long number, long segmentSize) implements Comparable<WalSegment> {
    /** PostgreSQL's default {@code wal_segment_size}: 16 MiB. */
    public static final long DEFAULT_SIZE = 16L * 1024 * 1024;

    private static final Pattern NAME = Pattern.compile("[0-9A-F]{24}");
    private static final Pattern LSN = Pattern.compile("[0-9A-Fa-f]{1,8}/[0-9A-Fa-f]{1,8}");

    /** Checks the fields. */
    public WalSegment {
        checkSize(segmentSize);
        if (timeline < 1 || timeline > 0xFFFF_FFFFL) {
            throw new IllegalArgumentException("a timeline is from 1 to FFFFFFFF, got " + timeline);
        }
        if (number < 0) {
            throw new IllegalArgumentException("a segment number is not negative, got " + number);
        }
    }

    /**
     * Parses a segment's name, e.g. {@code 000000010000000000000003}.
     *
     * @throws IllegalArgumentException when it is not 24 upper-case hex digits, or its segment part does not fit
     *                                  {@code segmentSize}
     */
    public static WalSegment parse(String name, long segmentSize) {
        if (!isName(name)) {
            throw new IllegalArgumentException("not a WAL segment name (24 upper-case hex digits): " + name);
        }
        long perLog = perLog(segmentSize);
        long log = Long.parseLong(name.substring(8, 16), 16);
        long seg = Long.parseLong(name.substring(16, 24), 16);
        if (seg >= perLog) {
            throw new IllegalArgumentException("the WAL segment " + name + " does not exist with segments of "
                    + segmentSize / (1024 * 1024) + " MiB (at most " + perLog + " per log): is wal_segment_size"
                    + " set right?");
        }
        return new WalSegment(Long.parseLong(name.substring(0, 8), 16), log * perLog + seg, segmentSize);
    }

    /** The segment on {@code timeline} that holds the position {@code lsn}. */
    public static WalSegment containing(long timeline, long lsn, long segmentSize) {
        checkSize(segmentSize);
        return new WalSegment(timeline, Long.divideUnsigned(lsn, segmentSize), segmentSize);
    }

    /** True when {@code name} is a segment's name: 24 upper-case hex digits. */
    public static boolean isName(String name) {
        return name != null && NAME.matcher(name).matches();
    }

    /**
     * Parses a write-ahead log position as PostgreSQL writes it, {@code 0/2000028} (the high and low 32 bits in hex).
     *
     * @throws IllegalArgumentException when it is not one
     */
    public static long parseLsn(String text) {
        if (text == null || !LSN.matcher(text.trim()).matches()) {
            throw new IllegalArgumentException(
                    "not a WAL position (two hex numbers with a slash, e.g. 0/2000028): " + text);
        }
        String[] parts = text.trim().split("/");
        return (Long.parseLong(parts[0], 16) << 32) | Long.parseLong(parts[1], 16);
    }

    /** A position as PostgreSQL writes it: {@code 0/2000028}. */
    public static String formatLsn(long lsn) {
        return String.format(Locale.ROOT, "%X/%X", lsn >>> 32, lsn & 0xFFFF_FFFFL);
    }

    /**
     * Checks a segment size: a power of two from 1 MiB to 1 GiB, as {@code initdb --wal-segsize} allows.
     *
     * @throws IllegalArgumentException when it is not
     */
    public static long checkSize(long segmentSize) {
        if (segmentSize < (1 << 20) || segmentSize > (1 << 30) || Long.bitCount(segmentSize) != 1) {
            throw new IllegalArgumentException(
                    "a WAL segment size is a power of two from 1 MiB to 1 GiB (wal_segment_size), got " + segmentSize);
        }
        return segmentSize;
    }

    private static long perLog(long segmentSize) {
        return 0x1_0000_0000L / checkSize(segmentSize);
    }

    /** The name PostgreSQL gives this segment: {@code 000000010000000000000003}. */
    public String name() {
        long perLog = perLog(segmentSize);
        return String.format(Locale.ROOT, "%08X%08X%08X", timeline, number / perLog, number % perLog);
    }

    /** The segment after this one on the same timeline. */
    public WalSegment next() {
        return new WalSegment(timeline, number + 1, segmentSize);
    }

    /** The segment with the same number on another timeline. */
    public WalSegment onTimeline(long otherTimeline) {
        return new WalSegment(otherTimeline, number, segmentSize);
    }

    /** The position of its first byte. */
    public long startLsn() {
        return number * segmentSize;
    }

    /** By timeline, then number. */
    @Override
    public int compareTo(WalSegment o) {
        int c = Long.compare(timeline, o.timeline);
        return c != 0 ? c : Long.compare(number, o.number);
    }

    /** The name. */
    @Override
    public String toString() {
        return name();
    }
}

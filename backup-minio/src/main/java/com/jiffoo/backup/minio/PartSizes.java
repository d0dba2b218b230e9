package com.jiffoo.backup.minio;

/**
 * The size of each part of a multipart upload of unknown length. Parts start at the configured part size and double
 * every {@value #PARTS_PER_DOUBLING} parts, capped at {@value #MAX_PART_SIZE} bytes (2047 MiB: a part is held in one
 * Java array; S3's own limit is 5 GiB), so that the S3 limit of {@value #MAX_PARTS} parts holds more than
 * {@value #MAX_OBJECT_SIZE} bytes (5 TiB, the S3 object limit) even with the minimum part size (about 5.9 TiB).
 * Not public API.
 */
final class PartSizes {
    /** S3's minimum size of every part but the last: 5 MiB. */
    static final long MIN_PART_SIZE = 5L * 1024 * 1024;
    /** The largest part this sink buffers: 2047 MiB, under Java's array limit (S3 allows 5 GiB). */
    static final long MAX_PART_SIZE = 2047L * 1024 * 1024;
    /** S3's maximum number of parts of one upload. */
    static final int MAX_PARTS = 10_000;
    /** S3's maximum object size: 5 TiB. */
    static final long MAX_OBJECT_SIZE = 5L * 1024 * 1024 * 1024 * 1024;
    /**
     * Parts between doublings. With 1,000 the minimum part size would reach only 4.88 TiB in 10,000 parts; 900 gives
     * about 5.9 TiB with 5 MiB parts (with the 2047 MiB cap), and the first 4.4 GiB of any object go at the
     * configured size.
     */
    static final int PARTS_PER_DOUBLING = 900;

    private PartSizes() {
    }

    /** The size of part {@code partNumber} (1-based) for a configured part size. */
    static long sizeOf(long basePartSize, int partNumber) {
        if (partNumber < 1) {
            throw new IllegalArgumentException("part numbers start at 1: " + partNumber);
        }
        int doublings = (partNumber - 1) / PARTS_PER_DOUBLING;
        if (doublings >= 20) {
            return MAX_PART_SIZE;
        }
        return Math.min(MAX_PART_SIZE, basePartSize << doublings);
    }

    /** The most bytes {@value #MAX_PARTS} parts hold with this base part size. */
    static long capacity(long basePartSize) {
        long total = 0;
        for (int n = 1; n <= MAX_PARTS; n++) {
            total += sizeOf(basePartSize, n);
        }
        return total;
    }
}

package com.jiffoo.backup.store.multipart;

/**
 * The size of each part of a multipart upload of unknown length, the one policy of every S3-like store: parts 1 to
 * 1,000 have the configured size, and the size doubles every 1,000 parts (capped at S3's 5 GiB maximum); parts 9,001
 * to 10,000 have the maximum. So S3's 10,000 parts hold at least 5 TiB (the S3 object limit) for any base size of
 * 5 MiB or more, while backups up to {@code 1,000 x base} (7.8 GiB at 8 MiB) use the base size only.
 */
final class PartSizes {
    /** S3's smallest part (all but the last). */
    static final long MIN_PART = 5L << 20;
    /** S3's largest part. */
    static final long MAX_PART = 5L << 30;
    /** S3's part count limit. */
    static final int MAX_PARTS = 10_000;
    /** Parts per size step. */
    static final int PARTS_PER_STEP = 1_000;

    private PartSizes() {}

    /** The size of part {@code partNumber} (1-based) for a base size of {@code base}. */
    static long sizeOf(int partNumber, long base) {
        if (partNumber < 1 || partNumber > MAX_PARTS) {
            throw new IllegalArgumentException("part number " + partNumber + " outside 1.." + MAX_PARTS);
        }
        int step = (partNumber - 1) / PARTS_PER_STEP;
        return step >= 9 ? MAX_PART : Math.min(base << step, MAX_PART);
    }

    /** The most bytes 10,000 parts of this base size can hold. */
    static long capacity(long base) {
        long total = 0;
        for (int n = 1; n <= MAX_PARTS; n++) {
            total += sizeOf(n, base);
        }
        return total;
    }
}

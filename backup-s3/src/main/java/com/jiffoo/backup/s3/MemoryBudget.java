package com.jiffoo.backup.s3;

/**
 * Bytes of part buffers one upload may hold at once. A part larger than the whole budget (parts grow on very long
 * streams) takes the whole budget, so then one part is buffered at a time.
 */
final class MemoryBudget {
    private final long total;
    private long available;

    MemoryBudget(long total) {
        this.total = total;
        this.available = total;
    }

    /** The amount {@link #acquire} takes for a part of {@code size} bytes. */
    long charge(long size) {
        return Math.min(size, total);
    }

    /** Waits until {@code charge(size)} bytes are free and takes them; returns the amount taken. */
    synchronized long acquire(long size) throws InterruptedException {
        long want = charge(size);
        while (available < want) {
            wait();
        }
        available -= want;
        return want;
    }

    /** Gives back bytes taken by {@link #acquire}. */
    synchronized void release(long amount) {
        available += amount;
        notifyAll();
    }
}

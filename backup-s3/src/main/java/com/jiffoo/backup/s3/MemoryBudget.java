package com.jiffoo.backup.s3;

/**
 * Bytes of part buffers one upload may hold at once. A part larger than the whole budget (parts grow on very long
 * streams) takes the whole budget, so then one part is buffered at a time.
 */
final class MemoryBudget {
    private final long total;
    private long available;
    private boolean closed;

    MemoryBudget(long total) {
        this.total = total;
        this.available = total;
    }

    /** The amount {@link #acquire} takes for a part of {@code size} bytes. */
    long charge(long size) {
        return Math.min(size, total);
    }

    /**
     * Waits until {@code charge(size)} bytes are free and takes them; returns the amount taken.
     *
     * @throws java.io.IOException when the budget is closed (the sink was closed) while waiting
     */
    synchronized long acquire(long size) throws InterruptedException, java.io.IOException {
        long want = charge(size);
        while (available < want) {
            if (closed) {
                throw new java.io.IOException("the S3 sink was closed while this write waited for a part upload");
            }
            wait();
        }
        available -= want;
        return want;
    }

    /** Wakes every waiter with an IOException: parts that would release bytes may never run now. */
    synchronized void close() {
        closed = true;
        notifyAll();
    }

    /** Gives back bytes taken by {@link #acquire}. */
    synchronized void release(long amount) {
        available += amount;
        notifyAll();
    }
}

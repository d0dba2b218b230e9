package com.jiffoo.backup.store.multipart;

import java.io.IOException;

/**
 * Bytes of part buffers one writer may hold at once ({@code partSize x partsInFlight}). A part larger than the whole
 * budget (parts grow on very long streams) takes the whole budget, so then one part is buffered at a time.
 */
final class MemoryBudget {
    private final long total;
    private long available;
    private boolean closed;

    MemoryBudget(long total) {
        this.total = total;
        this.available = total;
    }

    /**
     * Waits until the charge of a part of {@code size} bytes is free and takes it; returns the amount taken.
     *
     * @throws IOException when the budget is closed (the sink was closed) while waiting
     */
    synchronized long acquire(long size) throws InterruptedException, IOException {
        long want = Math.min(size, total);
        while (available < want) {
            if (closed) {
                throw new IOException("the sink was closed while this write waited for a part upload");
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

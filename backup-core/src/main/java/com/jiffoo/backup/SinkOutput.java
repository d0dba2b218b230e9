package com.jiffoo.backup;

import java.io.IOException;
import java.io.OutputStream;

/**
 * The stream a {@link Sink} returns for a new object. Bytes written are not visible until {@link #commit()} returns;
 * {@link #close()} without a commit discards everything written (a temporary file is removed, a multipart upload is
 * aborted). {@code close()} after {@code commit()} does nothing. Not thread-safe: one writer at a time.
 */
public abstract class SinkOutput extends OutputStream {

    /**
     * Makes the object durable and visible under its key, atomically: readers see the whole object or none.
     * After a commit no more bytes may be written.
     *
     * @throws ObjectExistsException when a committed object of this key exists already; nothing is changed then
     */
    public abstract void commit() throws IOException;

    /** Discards the object unless it was committed. Idempotent. */
    @Override
    public abstract void close() throws IOException;
}

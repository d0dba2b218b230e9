package com.jiffoo.backup;

import java.io.IOException;
import java.io.OutputStream;
import java.util.Objects;

/**
 * The stream a {@link Sink} returns for a new object. Bytes written are not visible until {@link #commit()} returns;
 * {@link #close()} without a commit discards everything written (a temporary file is removed, a multipart upload is
 * aborted). {@code close()} after {@code commit()} does nothing. Not thread-safe: one writer at a time.
 *
 * <p>This class owns that state machine, once for every store: a failed write or commit discards the object at once
 * (the failure is thrown, a failure to discard added to it as suppressed), a write after a commit or a close is an
 * {@link IOException}, a second commit does nothing, a commit after a discard fails. A store implements only
 * {@link #writeBytes}, {@link #publish} and {@link #discard}.
 */
public abstract class SinkOutput extends OutputStream {
    private enum State {
        OPEN,
        COMMITTED,
        DISCARDED
    }

    private final String name;
    private State state = State.OPEN;

    /** An output for the object {@code name} (used in messages). */
    protected SinkOutput(String name) {
        this.name = Objects.requireNonNull(name, "name");
    }

    /** Takes the next bytes of the object. Called only while open, with a checked range. */
    protected abstract void writeBytes(byte[] b, int off, int len) throws IOException;

    /**
     * Makes the object durable and visible under its key, atomically. Called at most once.
     *
     * @throws ObjectExistsException when a committed object of this key exists already
     */
    protected abstract void publish() throws IOException;

    /** Frees what the object holds (a temporary file, an open upload). Called at most once, never after publish. */
    protected abstract void discard() throws IOException;

    @Override
    public final void write(int b) throws IOException {
        write(new byte[] {(byte) b}, 0, 1);
    }

    @Override
    public final void write(byte[] b, int off, int len) throws IOException {
        Objects.checkFromIndexSize(off, len, b.length);
        if (state != State.OPEN) {
            throw new IOException(
                    "object " + name + " is already " + (state == State.COMMITTED ? "committed" : "closed"));
        }
        try {
            writeBytes(b, off, len);
        } catch (IOException | RuntimeException e) {
            discardAfter(e);
            throw e;
        }
    }

    /**
     * Makes the object durable and visible under its key, atomically: readers see the whole object or none.
     * After a commit no more bytes may be written; a second commit does nothing.
     *
     * @throws ObjectExistsException when a committed object of this key exists already; nothing is changed then
     */
    public final void commit() throws IOException {
        if (state == State.COMMITTED) {
            return;
        }
        if (state == State.DISCARDED) {
            throw new IOException("object " + name + " was discarded and cannot be committed");
        }
        try {
            publish();
        } catch (IOException | RuntimeException e) {
            discardAfter(e);
            throw e;
        }
        state = State.COMMITTED;
    }

    /** Discards the object unless it was committed. Idempotent. */
    @Override
    public final void close() throws IOException {
        if (state != State.OPEN) {
            return;
        }
        state = State.DISCARDED;
        discard();
    }

    private void discardAfter(Throwable failure) {
        try {
            close();
        } catch (IOException | RuntimeException e) {
            failure.addSuppressed(e);
        }
    }
}

package com.jiffoo.backup.testutil;

import com.jiffoo.backup.Sink;
import com.jiffoo.backup.SinkOutput;
import com.jiffoo.backup.StoredObject;
import java.io.IOException;
import java.io.InputStream;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Predicate;

/**
 * A sink wrapper that records the order of commits and deletes and can be scripted to fail: writes to matching keys
 * fail after some bytes, or their commit fails.
 */
public final class ScriptedSink implements Sink {
    private final Sink delegate;
    private final List<String> events = new CopyOnWriteArrayList<>();
    private volatile Predicate<String> failWritesOf = k -> false;
    private volatile long failAfterBytes = Long.MAX_VALUE;
    private volatile Predicate<String> failCommitOf = k -> false;
    private volatile Predicate<String> loseCommitAnswerOf = k -> false;

    public ScriptedSink(Sink delegate) {
        this.delegate = delegate;
    }

    /** Writes to keys matching {@code keys} fail with an IOException after {@code bytes} bytes. */
    public ScriptedSink failWritesAfter(Predicate<String> keys, long bytes) {
        this.failWritesOf = keys;
        this.failAfterBytes = bytes;
        return this;
    }

    /** Commits of keys matching {@code keys} fail. */
    public ScriptedSink failCommitOf(Predicate<String> keys) {
        this.failCommitOf = keys;
        return this;
    }

    /** Commits of keys matching {@code keys} store the object, then fail as if the store's answer was lost. */
    public ScriptedSink loseCommitAnswerOf(Predicate<String> keys) {
        this.loseCommitAnswerOf = keys;
        return this;
    }

    /** "commit KEY" and "delete KEY" events in order. */
    public List<String> events() {
        return events;
    }

    @Override
    public String location() {
        return "scripted:" + delegate.location();
    }

    @Override
    public SinkOutput create(String key) throws IOException {
        SinkOutput out = delegate.create(key);
        boolean failWrites = failWritesOf.test(key);
        return new SinkOutput(key) {
            private long written;

            @Override
            protected void writeBytes(byte[] b, int off, int len) throws IOException {
                if (failWrites && written + len > failAfterBytes) {
                    throw new IOException("scripted failure: disk full after " + written + " bytes");
                }
                out.write(b, off, len);
                written += len;
            }

            @Override
            protected void publish() throws IOException {
                if (failCommitOf.test(key)) {
                    throw new IOException("scripted failure: commit of " + key);
                }
                out.commit();
                events.add("commit " + key);
                if (loseCommitAnswerOf.test(key)) {
                    throw new IOException("scripted failure: connection reset before the answer to committing " + key);
                }
            }

            @Override
            protected void discard() throws IOException {
                out.close();
            }
        };
    }

    @Override
    public InputStream open(String key) throws IOException {
        return delegate.open(key);
    }

    @Override
    public List<StoredObject> list(String prefix) throws IOException {
        return delegate.list(prefix);
    }

    @Override
    public void delete(String key) throws IOException {
        delegate.delete(key);
        events.add("delete " + key);
    }

    @Override
    public List<PartialWrite> partialWrites(String prefix) throws IOException {
        return delegate.partialWrites(prefix);
    }

    @Override
    public void discard(PartialWrite write) throws IOException {
        delegate.discard(write);
        events.add("discard " + write.id());
    }

    @Override
    public void close() throws IOException {
        delegate.close();
    }
}

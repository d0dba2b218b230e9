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
    private volatile Predicate<String> pauseReadsOf = k -> false;
    private volatile long pauseAfterBytes = Long.MAX_VALUE;
    private volatile Runnable pause = () -> {};
    private final java.util.Map<String, java.util.concurrent.atomic.AtomicLong> read =
            new java.util.concurrent.ConcurrentHashMap<>();

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

    /**
     * Reads of keys matching {@code keys} run {@code pause} once, when {@code bytes} bytes of the object have been
     * read (before handing out more): a deterministic point at which a test lets something else happen.
     */
    public ScriptedSink pauseReadsAfter(Predicate<String> keys, long bytes, Runnable pause) {
        this.pauseReadsOf = keys;
        this.pauseAfterBytes = bytes;
        this.pause = pause;
        return this;
    }

    /** How many bytes were read from {@code key} so far, over every open. */
    public long bytesRead(String key) {
        return read.getOrDefault(key, new java.util.concurrent.atomic.AtomicLong())
                .get();
    }

    @Override
    public InputStream open(String key) throws IOException {
        java.util.concurrent.atomic.AtomicLong count =
                read.computeIfAbsent(key, k -> new java.util.concurrent.atomic.AtomicLong());
        boolean pauses = pauseReadsOf.test(key);
        return new java.io.FilterInputStream(delegate.open(key)) {
            private boolean paused;

            @Override
            public int read() throws IOException {
                byte[] one = new byte[1];
                int n = read(one, 0, 1);
                return n < 0 ? -1 : one[0] & 0xff;
            }

            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                if (pauses && !paused && count.get() >= pauseAfterBytes) {
                    paused = true;
                    pause.run();
                }
                int n = super.read(
                        b, off, pauses && !paused ? (int) Math.min(len, pauseAfterBytes - count.get()) : len);
                if (n > 0) {
                    count.addAndGet(n);
                }
                return n;
            }

            @Override
            public long skip(long n) throws IOException {
                long skipped = super.skip(n);
                count.addAndGet(skipped);
                return skipped;
            }
        };
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

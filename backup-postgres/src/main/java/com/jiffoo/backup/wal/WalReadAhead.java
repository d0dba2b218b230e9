package com.jiffoo.backup.wal;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Objects;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps a read-ahead spool ({@link WalPrefetch}) filled from a long-running process — {@code restore pitr}'s own JVM,
 * which has its keys derived and its code compiled already — so that recovery's {@code restore_command} finds each
 * segment there (the launcher moves it into place without starting Java) instead of starting a {@code wal-fetch} JVM
 * every {@value WalPrefetch#DEFAULT_COUNT} segments.
 *
 * <p>One thread fetches the segments from {@code first} on, in order, through {@link WalArchive#fetch} (every check of
 * a fetch: manifest signature, SHA-256 of the stored bytes, the decoded ones' size and checksums, the cluster), each
 * under a name the launcher ignores, then given to the server's user ({@link Builder#prepare}) and renamed to its own name: a segment
 * appears in the spool only complete and readable by the server. At most {@link Builder#window} segments wait there:
 * a segment that the server took (it left the spool) marks every lower one as passed (deleted, not counted). A
 * {@code wal-fetch} that ran anyway (this thread was behind) leaves its own read-ahead: the thread goes on after the
 * newest segment in the spool. It stops at the end of the archive (a segment not found), after the segment
 * {@link Builder#last} accepts, when the spool is gone (recovery ended: {@code recovery_end_command} removes it), at
 * the first failure (logged; the server's own {@code wal-fetch} then fetches that segment and reports), or on
 * {@link #close()}.
 *
 * <p>A {@code wal-fetch} started on a miss still reads ahead itself: were it to leave that to this thread, a thread
 * slower than the replay would make every segment a JVM start.
 */
public final class WalReadAhead implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(WalReadAhead.class);

    private static final String PARTIAL = ".jiffoo-ahead";
    private static final long IDLE_MILLIS = 50;

    private final WalArchive archive;
    private final Path spool;
    private final WalSegment first;
    private final Predicate<String> last;
    private final int window;
    private final IoConsumer prepare;
    private final Thread thread;
    private final Object lock = new Object();
    private volatile boolean closed;
    private volatile int fetched; // written by the read-ahead thread alone, read by others

    /** Gives a file to the server's user (or nothing). */
    @FunctionalInterface
    public interface IoConsumer {
        /** Prepares {@code file}. */
        void accept(Path file) throws IOException;
    }

    private WalReadAhead(Builder b) {
        this.archive = b.archive;
        this.spool = b.spool;
        this.first = b.first;
        this.last = b.last;
        this.window = b.window;
        this.prepare = b.prepare;
        this.thread = new Thread(this::run, "wal-read-ahead");
        this.thread.setDaemon(true);
    }

    /** A builder; archive, spool and first segment are required. */
    public static Builder builder() {
        return new Builder();
    }

    private void start() {
        thread.start();
    }

    private void run() {
        WalSegment next = first;
        String taken = null; // the newest segment the server took from the spool
        String placed = null; // the newest segment this thread placed there
        try {
            while (!closed) {
                if (!Files.isDirectory(spool)) {
                    return; // recovery ended (recovery_end_command removed it)
                }
                if (placed != null && !Files.exists(spool.resolve(placed))) {
                    taken = placed; // the newest segment placed is gone: the server took it, and passed the ones below
                }
                int waiting = 0;
                String newest = null;
                try (DirectoryStream<Path> files = Files.newDirectoryStream(spool)) {
                    for (Path f : files) {
                        String n = f.getFileName().toString();
                        if (!WalSegment.isName(n)
                                || n.substring(0, 8).compareTo(next.name().substring(0, 8)) != 0) {
                            continue;
                        }
                        if (taken != null && n.compareTo(taken) < 0) {
                            Files.deleteIfExists(f); // passed: the server took a later one
                            continue;
                        }
                        waiting++;
                        if (newest == null || n.compareTo(newest) > 0) {
                            newest = n;
                        }
                    }
                }
                if (newest != null && newest.compareTo(next.name()) >= 0) {
                    // already there (a wal-fetch read it ahead): go on after it
                    next = WalSegment.parse(newest, next.segmentSize()).next();
                    continue;
                }
                if (waiting >= window) {
                    idle();
                    continue;
                }
                String name = next.name();
                Path partial = spool.resolve("." + name + PARTIAL);
                if (archive.fetch(name, partial) == WalArchive.Fetched.NOT_FOUND) {
                    return; // the end of the archive
                }
                prepare.accept(partial);
                Files.move(partial, spool.resolve(name), StandardCopyOption.ATOMIC_MOVE);
                fetched++;
                placed = name;
                if (last.test(name)) {
                    return;
                }
                next = next.next();
            }
        } catch (IOException | RuntimeException e) {
            if (!closed && Files.isDirectory(spool)) {
                log.info("reading WAL ahead into {} stopped at {}: {}", spool, next.name(), e.toString());
            }
        } finally {
            log.info("{} segments read ahead into {}", fetched, spool);
        }
    }

    private void idle() throws IOException {
        synchronized (lock) {
            try {
                lock.wait(IDLE_MILLIS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new java.io.InterruptedIOException("read-ahead interrupted");
            }
        }
    }

    /** How many segments this thread placed in the spool so far. */
    public int fetched() {
        return fetched;
    }

    /**
     * Stops the thread (waiting for the segment it is fetching, so that nothing is written afterwards) and removes the
     * partial file it may have left.
     */
    @Override
    public void close() {
        closed = true;
        synchronized (lock) {
            lock.notifyAll();
        }
        try {
            thread.join(120_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        try {
            try (DirectoryStream<Path> files = Files.newDirectoryStream(spool, "*" + PARTIAL + "*")) {
                for (Path f : files) {
                    Files.deleteIfExists(f);
                }
            }
        } catch (IOException e) {
            log.debug("cleaning the read-ahead spool {}: {}", spool, e.toString());
        }
    }

    /** Builds and starts a {@link WalReadAhead}. */
    public static final class Builder {
        private WalArchive archive;
        private Path spool;
        private WalSegment first;
        private Predicate<String> last = name -> false;
        private int window = WalPrefetch.DEFAULT_COUNT;
        private IoConsumer prepare = f -> {};

        private Builder() {}

        /** The archive to fetch from (its keys, trust and cluster). Required. */
        public Builder archive(WalArchive archive) {
            this.archive = Objects.requireNonNull(archive, "archive");
            return this;
        }

        /** The spool, an existing directory (made by {@link WalPrefetch#writeNewestTimeline} or a fetch). Required. */
        public Builder spool(Path spool) {
            this.spool = Objects.requireNonNull(spool, "spool").toAbsolutePath().normalize();
            return this;
        }

        /** The first segment to read. Required. */
        public Builder first(WalSegment first) {
            this.first = Objects.requireNonNull(first, "first");
            return this;
        }

        /** Whether a segment is the last one recovery needs (default: none; the end of the archive stops it). */
        public Builder last(Predicate<String> last) {
            this.last = Objects.requireNonNull(last, "last");
            return this;
        }

        /** How many segments may wait in the spool (default {@value WalPrefetch#DEFAULT_COUNT}). */
        public Builder window(int window) {
            if (window < 1 || window > 1024) {
                throw new IllegalArgumentException("window must be 1 to 1024, not " + window);
            }
            this.window = window;
            return this;
        }

        /** What is done with each file before it gets its name in the spool (giving it to the server's user). */
        public Builder prepare(IoConsumer prepare) {
            this.prepare = Objects.requireNonNull(prepare, "prepare");
            return this;
        }

        /** Starts reading ahead. */
        public WalReadAhead start() {
            if (archive == null || spool == null || first == null) {
                throw new IllegalStateException("WalReadAhead needs archive(...), spool(...) and first(...)");
            }
            WalReadAhead r = new WalReadAhead(this);
            r.start();
            return r;
        }
    }
}

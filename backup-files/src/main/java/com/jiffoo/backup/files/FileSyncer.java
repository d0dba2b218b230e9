package com.jiffoo.backup.files;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;

/**
 * Makes extracted files durable while the extraction goes on: each written file's channel is handed over, and a
 * thread of its own forces it to disk ({@code fsync}) and closes it, so the disk writes back the first files while the
 * next ones are decoded, instead of all of them after the last (PostgreSQL's start after a base backup fsyncs every
 * file of its data directory, and found 1 GiB dirty). {@link #finish} waits for the files, then fsyncs the
 * directories (their entries). At most {@value #PENDING} channels wait: a slow disk slows the extraction down rather
 * than holding file descriptors without bound. Used by one extraction thread; not thread-safe otherwise.
 */
final class FileSyncer implements AutoCloseable {
    static final int PENDING = 64;

    private final BlockingQueue<Object> queue = new ArrayBlockingQueue<>(PENDING);
    private final Thread thread;
    private volatile IOException failure;

    FileSyncer() {
        thread = new Thread(this::run, "jiffoo-restore-fsync");
        thread.setDaemon(true);
        thread.start();
    }

    private void run() {
        while (true) {
            Object next;
            try {
                next = queue.take();
            } catch (InterruptedException e) {
                return;
            }
            if (next == Boolean.FALSE) {
                return;
            }
            FileChannel ch = (FileChannel) next;
            try (ch) {
                if (failure == null) {
                    ch.force(true);
                }
            } catch (IOException e) {
                if (failure == null) {
                    failure = e;
                }
            }
        }
    }

    /** Hands over a written file's channel: it is forced and closed on the syncer's thread. */
    void add(FileChannel written) throws IOException {
        check();
        try {
            queue.put(written);
        } catch (InterruptedException e) {
            written.close();
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while handing a restored file to the fsync thread");
        }
    }

    /**
     * Waits until every file handed over is on disk, then fsyncs {@code directories}.
     *
     * @throws IOException the first fsync that failed (the restore must not be taken for durable)
     */
    void finish(List<Path> directories) throws IOException {
        stop();
        check();
        for (Path d : directories) {
            try (FileChannel ch = FileChannel.open(d, StandardOpenOption.READ)) {
                ch.force(true);
            } catch (java.nio.file.AccessDeniedException e) {
                // a directory the archive made unreadable (mode 0): its entries stay as the kernel writes them
            }
        }
    }

    private void check() throws IOException {
        IOException f = failure;
        if (f != null) {
            throw new IOException("could not write a restored file to disk (fsync): " + f.getMessage(), f);
        }
    }

    private void stop() throws InterruptedIOException {
        if (!thread.isAlive()) {
            return;
        }
        try {
            queue.put(Boolean.FALSE);
            thread.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while waiting for the restored files' fsync");
        }
    }

    /** Stops the thread and closes what it did not get to (after a failure). Never throws. */
    @Override
    public void close() {
        thread.interrupt();
        try {
            thread.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        Object left;
        while ((left = queue.poll()) != null) {
            if (left instanceof FileChannel ch) {
                try {
                    ch.close();
                } catch (IOException ignored) {
                    // a restore that failed anyway
                }
            }
        }
    }
}

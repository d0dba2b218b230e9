package com.jiffoo.backup;

import static org.assertj.core.api.Assertions.assertThat;

import com.jiffoo.backup.crypto.OpenPgpTransform;
import com.jiffoo.backup.crypto.PassphraseKeyFile;
import com.jiffoo.backup.store.LocalDirectorySink;
import com.jiffoo.backup.testutil.TestKeys;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A run whose thread is interrupted (a scheduler shutting down, a shutdown hook) stops promptly: a real OpenPGP
 * pipeline into a local directory, a source that writes slowly and, like a child's pipe, does not notice
 * interrupts.
 */
class InterruptedBackupTest {
    @TempDir
    Path dir;

    /** Writes 64 KiB every 20 ms for up to a minute; deaf to interrupts (parks, like a blocking read). */
    private static final class SlowSource implements Source {
        final CountDownLatch wrote = new CountDownLatch(1);
        /** 3 MiB written: more than the pipe holds, so the encoding thread is streaming into the store. */
        final CountDownLatch streaming = new CountDownLatch(48);

        final AtomicBoolean cancelled = new AtomicBoolean();
        volatile Thread thread;

        @Override
        public String kind() {
            return "database";
        }

        @Override
        public String suffix() {
            return ".sql";
        }

        @Override
        public String describe() {
            return "a slow dump";
        }

        @Override
        public Map<String, Object> writeTo(OutputStream out) throws IOException {
            thread = Thread.currentThread();
            SplittableRandom random = new SplittableRandom(7);
            byte[] chunk = new byte[64 * 1024];
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (System.nanoTime() < end) {
                if (cancelled.get()) {
                    throw new IOException("the dump was cancelled");
                }
                random.nextBytes(chunk);
                out.write(chunk);
                wrote.countDown();
                streaming.countDown();
                LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(20));
            }
            return Map.of();
        }

        @Override
        public void cancel() {
            cancelled.set(true);
        }
    }

    private OpenPgpTransform pgp() {
        return OpenPgpTransform.builder()
                .passphrase(PassphraseKeyFile.read(TestKeys.keyFile(dir, "backup.key")))
                .build();
    }

    private record Outcome(Throwable failure, boolean interruptedAfter, long millis) {}

    private Outcome runInterrupted(BackupPipeline pipeline, CountDownLatch when) throws Exception {
        AtomicReference<Throwable> failure = new AtomicReference<>();
        AtomicBoolean interruptedAfter = new AtomicBoolean();
        Thread job = new Thread(() -> {
            try {
                pipeline.run();
            } catch (Throwable t) {
                failure.set(t);
            }
            interruptedAfter.set(Thread.currentThread().isInterrupted());
        });
        job.start();
        assertThat(when.await(20, TimeUnit.SECONDS)).isTrue();
        long start = System.nanoTime();
        job.interrupt();
        job.join(20_000);
        long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        assertThat(job.isAlive()).as("the run returned").isFalse();
        return new Outcome(failure.get(), interruptedAfter.get(), millis);
    }

    private static void assertStoppedPromptly(Outcome o, LocalDirectorySink sink, Path root, SlowSource source)
            throws Exception {
        assertThat(o.millis()).as("stopped within 2 s").isLessThan(2_000);
        assertThat(o.failure()).isInstanceOf(BackupException.class);
        assertThat(o.failure().getMessage())
                .contains("interrupted")
                .contains("Nothing was committed")
                .doesNotContain("null");
        assertThat(o.interruptedAfter()).as("interrupt status kept").isTrue();
        assertThat(sink.list("")).isEmpty();
        assertThat(sink.temporaryFiles()).isEmpty();
        try (Stream<Path> files = Files.walk(root)) {
            assertThat(files.filter(Files::isRegularFile)).isEmpty();
        }
        Thread t = source.thread;
        if (t != null) {
            t.join(2_000);
            assertThat(t.isAlive()).as("the source thread stopped").isFalse();
        }
    }

    @Test
    void anInterruptWhileStreamingStopsTheRunPromptly() throws Exception {
        Path root = dir.resolve("store");
        LocalDirectorySink sink = LocalDirectorySink.create(root);
        SlowSource source = new SlowSource();
        BackupPipeline pipeline = BackupPipeline.builder()
                .source(source)
                .encryption(pgp())
                .sink(sink)
                .build();
        Outcome o = runInterrupted(pipeline, source.streaming);
        assertStoppedPromptly(o, sink, root, source);
    }

    @Test
    void anInterruptBeforeTheRunStopsItPromptly() throws Exception {
        Path root = dir.resolve("store");
        LocalDirectorySink sink = LocalDirectorySink.create(root);
        SlowSource source = new SlowSource();
        BackupPipeline pipeline = BackupPipeline.builder()
                .source(source)
                .encryption(pgp())
                .sink(sink)
                .build();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        AtomicBoolean interruptedAfter = new AtomicBoolean();
        long start = System.nanoTime();
        Thread job = new Thread(() -> {
            Thread.currentThread().interrupt(); // a shutdown already asked this thread to stop
            try {
                pipeline.run();
            } catch (Throwable t) {
                failure.set(t);
            }
            interruptedAfter.set(Thread.currentThread().isInterrupted());
        });
        job.start();
        job.join(20_000);
        assertThat(job.isAlive()).isFalse();
        long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        assertStoppedPromptly(new Outcome(failure.get(), interruptedAfter.get(), millis), sink, root, source);
    }
}

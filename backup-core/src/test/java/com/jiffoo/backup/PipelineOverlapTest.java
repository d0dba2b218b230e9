package com.jiffoo.backup;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.jiffoo.backup.store.LocalDirectorySink;
import com.jiffoo.backup.testutil.GeneratedSource;
import com.jiffoo.backup.testutil.MemoryTarget;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The slow set-up of a transform (an OpenPGP key derivation: 64 MiB hashed) overlaps the start of the other end of
 * the pipeline: a backup's source (pg_dump connecting, reading its catalogs) and a restore's target (CREATE DATABASE,
 * starting pg_restore) start before the transforms are set up. Each test's transform waits in its set-up until the
 * other end has started; without the overlap it waits in vain and the test fails.
 */
class PipelineOverlapTest {
    private static final Clock CLOCK = Clock.fixed(Instant.parse("2026-01-11T03:00:00Z"), ZoneOffset.UTC);
    private static final long WAIT_SECONDS = 10;

    @TempDir
    Path dir;

    /** An identity transform whose encode and decode wait (at most WAIT_SECONDS) for {@code started}. */
    private static class WaitingTransform implements Transform {
        final CountDownLatch started = new CountDownLatch(1);
        volatile boolean sawStart;

        private void await() throws IOException {
            try {
                sawStart = started.await(WAIT_SECONDS, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new java.io.InterruptedIOException();
            }
        }

        @Override
        public String suffix() {
            return "";
        }

        @Override
        public OutputStream encode(OutputStream out) throws IOException {
            await();
            return out;
        }

        @Override
        public InputStream decode(InputStream in) throws IOException {
            await();
            return in;
        }

        @Override
        public Map<String, Object> describe() {
            return Map.of("type", "waiting-identity");
        }
    }

    /** A source that opens {@code started} when it begins writing. */
    private static Source signalling(Source delegate, CountDownLatch started) {
        return new Source() {
            @Override
            public String kind() {
                return delegate.kind();
            }

            @Override
            public String suffix() {
                return delegate.suffix();
            }

            @Override
            public String describe() {
                return delegate.describe();
            }

            @Override
            public Map<String, Object> writeTo(OutputStream out) throws IOException {
                started.countDown();
                return delegate.writeTo(out);
            }
        };
    }

    @Test
    void backupStartsTheSourceWhileTheTransformsSetUp() {
        WaitingTransform t = new WaitingTransform();
        BackupManifest m = BackupPipeline.builder()
                .source(signalling(new GeneratedSource("files", 2_000_000, 7), t.started))
                .sink(LocalDirectorySink.create(dir))
                .transform(t)
                .unencrypted()
                .clock(CLOCK)
                .build()
                .run();

        assertThat(t.sawStart)
                .as("the source started before the transform's set-up ended")
                .isTrue();
        assertThat(m.plaintextSize()).isEqualTo(2_000_000);
    }

    @Test
    void backupWhoseTransformCannotStartReportsTheTransformAndStopsTheSource() throws Exception {
        CountDownLatch started = new CountDownLatch(1);
        Transform broken = new WaitingTransform() {
            @Override
            public OutputStream encode(OutputStream out) throws IOException {
                throw new IOException("no key material");
            }
        };
        LocalDirectorySink sink = LocalDirectorySink.create(dir);
        assertThatThrownBy(() -> BackupPipeline.builder()
                        .source(signalling(new GeneratedSource("files", 50_000_000, 8), started))
                        .sink(sink)
                        .transform(broken)
                        .unencrypted()
                        .clock(CLOCK)
                        .build()
                        .run())
                .isInstanceOf(BackupException.class)
                .hasMessageContaining("no key material");
        assertThat(sink.list("")).isEmpty();
    }

    @Test
    void restoreStartsTheTargetWhileTheDecodersSetUp() throws Exception {
        LocalDirectorySink sink = LocalDirectorySink.create(dir);
        WaitingTransform t = new WaitingTransform();
        t.started.countDown(); // the backup side is not under test here
        GeneratedSource source = new GeneratedSource("files", 2_000_000, 9);
        BackupManifest m = BackupPipeline.builder()
                .source(source)
                .sink(sink)
                .transform(t)
                .unencrypted()
                .clock(CLOCK)
                .build()
                .run();

        WaitingTransform decoder = new WaitingTransform();
        MemoryTarget memory = new MemoryTarget();
        RestoreTarget target = new RestoreTarget() {
            @Override
            public String describe() {
                return memory.describe();
            }

            @Override
            public StagedRestore stage(InputStream plaintext, BackupManifest manifest) throws IOException {
                decoder.started.countDown();
                return memory.stage(plaintext, manifest);
            }
        };
        RestorePipeline.builder()
                .sink(sink)
                .transform(decoder)
                .target(target)
                .build()
                .restore(m.objectKey());

        assertThat(decoder.sawStart)
                .as("the target started before the decoder's set-up ended")
                .isTrue();
        try (InputStream expected = source.stream()) {
            assertThat(memory.committed()).isEqualTo(expected.readAllBytes());
        }
    }
}

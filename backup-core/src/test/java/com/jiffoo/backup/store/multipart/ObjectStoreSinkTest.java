package com.jiffoo.backup.store.multipart;

import static com.jiffoo.backup.store.multipart.ScriptedObjectStore.answer;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.ObjectExistsException;
import com.jiffoo.backup.SinkOutput;
import com.jiffoo.backup.StorageException;
import com.jiffoo.backup.store.multipart.ScriptedObjectStore.Op;
import java.io.IOException;
import java.time.Duration;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** The multipart engine's rules, once for every store, against a scripted {@link ObjectStore}. */
class ObjectStoreSinkTest {
    private static final int PART = (int) ObjectStoreSink.MIN_PART_SIZE;

    private final ScriptedObjectStore store = new ScriptedObjectStore();

    /** A sink over the scripted store, fast retries. */
    static final class TestSink extends ObjectStoreSink {
        TestSink(ScriptedObjectStore store, Settings settings) {
            super(settings, store, "S3", "http://127.0.0.1:9", "s3://bucket/prefix", "bucket", "prefix/");
        }

        @Override
        protected void closeClient() {}
    }

    /** The shared builder settings. */
    static final class Settings extends ObjectStoreSink.Builder<Settings> {
        Settings() {
            partSize(PART).retryDelays(Duration.ZERO, Duration.ZERO);
        }
    }

    private TestSink sink(Settings settings) {
        return new TestSink(store, settings);
    }

    private static byte[] bytes(int n) {
        byte[] b = new byte[n];
        new Random(n).nextBytes(b);
        return b;
    }

    private static void write(SinkOutput out, byte[] data) throws IOException {
        for (int off = 0; off < data.length; off += 100_000) {
            out.write(data, off, Math.min(100_000, data.length - off));
        }
    }

    @Test
    void aLostAnswerToTheCompletionIsAcceptedWhenTheStoredObjectHasOurSizeAndETag() throws Exception {
        store.loseAnswer(Op.COMPLETE, call -> call == 1 ? new IOException("connection reset") : null);
        byte[] data = bytes(2 * PART + 7);
        try (TestSink sink = sink(new Settings());
                SinkOutput out = sink.create("db/x")) {
            write(out, data);
            out.commit(); // the retry is answered NoSuchUpload: the object is ours
            assertThat(sink.open("db/x").readAllBytes()).isEqualTo(data);
        }
        assertThat(store.calls(Op.COMPLETE)).isEqualTo(2);
        assertThat(store.uploads).isEmpty();
    }

    @Test
    void aLostAnswerIsNotAcceptedWhenAnotherWritersObjectIsThere() throws Exception {
        byte[] ours = bytes(PART / 2);
        byte[] theirs = ours.clone(); // the same size, another content
        theirs[0]++;
        store.failBefore(Op.PUT, call -> {
            if (call == 1) {
                store.objects.put("prefix/db/x", theirs); // another writer commits while our answer is lost
                return new IOException("connection reset");
            }
            return null;
        });
        try (TestSink sink = sink(new Settings());
                SinkOutput out = sink.create("db/x")) {
            write(out, ours);
            assertThatThrownBy(out::commit).isInstanceOf(ObjectExistsException.class);
        }
        assertThat(store.objects.get("prefix/db/x")).isEqualTo(theirs);
    }

    @Test
    void aLostAnswerToAPutIsAcceptedWhenTheStoredBytesAreOurs() throws Exception {
        store.loseAnswer(Op.PUT, call -> call == 1 ? new IOException("connection reset") : null);
        byte[] data = bytes(1000);
        try (TestSink sink = sink(new Settings());
                SinkOutput out = sink.create("db/x")) {
            write(out, data);
            out.commit();
        }
        assertThat(store.calls(Op.PUT)).isEqualTo(2);
        assertThat(store.objects.get("prefix/db/x")).isEqualTo(data);
    }

    @Test
    void aPartThatKeepsFailingFailsTheWriteAbortsTheUploadAndLeavesNothing() throws Exception {
        store.failBefore(Op.PART, call -> answer(503, "SlowDown"));
        try (TestSink sink = sink(new Settings().maxAttempts(3))) {
            SinkOutput out = sink.create("db/x");
            assertThatThrownBy(() -> {
                        write(out, bytes(3 * PART));
                        out.commit();
                    })
                    .isInstanceOf(StorageException.class)
                    .hasMessageContaining("HTTP 503")
                    .hasMessageContaining("db/x");
            out.close();
            assertThat(sink.list("")).isEmpty();
            assertThat(sink.partialWrites("")).isEmpty();
        }
        assertThat(store.calls(Op.ABORT)).isEqualTo(1);
        assertThat(store.uploads).isEmpty();
    }

    @Test
    void retriesEndAfterMaxAttemptsAndOnlyForRetryableAnswers() throws Exception {
        store.failBefore(Op.PUT, call -> call <= 4 ? answer(500, "InternalError") : null);
        try (TestSink sink = sink(new Settings().maxAttempts(4));
                SinkOutput out = sink.create("a")) {
            out.write(1);
            assertThatThrownBy(out::commit).isInstanceOf(StorageException.class).hasMessageContaining("HTTP 500");
        }
        assertThat(store.calls(Op.PUT)).isEqualTo(4);
        try (TestSink sink = sink(new Settings().maxAttempts(5));
                SinkOutput out = sink.create("b")) {
            out.write(1);
            out.commit(); // the fifth attempt works
        }
        for (String code : new String[] {"AccessDenied", "SignatureDoesNotMatch", "RequestTimeTooSkewed"}) {
            ScriptedObjectStore refusing = new ScriptedObjectStore().failBefore(Op.PUT, call -> answer(403, code));
            try (TestSink sink = new TestSink(refusing, new Settings());
                    SinkOutput out = sink.create("c")) {
                out.write(1);
                assertThatThrownBy(out::commit)
                        .as(code)
                        .isInstanceOf(
                                code.equals("RequestTimeTooSkewed")
                                        ? StorageException.class
                                        : ConfigurationException.class);
            }
            assertThat(refusing.calls(Op.PUT)).as(code).isEqualTo(1);
        }
    }

    @Test
    void anExistingKeyIsRefusedByTheHeadOrByTheConditionalWriteAndTheUploadAborted() throws Exception {
        store.objects.put("prefix/k", new byte[] {1});
        try (TestSink sink = sink(new Settings());
                SinkOutput out = sink.create("k")) {
            write(out, bytes(2 * PART));
            assertThatThrownBy(out::commit).isInstanceOf(ObjectExistsException.class);
        }
        assertThat(store.uploads).isEmpty();
        // a writer that commits between the HEAD and the PUT: the server's 412 still refuses
        store.objects.clear();
        store.failBefore(Op.HEAD, call -> {
            store.objects.put("prefix/k", new byte[] {2});
            return null;
        });
        try (TestSink sink = sink(new Settings());
                SinkOutput out = sink.create("k")) {
            out.write(3);
            assertThatThrownBy(out::commit).isInstanceOf(ObjectExistsException.class);
        }
        assertThat(store.objects.get("prefix/k")).containsExactly(2);
    }

    @Test
    void aWriterHoldsAtMostPartSizeTimesPartsInFlight() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        store.onPart = () -> {
            try {
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        };
        AtomicLong accepted = new AtomicLong();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        byte[] data = bytes(6 * PART);
        try (TestSink sink = sink(new Settings().partsInFlight(3))) {
            SinkOutput out = sink.create("big");
            Thread writer = new Thread(() -> {
                try (out) {
                    for (int off = 0; off < data.length; off += 65536) {
                        out.write(data, off, 65536);
                        accepted.addAndGet(65536);
                    }
                    out.commit();
                } catch (Throwable t) {
                    failure.set(t);
                }
            });
            writer.start();
            // up to the bound (a writer that starts or runs late on a loaded machine is waited for) ...
            long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(30);
            while (accepted.get() < 3L * PART && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            // ... and no further while the uploads are held
            Thread.sleep(300);
            assertThat(writer.isAlive()).isTrue();
            assertThat(accepted.get()).isEqualTo(3L * PART); // two parts uploading, one filled, no fourth
            release.countDown();
            writer.join(30_000);
            assertThat(failure.get()).isNull();
            assertThat(sink.open("big").readAllBytes()).isEqualTo(data);
        }
    }

    @Test
    void partSizesDoubleEvery1000PartsSo10000PartsHoldFiveTebibytes() throws Exception {
        long mib = 1 << 20;
        for (long base : new long[] {5 * mib, 8 * mib, 32 * mib, 1L << 30}) {
            assertThat(PartSizes.capacity(base)).as("base %d", base).isGreaterThanOrEqualTo(5L << 40);
            for (int n = 1; n <= PartSizes.MAX_PARTS; n++) {
                assertThat(PartSizes.sizeOf(n, base)).isBetween(PartSizes.MIN_PART, PartSizes.MAX_PART);
            }
        }
        assertThat(Arrays.asList(
                        PartSizes.sizeOf(1000, 8 * mib),
                        PartSizes.sizeOf(1001, 8 * mib),
                        PartSizes.sizeOf(2001, 8 * mib),
                        PartSizes.sizeOf(9001, 8 * mib)))
                .containsExactly(8 * mib, 16 * mib, 32 * mib, 5L << 30);
        assertThatThrownBy(() -> PartSizes.sizeOf(10_001, 8 * mib)).isInstanceOf(IllegalArgumentException.class);
        MemoryBudget budget = new MemoryBudget(32 * mib); // a part larger than the bound goes alone
        long taken = budget.acquire(64 * mib);
        assertThat(taken).isEqualTo(32 * mib);
        budget.release(taken);
        assertThat(budget.acquire(8 * mib)).isEqualTo(8 * mib);
    }

    @Test
    void errorsSayWhatToDoOnceForEveryStore() {
        StoreErrors errors = new StoreErrors("S3", "http://127.0.0.1:9000", "s3://backups/prod", "backups");
        var skewed = errors.map(answer(403, "RequestTimeTooSkewed"), "upload of", "database/x.sql.gpg");
        assertThat(skewed).isInstanceOf(StorageException.class);
        assertThat(skewed.code().exitCode()).isEqualTo(4);
        assertThat(skewed.getMessage())
                .contains(
                        "this host's clock",
                        "timedatectl",
                        "set-ntp",
                        "The server's clock is not the one to change",
                        "database/x.sql.gpg")
                .doesNotContain("Access denied")
                .doesNotContain("policy");
        assertThat(errors.map(answer(404, "NoSuchBucket"), "listing of", null))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("'backups' does not exist");
        assertThat(errors.map(new java.net.ConnectException("refused"), "listing of", null))
                .hasMessageContaining("Cannot reach the S3 endpoint http://127.0.0.1:9000");
        assertThat(Retry.retryable(new IOException("reset"))).isTrue();
        assertThat(Retry.retryable(answer(404, "NoSuchKey"))).isFalse();
        assertThat(Retry.retryable(answer(429, null))).isTrue();
    }

    @Test
    void aStoreThatDoesNotListUploadsHasNoneToShow() {
        store.failBefore(Op.UPLOADS, call -> answer(501, "NotImplemented"));
        try (TestSink sink = sink(new Settings())) {
            assertThat(sink.partialWrites("")).isEmpty();
        }
    }
}

package com.jiffoo.backup;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.jiffoo.backup.store.LocalDirectorySink;
import com.jiffoo.backup.testutil.Cli;
import com.jiffoo.backup.testutil.GeneratedSource;
import com.jiffoo.backup.testutil.ScriptedSink;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BackupPipelineTest {
    private static final Clock CLOCK = Clock.fixed(Instant.parse("2026-01-11T03:00:00Z"), ZoneOffset.UTC);

    @TempDir
    Path dir;

    private BackupPipeline.Builder pipeline(Source source, Sink sink) {
        return BackupPipeline.builder().source(source).sink(sink).unencrypted().clock(CLOCK);
    }

    @Test
    void writesDataSidecarAndManifestUnderTheRunbookName() throws Exception {
        LocalDirectorySink sink = LocalDirectorySink.create(dir);
        GeneratedSource source = new GeneratedSource("files", 3_000_000, 1);
        BackupManifest m = pipeline(source, sink).build().run();

        assertThat(m.objectKey()).isEqualTo("files/files_backup_20260111_030000.bin");
        assertThat(sink.list(""))
                .extracting(StoredObject::key)
                .containsExactly(
                        "files/files_backup_20260111_030000.bin",
                        "files/files_backup_20260111_030000.bin.manifest.json",
                        "files/files_backup_20260111_030000.bin.sha256");
        byte[] stored = Files.readAllBytes(dir.resolve(m.objectKey()));
        try (InputStream expected = source.stream()) {
            assertThat(stored).isEqualTo(expected.readAllBytes());
        }
        String sha =
                HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(stored));
        assertThat(m.objectSha256()).isEqualTo(sha);
        assertThat(m.plaintextSha256()).isEqualTo(sha);
        assertThat(m.objectSize()).isEqualTo(3_000_000);
        assertThat(m.sourceFacts()).containsEntry("seed", 1L);
        assertThat(m.encrypted()).isFalse();
        assertThat(Files.readString(dir.resolve(m.sha256Key())))
                .isEqualTo(sha + "  files_backup_20260111_030000.bin\n");
        BackupManifest read = BackupManifest.fromJson(Files.readAllBytes(dir.resolve(m.manifestKey())), "x");
        assertThat(read.toJson()).isEqualTo(m.toJson());
    }

    @Test
    void sha256sumAcceptsTheSidecar() {
        LocalDirectorySink sink = LocalDirectorySink.create(dir);
        BackupManifest m =
                pipeline(new GeneratedSource("files", 100_000, 2), sink).build().run();
        Cli.run(
                        dir.resolve("files").toFile(),
                        List.of("sha256sum", "-c", dir.resolve(m.sha256Key()).toString()))
                .assertOk();
    }

    @Test
    void commitsDataThenSidecarThenManifest() {
        ScriptedSink sink = new ScriptedSink(LocalDirectorySink.create(dir));
        BackupManifest m =
                pipeline(new GeneratedSource("files", 10, 3), sink).build().run();
        assertThat(sink.events())
                .containsExactly("commit " + m.objectKey(), "commit " + m.sha256Key(), "commit " + m.manifestKey());
    }

    @Test
    void sourceFailingMidwayLeavesNoManifestAndNoVisibleObject() throws Exception {
        LocalDirectorySink sink = LocalDirectorySink.create(dir);
        GeneratedSource source = new GeneratedSource("files", 5_000_000, 4).failingAfter(2_000_000);
        assertThatThrownBy(() -> pipeline(source, sink).build().run())
                .isInstanceOf(SourceException.class)
                .hasMessageContaining("failed on purpose");
        assertThat(sink.list("")).isEmpty();
        assertThat(sink.temporaryFiles()).isEmpty();
    }

    @Test
    void storeFailingMidwayNamesTheStepAndLeavesNothing() throws Exception {
        LocalDirectorySink local = LocalDirectorySink.create(dir);
        ScriptedSink sink = new ScriptedSink(local).failWritesAfter(k -> !k.endsWith(".json"), 1_000_000);
        assertThatThrownBy(() -> pipeline(new GeneratedSource("files", 5_000_000, 5), sink)
                        .build()
                        .run())
                .isInstanceOf(StorageException.class)
                .hasMessageContaining("step 'store")
                .hasMessageContaining("disk full");
        assertThat(local.list("")).isEmpty();
        assertThat(local.temporaryFiles()).isEmpty();
    }

    @Test
    void failedManifestWriteRemovesTheCommittedData() throws Exception {
        LocalDirectorySink local = LocalDirectorySink.create(dir);
        ScriptedSink sink = new ScriptedSink(local).failCommitOf(k -> k.endsWith(".manifest.json"));
        assertThatThrownBy(() -> pipeline(new GeneratedSource("files", 1000, 6), sink)
                        .build()
                        .run())
                .isInstanceOf(StorageException.class)
                .hasMessageContaining("manifest.json");
        assertThat(local.list("")).isEmpty();
    }

    @Test
    void aManifestStoredDespiteAFailedWriteIsDeletedBeforeTheData() throws Exception {
        // the manifest is stored but the answer is lost: the run reports failure, so nothing of it may stay
        // visible, and above all no manifest pointing at deleted data
        LocalDirectorySink local = LocalDirectorySink.create(dir);
        ScriptedSink sink = new ScriptedSink(local).loseCommitAnswerOf(k -> k.endsWith(".manifest.json"));
        assertThatThrownBy(() -> pipeline(new GeneratedSource("database", 1000, 31), sink)
                        .build()
                        .run())
                .isInstanceOf(StorageException.class);
        assertThat(local.list("")).isEmpty();
        assertThat(StoredBackups.of(local).committed("database")).isEmpty();
        List<String> deletes =
                sink.events().stream().filter(e -> e.startsWith("delete ")).toList();
        assertThat(deletes).hasSize(3);
        assertThat(deletes.get(0)).endsWith(".manifest.json");
        assertThat(deletes.get(1)).endsWith(".sha256");
        assertThat(deletes.get(2)).endsWith(".bin");
    }

    @Test
    void refusesToRunWithoutEncryptionUnlessAskedExplicitly() {
        assertThatThrownBy(() -> BackupPipeline.builder()
                        .source(new GeneratedSource("files", 1, 1))
                        .sink(LocalDirectorySink.create(dir))
                        .build())
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("encryption(...)")
                .hasMessageContaining("unencrypted()");
    }

    @Test
    void refusesToOverwriteABackupOfTheSameName() {
        LocalDirectorySink sink = LocalDirectorySink.create(dir);
        BackupPipeline p = pipeline(new GeneratedSource("files", 10, 7), sink).build();
        p.run();
        assertThatThrownBy(p::run).isInstanceOf(ConfigurationException.class).hasMessageContaining("already exists");
    }

    @Test
    void concurrentBackupsOfTheSameNameNeverOverwriteEachOther() throws Exception {
        LocalDirectorySink sink = LocalDirectorySink.create(dir);
        BackupPipeline p =
                pipeline(new GeneratedSource("files", 3_000_000, 21), sink).build();
        int runs = 4;
        java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(runs);
        java.util.concurrent.CountDownLatch go = new java.util.concurrent.CountDownLatch(1);
        List<java.util.concurrent.Future<BackupManifest>> results = new java.util.ArrayList<>();
        for (int i = 0; i < runs; i++) {
            results.add(pool.submit(() -> {
                go.await();
                return p.run();
            }));
        }
        go.countDown();
        int ok = 0;
        int refused = 0;
        for (java.util.concurrent.Future<BackupManifest> f : results) {
            try {
                f.get();
                ok++;
            } catch (java.util.concurrent.ExecutionException e) {
                assertThat(e.getCause())
                        .isInstanceOf(ConfigurationException.class)
                        .hasMessageContaining("already exists")
                        .hasMessageContaining("Nothing was overwritten");
                refused++;
            }
        }
        pool.shutdown();
        assertThat(ok).isEqualTo(1);
        assertThat(refused).isEqualTo(runs - 1);
        BackupManifest m = StoredBackups.of(sink).latest("files").orElseThrow();
        BackupVerifier.builder().sink(sink).build().verify(m.objectKey(), true);
        Cli.run(
                        dir.resolve("files").toFile(),
                        List.of("sha256sum", "-c", dir.resolve(m.sha256Key()).toString()))
                .assertOk();
        // data, sidecar, manifest, and the verification's record
        assertThat(sink.list("")).hasSize(4);
        assertThat(StoredBackups.of(sink).verifications(m))
                .singleElement()
                .satisfies(r -> assertThat(r.passed()).isTrue());
        assertThat(sink.temporaryFiles()).isEmpty();
    }

    @Test
    void listenerSeesStartProgressAndFinishAndMayThrow() {
        List<String> events = new CopyOnWriteArrayList<>();
        BackupListener listener = new BackupListener() {
            @Override
            public void started(Operation operation, String key) {
                events.add("started " + operation);
                throw new IllegalStateException("listeners must not break backups");
            }

            @Override
            public void finished(Operation operation, Progress progress) {
                events.add("finished " + progress.plaintextBytes() + " " + progress.storedBytes());
            }
        };
        pipeline(new GeneratedSource("files", 12345, 8), LocalDirectorySink.create(dir))
                .listener(listener)
                .build()
                .run();
        assertThat(events).containsExactly("started BACKUP", "finished 12345 12345");
    }

    @Test
    void listenerHearsOfFailures() {
        List<BackupException> failures = new CopyOnWriteArrayList<>();
        BackupListener listener = new BackupListener() {
            @Override
            public void failed(Operation operation, Progress progress, BackupException error) {
                failures.add(error);
            }
        };
        GeneratedSource source = new GeneratedSource("files", 100_000, 9).failingAfter(10);
        assertThatThrownBy(() -> pipeline(source, LocalDirectorySink.create(dir))
                        .listener(listener)
                        .build()
                        .run())
                .isInstanceOf(SourceException.class);
        assertThat(failures).singleElement().isInstanceOf(SourceException.class);
    }

    @Test
    void manifestRecordsHostVersionAndTimes() throws Exception {
        LocalDirectorySink sink = LocalDirectorySink.create(dir);
        BackupManifest m =
                pipeline(new GeneratedSource("database", 10, 10), sink).build().run();
        String json = Files.readString(dir.resolve(m.manifestKey()), StandardCharsets.UTF_8);
        assertThat(json)
                .contains(
                        "\"formatVersion\" : 1",
                        "\"kind\" : \"database\"",
                        "\"startedAt\" : \"2026-01-11T03:00:00Z\"",
                        "\"libraryVersion\" : \"0.1.0-SNAPSHOT\"");
        assertThat(m.host()).isNotBlank();
    }

    @Test
    void aFailedOrInterruptedBackupCancelsASourceThatIgnoresInterrupts() throws Exception {
        java.util.concurrent.CountDownLatch cancelled = new java.util.concurrent.CountDownLatch(1);
        java.util.concurrent.CountDownLatch writing = new java.util.concurrent.CountDownLatch(1);
        Source silent = new Source() {
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
                return "a child process waiting for a lock";
            }

            @Override
            public java.util.Map<String, Object> writeTo(java.io.OutputStream out) throws java.io.IOException {
                writing.countDown();
                while (true) { // like a blocking read of a child's stdout: deaf to interrupts
                    try {
                        if (cancelled.await(10, java.util.concurrent.TimeUnit.SECONDS)) {
                            throw new java.io.IOException("the child was killed");
                        }
                    } catch (InterruptedException ignored) {
                        // keep waiting
                    }
                }
            }

            @Override
            public void cancel() {
                cancelled.countDown();
            }
        };
        LocalDirectorySink sink = LocalDirectorySink.create(dir);
        BackupPipeline pipeline =
                BackupPipeline.builder().source(silent).unencrypted().sink(sink).build();
        java.util.concurrent.atomic.AtomicReference<Throwable> failure =
                new java.util.concurrent.atomic.AtomicReference<>();
        Thread job = new Thread(() -> {
            try {
                pipeline.run();
            } catch (Throwable t) {
                failure.set(t);
            }
        });
        job.start();
        assertThat(writing.await(10, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
        job.interrupt();
        job.join(20_000);
        assertThat(job.isAlive()).isFalse();
        assertThat(cancelled.getCount()).as("cancel() was called").isZero();
        assertThat(failure.get()).isInstanceOf(BackupException.class);
        assertThat(sink.list("")).isEmpty();
        assertThat(sink.temporaryFiles()).isEmpty();
    }
}

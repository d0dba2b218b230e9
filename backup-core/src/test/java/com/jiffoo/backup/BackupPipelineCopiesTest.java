package com.jiffoo.backup;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.jiffoo.backup.store.LocalDirectorySink;
import com.jiffoo.backup.testutil.Cli;
import com.jiffoo.backup.testutil.GeneratedSource;
import com.jiffoo.backup.testutil.ScriptedSink;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A backup written to a primary store and copies ({@link BackupPipeline.Builder#copy(Sink)}). */
class BackupPipelineCopiesTest {
    private static final Clock CLOCK = Clock.fixed(Instant.parse("2026-01-11T03:00:00Z"), ZoneOffset.UTC);

    @TempDir
    Path dir;

    private LocalDirectorySink local(String name) throws Exception {
        return LocalDirectorySink.create(Files.createDirectories(dir.resolve(name)));
    }

    private static BackupPipeline.Builder pipeline(Source source, Sink primary, Sink... copies) {
        BackupPipeline.Builder b = BackupPipeline.builder()
                .source(source)
                .sink(primary)
                .unencrypted()
                .clock(CLOCK);
        for (Sink c : copies) {
            b.copy(c);
        }
        return b;
    }

    private static List<String> keys(LocalDirectorySink sink) throws Exception {
        return sink.list("").stream().map(StoredObject::key).toList();
    }

    @Test
    void everyStoreHoldsTheSameCommittedBytes() throws Exception {
        LocalDirectorySink a = local("a");
        LocalDirectorySink b = local("b");
        LocalDirectorySink c = local("c");
        BackupManifest m = pipeline(new GeneratedSource("files", 3_000_000, 1), a, b, c)
                .build()
                .run();
        for (String store : List.of("a", "b", "c")) {
            Path root = dir.resolve(store);
            assertThat(keys(LocalDirectorySink.create(root)))
                    .containsExactly(m.objectKey(), m.manifestKey(), m.sha256Key());
            // the referee: sha256sum with each store's own sidecar
            Cli.run(
                            root.resolve("files").toFile(),
                            List.of(
                                    "sha256sum",
                                    "-c",
                                    root.resolve(m.sha256Key()).toString()))
                    .assertOk();
            for (String key : List.of(m.objectKey(), m.sha256Key(), m.manifestKey())) {
                assertThat(Files.readAllBytes(root.resolve(key)))
                        .as(store + "/" + key)
                        .isEqualTo(Files.readAllBytes(dir.resolve("a").resolve(key)));
            }
        }
        assertThat(a.temporaryFiles()).isEmpty();
        assertThat(b.temporaryFiles()).isEmpty();
        assertThat(c.temporaryFiles()).isEmpty();
    }

    @Test
    void aCopyFailingMidwayIsDiscardedWhileTheOthersCommit() throws Exception {
        LocalDirectorySink a = local("a");
        LocalDirectorySink b = local("b");
        LocalDirectorySink c = local("c");
        ScriptedSink failing = new ScriptedSink(b).failWritesAfter(k -> !k.endsWith(".json"), 1_000_000);
        PartialBackupException e = (PartialBackupException) org.assertj.core.api.Assertions.catchThrowable(
                () -> pipeline(new GeneratedSource("files", 5_000_000, 2), a, failing, c)
                        .build()
                        .run());
        assertThat(e).isNotNull();
        assertThat(e.code()).isEqualTo(ErrorCode.PARTIAL);
        assertThat(e.code().exitCode()).isEqualTo(11);
        assertThat(e.committed()).containsExactly(a.location(), c.location());
        assertThat(e.failures()).containsOnlyKeys(failing.location());
        assertThat(e.getMessage()).contains(failing.location()).contains("disk full");
        BackupManifest m = e.manifest();
        assertThat(keys(a)).containsExactly(m.objectKey(), m.manifestKey(), m.sha256Key());
        assertThat(keys(c)).containsExactly(m.objectKey(), m.manifestKey(), m.sha256Key());
        assertThat(keys(b)).isEmpty();
        assertThat(b.temporaryFiles()).isEmpty();
        assertThat(StoredBackups.of(a).committed("files")).hasSize(1);
    }

    @Test
    void thePrimaryFailingLeavesTheCopiesCommitted() throws Exception {
        LocalDirectorySink a = local("a");
        LocalDirectorySink b = local("b");
        ScriptedSink failing = new ScriptedSink(a).failWritesAfter(k -> !k.endsWith(".json"), 500_000);
        assertThatThrownBy(() -> pipeline(new GeneratedSource("database", 2_000_000, 3), failing, b)
                        .build()
                        .run())
                .isInstanceOfSatisfying(PartialBackupException.class, e -> {
                    assertThat(e.committed()).containsExactly(b.location());
                    assertThat(e.failures()).containsOnlyKeys(failing.location());
                });
        assertThat(keys(a)).isEmpty();
        assertThat(StoredBackups.of(b).committed("database")).hasSize(1);
    }

    @Test
    void aCopyWhoseManifestFailsKeepsNothingOfTheBackup() throws Exception {
        LocalDirectorySink a = local("a");
        LocalDirectorySink b = local("b");
        ScriptedSink failing = new ScriptedSink(b).loseCommitAnswerOf(k -> k.endsWith(".manifest.json"));
        assertThatThrownBy(() -> pipeline(new GeneratedSource("files", 1000, 4), a, failing)
                        .build()
                        .run())
                .isInstanceOf(PartialBackupException.class);
        assertThat(keys(b)).isEmpty(); // the manifest stored despite the error was deleted, then sidecar and data
        List<String> deletes =
                failing.events().stream().filter(e -> e.startsWith("delete ")).toList();
        assertThat(deletes).hasSize(3);
        assertThat(deletes.get(0)).endsWith(".manifest.json");
        assertThat(StoredBackups.of(a).committed("files")).hasSize(1);
    }

    @Test
    void everyStoreFailingFailsTheRunAndNamesEachStore() throws Exception {
        LocalDirectorySink a = local("a");
        LocalDirectorySink b = local("b");
        ScriptedSink fa = new ScriptedSink(a).failWritesAfter(k -> true, 100_000);
        ScriptedSink fb = new ScriptedSink(b).failCommitOf(k -> true);
        assertThatThrownBy(() -> pipeline(new GeneratedSource("files", 1_000_000, 5), fa, fb)
                        .build()
                        .run())
                .isInstanceOf(StorageException.class)
                .isNotInstanceOf(PartialBackupException.class)
                .hasMessageContaining("failed in every store")
                .hasMessageContaining(fa.location())
                .hasMessageContaining(fb.location());
        assertThat(keys(a)).isEmpty();
        assertThat(keys(b)).isEmpty();
        assertThat(a.temporaryFiles()).isEmpty();
        assertThat(b.temporaryFiles()).isEmpty();
    }

    @Test
    void aSourceFailureFailsEveryStore() throws Exception {
        LocalDirectorySink a = local("a");
        LocalDirectorySink b = local("b");
        GeneratedSource source = new GeneratedSource("files", 5_000_000, 6).failingAfter(2_000_000);
        assertThatThrownBy(() -> pipeline(source, a, b).build().run())
                .isInstanceOf(SourceException.class)
                .hasMessageContaining("failed on purpose");
        assertThat(keys(a)).isEmpty();
        assertThat(keys(b)).isEmpty();
        assertThat(a.temporaryFiles()).isEmpty();
        assertThat(b.temporaryFiles()).isEmpty();
    }

    @Test
    void aNameTakenInOneCopyFailsOnlyThatCopy() throws Exception {
        LocalDirectorySink a = local("a");
        LocalDirectorySink b = local("b");
        BackupManifest first =
                pipeline(new GeneratedSource("files", 1000, 7), b).build().run();
        byte[] before = Files.readAllBytes(dir.resolve("b").resolve(first.objectKey()));
        assertThatThrownBy(() -> pipeline(new GeneratedSource("files", 2000, 8), a, b)
                        .build()
                        .run())
                .isInstanceOfSatisfying(
                        PartialBackupException.class,
                        e -> assertThat(e.failures()).containsOnlyKeys(b.location()));
        assertThat(Files.readAllBytes(dir.resolve("b").resolve(first.objectKey())))
                .as("never overwritten")
                .isEqualTo(before);
        assertThat(StoredBackups.of(a).committed("files")).hasSize(1);
    }
}

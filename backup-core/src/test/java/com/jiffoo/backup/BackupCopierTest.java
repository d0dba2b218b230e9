package com.jiffoo.backup;

import static org.assertj.core.api.Assertions.assertThat;

import com.jiffoo.backup.store.LocalDirectorySink;
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

/** {@link BackupCopier} between local directory stores (the launcher's {@code CopyIT} covers S3 and encryption). */
class BackupCopierTest {
    private static final Clock CLOCK = Clock.fixed(Instant.parse("2026-01-11T03:00:00Z"), ZoneOffset.UTC);

    @TempDir
    Path dir;

    private LocalDirectorySink local(String name) throws Exception {
        return LocalDirectorySink.create(Files.createDirectories(dir.resolve(name)));
    }

    private static BackupManifest backup(Sink sink, int bytes) {
        return BackupPipeline.builder()
                .source(new GeneratedSource("files", bytes, 7))
                .sink(sink)
                .unencrypted()
                .clock(CLOCK)
                .build()
                .run();
    }

    private static BackupCopier.Result copy(Sink from, Sink to) {
        return BackupCopier.builder()
                .from(from)
                .to(to)
                .trust(BackupTrust.STORE)
                .build()
                .run();
    }

    private static List<String> keys(Sink sink) throws Exception {
        return sink.list("").stream().map(StoredObject::key).toList();
    }

    @Test
    void copiesTheStoredBytesOnceAndThenFindsThemPresent() throws Exception {
        LocalDirectorySink a = local("a");
        LocalDirectorySink b = local("b");
        BackupManifest m = backup(a, 3_000_000);
        BackupCopier.Result first = copy(a, b);
        assertThat(first.items()).extracting(BackupCopier.Item::status).containsExactly(BackupCopier.Status.COPIED);
        assertThat(first.items().get(0).bytes()).isEqualTo(m.objectSize());
        for (String key : List.of(m.objectKey(), m.sha256Key(), m.manifestKey())) {
            assertThat(Files.readAllBytes(dir.resolve("b").resolve(key)))
                    .as(key)
                    .isEqualTo(Files.readAllBytes(dir.resolve("a").resolve(key)));
        }
        assertThat(StoredBackups.of(b).committed("files"))
                .extracting(BackupManifest::objectKey)
                .containsExactly(m.objectKey());
        BackupCopier.Result second = copy(a, b);
        assertThat(second.items()).extracting(BackupCopier.Item::status).containsExactly(BackupCopier.Status.PRESENT);
        assertThat(second.firstError()).isEmpty();
    }

    @Test
    void aDestinationFailingMidwayKeepsNothingAndTheNextRunCopies() throws Exception {
        LocalDirectorySink a = local("a");
        LocalDirectorySink b = local("b");
        BackupManifest m = backup(a, 4_000_000);
        ScriptedSink failing = new ScriptedSink(b).failWritesAfter(k -> !k.endsWith(".json"), 1_000_000);
        BackupCopier.Result failed = copy(a, failing);
        assertThat(failed.items()).extracting(BackupCopier.Item::status).containsExactly(BackupCopier.Status.FAILED);
        assertThat(failed.firstError()).get().extracting(BackupException::code).isEqualTo(ErrorCode.STORAGE);
        assertThat(keys(b)).isEmpty();
        assertThat(b.temporaryFiles()).isEmpty();

        BackupCopier.Result again = copy(a, b);
        assertThat(again.items()).extracting(BackupCopier.Item::status).containsExactly(BackupCopier.Status.COPIED);
        assertThat(keys(b)).containsExactlyInAnyOrder(m.objectKey(), m.sha256Key(), m.manifestKey());
    }

    @Test
    void sinceAndKindsNarrowWhatIsConsidered() throws Exception {
        LocalDirectorySink a = local("a");
        LocalDirectorySink b = local("b");
        backup(a, 100_000);
        BackupCopier.Builder base = BackupCopier.builder().from(a).to(b).trust(BackupTrust.STORE);
        assertThat(base.since(Instant.parse("2026-01-12T00:00:00Z"))
                        .build()
                        .run()
                        .items())
                .isEmpty();
        assertThat(base.since(null).kinds(List.of("database")).build().run().items())
                .isEmpty();
        assertThat(base.kinds(List.of("files"))
                        .since(Instant.parse("2026-01-11T00:00:00Z"))
                        .build()
                        .run()
                        .items())
                .hasSize(1);
    }
}

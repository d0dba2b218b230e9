package com.jiffoo.backup.retention;

import static org.assertj.core.api.Assertions.assertThat;

import com.jiffoo.backup.BackupManifest;
import com.jiffoo.backup.BackupPipeline;
import com.jiffoo.backup.BackupVerifier;
import com.jiffoo.backup.RetentionPolicy;
import com.jiffoo.backup.SinkOutput;
import com.jiffoo.backup.StoredBackups;
import com.jiffoo.backup.StoredObject;
import com.jiffoo.backup.store.LocalDirectorySink;
import com.jiffoo.backup.testutil.GeneratedSource;
import com.jiffoo.backup.testutil.ScriptedSink;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PrunerTest {
    private static final Instant NOW = Instant.parse("2026-03-31T12:00:00Z");

    @TempDir
    Path dir;

    private LocalDirectorySink local;
    private ScriptedSink sink;
    private final List<BackupManifest> made = new ArrayList<>();

    @BeforeEach
    void tenDailyBackups() throws Exception {
        local = LocalDirectorySink.create(dir);
        sink = new ScriptedSink(local);
        for (int day = 22; day <= 31; day++) {
            Instant at = Instant.parse(String.format("2026-03-%02dT02:00:00Z", day));
            made.add(BackupPipeline.builder()
                    .source(new GeneratedSource("database", 1000, day))
                    .sink(sink)
                    .unencrypted()
                    .clock(Clock.fixed(at, ZoneOffset.UTC))
                    .build()
                    .run());
        }
    }

    private Pruner pruner() {
        return Pruner.builder()
                .sink(sink)
                .policy(Retention.builder().keepLast(3).build())
                .clock(Clock.fixed(NOW, ZoneOffset.UTC))
                .build();
    }

    private void orphan(String key, Instant lastWritten) throws Exception {
        try (SinkOutput out = local.create(key)) {
            out.write(new byte[] {1, 2, 3});
            out.commit();
        }
        Files.setLastModifiedTime(local.pathOf(key), FileTime.from(lastWritten));
    }

    @Test
    void aDryRunDeletesNothingAndSaysWhatWouldGoAndWhy() throws Exception {
        Pruner.PruneReport report = pruner().prune("database", true);
        assertThat(report.dryRun()).isTrue();
        assertThat(report.deleted())
                .hasSize(7)
                .contains(made.get(0).objectKey())
                .doesNotContain(made.get(9).objectKey());
        assertThat(report.verdicts())
                .filteredOn(v -> !v.keep())
                .allSatisfy(v -> assertThat(v.reason()).contains("no rule keeps it"));
        assertThat(local.list("")).hasSize(30);
    }

    @Test
    void deletesManifestFirstThenSidecarThenDataAndKeepsTheNewest() throws Exception {
        Pruner.PruneReport report = pruner().prune("database", false);
        assertThat(report.deleted()).hasSize(7);
        List<String> deletes =
                sink.events().stream().filter(e -> e.startsWith("delete ")).toList();
        assertThat(deletes).hasSize(28); // the manifest's signature is deleted too (absent here: unencrypted)
        for (int i = 0; i < deletes.size(); i += 4) {
            String data = deletes.get(i + 3).substring("delete ".length());
            assertThat(deletes.subList(i, i + 4))
                    .containsExactly(
                            "delete " + data + ".manifest.json",
                            "delete " + data + ".manifest.json.sig",
                            "delete " + data + ".sha256",
                            "delete " + data);
        }
        assertThat(StoredBackups.of(local).committed("database"))
                .extracting(BackupManifest::objectKey)
                .containsExactly(
                        made.get(9).objectKey(),
                        made.get(8).objectKey(),
                        made.get(7).objectKey());
        assertThat(local.list("")).hasSize(9);
    }

    @Test
    void aCheckBeforeDeletingThatThrowsEndsThePruneThere() throws Exception {
        java.util.concurrent.atomic.AtomicInteger asked = new java.util.concurrent.atomic.AtomicInteger();
        Pruner stopping = Pruner.builder()
                .sink(sink)
                .policy(Retention.builder().keepLast(3).build())
                .clock(Clock.fixed(NOW, ZoneOffset.UTC))
                .beforeDeleting(() -> {
                    if (asked.incrementAndGet() > 2) {
                        throw new IllegalStateException("lost the lock");
                    }
                })
                .build();
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> stopping.prune("database", false))
                .isInstanceOf(IllegalStateException.class)
                .hasMessage("lost the lock");
        assertThat(asked).hasValue(3);
        assertThat(local.list("")).hasSize(30 - 2 * 3); // two backups deleted whole, then nothing
        assertThat(pruner().prune("database", true).deleted()).hasSize(5);
        stopping.prune("database", true); // a dry run deletes nothing, so asks nothing
        assertThat(asked).hasValue(3);
    }

    @Test
    void orphansOfFailedRunsGoOnlyAfterTheGracePeriod() throws Exception {
        orphan("database/db_backup_20260301_020000.sql", NOW.minusSeconds(3 * 86_400)); // a failed run
        orphan("database/db_backup_20260302_020000.sql.sha256", NOW.minusSeconds(3 * 86_400)); // half deleted
        orphan("database/db_backup_20260331_110000.sql", NOW.minusSeconds(3600)); // maybe running
        Pruner.PruneReport dry = pruner().prune("database", true);
        assertThat(dry.orphansDeleted())
                .containsExactly(
                        "database/db_backup_20260301_020000.sql", "database/db_backup_20260302_020000.sql.sha256");
        assertThat(dry.orphansTooYoung()).containsExactly("database/db_backup_20260331_110000.sql");
        assertThat(local.list("")).hasSize(33);

        pruner().prune("database", false);
        assertThat(local.list(""))
                .extracting(StoredObject::key)
                .contains("database/db_backup_20260331_110000.sql")
                .doesNotContain(
                        "database/db_backup_20260301_020000.sql", "database/db_backup_20260302_020000.sql.sha256")
                .hasSize(10);
    }

    @Test
    void temporaryFilesOfKilledWritersGoOnlyAfterTheGracePeriod() throws Exception {
        SinkOutput killed = local.create("database/db_backup_20260301_020000.sql"); // never committed nor closed
        killed.write(new byte[] {1, 2, 3});
        SinkOutput running = local.create("database/db_backup_20260331_110000.sql");
        running.write(new byte[] {4});
        Path killedFile = local.temporaryFiles().stream()
                .filter(p -> p.getFileName().toString().contains("20260301"))
                .findFirst()
                .orElseThrow();
        Files.setLastModifiedTime(killedFile, FileTime.from(NOW.minusSeconds(3 * 86_400)));
        Files.setLastModifiedTime(
                local.temporaryFiles().stream()
                        .filter(p -> !p.equals(killedFile))
                        .findFirst()
                        .orElseThrow(),
                FileTime.from(NOW.minusSeconds(60)));

        Pruner.PruneReport dry = pruner().prune("database", true);
        assertThat(dry.partialWritesDiscarded())
                .extracting(w -> w.key())
                .containsExactly("database/db_backup_20260301_020000.sql");
        assertThat(dry.partialWritesDiscarded().get(0).id()).isEqualTo("database/" + killedFile.getFileName());
        assertThat(dry.partialWritesTooYoung())
                .extracting(w -> w.key())
                .containsExactly("database/db_backup_20260331_110000.sql");
        assertThat(pruner().prune("files", true).partialWritesDiscarded()).isEmpty();
        assertThat(killedFile).exists();

        pruner().prune("database", false);
        assertThat(killedFile).doesNotExist();
        assertThat(local.temporaryFiles()).hasSize(1);
        running.commit();
        running.close();
        assertThat(local.list("database/db_backup_20260331_110000.sql")).hasSize(1);
    }

    @Test
    void aBackupWhoseNameContainsTheRecordInfixIsABackupNotARecordAndNotAnOrphan() throws Exception {
        // a custom naming may put ".verified-" in an id; its manifest ends with .json, like a verification record
        BackupManifest odd = BackupPipeline.builder()
                .source(new GeneratedSource("database", 1000, 99))
                .sink(sink)
                .naming((s, t) -> "customers.verified-accounts_20260331")
                .unencrypted()
                .clock(Clock.fixed(NOW.minusSeconds(60), ZoneOffset.UTC))
                .build()
                .run();
        assertThat(StoredBackups.of(local).committed("database"))
                .extracting(BackupManifest::objectKey)
                .first()
                .isEqualTo(odd.objectKey());

        // long after the grace period: nothing of a committed backup is an orphan
        Pruner.PruneReport report = Pruner.builder()
                .sink(sink)
                .policy(Retention.builder().keepLast(20).build())
                .clock(Clock.fixed(Instant.now().plusSeconds(30 * 86_400), ZoneOffset.UTC))
                .build()
                .prune("database", false);
        assertThat(report.orphansDeleted()).isEmpty();
        assertThat(local.list(odd.objectKey()))
                .extracting(StoredObject::key)
                .contains(odd.objectKey(), odd.manifestKey(), odd.sha256Key());
    }

    @Test
    void theNewestBackupThatVerifiedGoodIsKeptWhateverManifestObjectsAPolicyReturns() throws Exception {
        BackupVerifier.builder()
                .sink(local)
                .clock(Clock.fixed(NOW, ZoneOffset.UTC))
                .build()
                .verify(made.get(5).objectKey(), false);
        // a policy of one's own that keeps only the newest and hands back equal, not identical, manifests
        RetentionPolicy copying = (backups, clock) -> backups.stream()
                .map(m -> new RetentionPolicy.Verdict(
                        BackupManifest.fromJson(m.toJson(), m.manifestKey()), m == backups.get(0), "mine"))
                .toList();
        Pruner.PruneReport report = Pruner.builder()
                .sink(sink)
                .policy(copying)
                .clock(Clock.fixed(NOW, ZoneOffset.UTC))
                .build()
                .prune("database", false);
        assertThat(report.deleted()).hasSize(8).doesNotContain(made.get(5).objectKey());
        assertThat(StoredBackups.of(local).committed("database"))
                .extracting(BackupManifest::objectKey)
                .containsExactly(made.get(9).objectKey(), made.get(5).objectKey());
    }

    @Test
    void aBackupWhoseDeepVerificationFailedIsNotTheNewestVerifiedGoodBecauseAQuickOnePassedLater() throws Exception {
        Instant t = NOW.minus(java.time.Duration.ofHours(3));
        java.util.function.IntFunction<BackupVerifier> at = h -> BackupVerifier.builder()
                .sink(local)
                .clock(Clock.fixed(t.plus(java.time.Duration.ofHours(h)), ZoneOffset.UTC))
                .build();
        at.apply(0).verify(made.get(5).objectKey(), true);
        Path seven = dir.resolve(made.get(7).objectKey());
        byte[] intact = Files.readAllBytes(seven);
        byte[] damaged = intact.clone();
        damaged[100] ^= 0x01;
        Files.write(seven, damaged);
        org.assertj.core.api.Assertions.assertThatThrownBy(
                        () -> at.apply(1).verify(made.get(7).objectKey(), true))
                .isInstanceOf(com.jiffoo.backup.IntegrityException.class);
        Files.write(seven, intact);
        at.apply(2).verify(made.get(7).objectKey(), false);

        RetentionPolicy newestOnly = (backups, clock) -> backups.stream()
                .map(m -> new RetentionPolicy.Verdict(m, m == backups.get(0), "mine"))
                .toList();
        Pruner.PruneReport report = Pruner.builder()
                .sink(sink)
                .policy(newestOnly)
                .clock(Clock.fixed(NOW, ZoneOffset.UTC))
                .build()
                .prune("database", false);
        assertThat(report.deleted())
                .contains(made.get(7).objectKey())
                .doesNotContain(made.get(5).objectKey());
        assertThat(StoredBackups.of(local).committed("database"))
                .extracting(BackupManifest::objectKey)
                .containsExactly(made.get(9).objectKey(), made.get(5).objectKey());
    }

    @Test
    void anEmptyKindIsNothingToDo() {
        Pruner.PruneReport report = pruner().prune("files", false);
        assertThat(report.verdicts()).isEmpty();
        assertThat(report.deleted()).isEmpty();
    }
}

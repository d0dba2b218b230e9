package com.jiffoo.backup.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.jiffoo.backup.BackupPipeline;
import com.jiffoo.backup.crypto.OpenPgpTransform;
import com.jiffoo.backup.crypto.PassphraseKeyFile;
import com.jiffoo.backup.files.DirectorySource;
import com.jiffoo.backup.store.LocalDirectorySink;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code prune} with the real jar over a store holding backups written through the library with old clocks:
 * RETENTION_DAYS decides, a dry run deletes nothing, and the newest backup survives any rule.
 */
class PruneIT {
    @TempDir
    Path dir;

    @Test
    void retentionDaysDeletesOlderBackupsAfterADryRunShowedWhich() throws Exception {
        Path store = dir.resolve("store");
        Path src = dir.resolve("uploads");
        Files.createDirectories(store);
        Files.createDirectories(src);
        Files.writeString(src.resolve("a.txt"), "a");
        Path key = dir.resolve("backup.key");
        PassphraseKeyFile pass = PassphraseKeyFile.generate(key);
        Instant now = Instant.now();
        List<String> old = new ArrayList<>();
        List<String> recent = new ArrayList<>();
        try (LocalDirectorySink sink = LocalDirectorySink.create(store)) {
            for (int daysAgo : new int[] {90, 45, 31, 10, 1}) {
                Clock clock = Clock.fixed(now.minus(Duration.ofDays(daysAgo)), ZoneOffset.UTC);
                String k = BackupPipeline.builder()
                        .source(DirectorySource.builder(src).build())
                        .encryption(OpenPgpTransform.builder().passphrase(pass).build())
                        .sink(sink)
                        .clock(clock)
                        .build()
                        .run()
                        .objectKey();
                (daysAgo > 30 ? old : recent).add(k);
            }
        }
        Map<String, String> env =
                Map.of("BACKUP_DIR", store.toString(), "RETENTION_DAYS", "30", "ENCRYPTION_KEY_FILE", key.toString());

        Jar.Run dry = Jar.run(dir, env, "prune", "--dry-run", "--json");
        assertThat(dry.exitCode()).as(dry.toString()).isZero();
        JsonNode files = dry.json().get("kinds").get(1);
        assertThat(files.get("kind").asText()).isEqualTo("files");
        assertThat(files.get("deleted")).extracting(JsonNode::asText).containsExactlyInAnyOrderElementsOf(old);
        for (String k : old) {
            assertThat(store.resolve(k + ".manifest.json")).as("dry run").exists();
        }

        Jar.Run prune = Jar.run(dir, env, "prune");
        assertThat(prune.exitCode()).as(prune.toString()).isZero();
        assertThat(prune.stdout()).contains("deleted").contains("within 30d");
        for (String k : old) {
            assertThat(store.resolve(k)).doesNotExist();
            assertThat(store.resolve(k + ".manifest.json")).doesNotExist();
        }
        for (String k : recent) {
            assertThat(store.resolve(k + ".manifest.json")).exists();
        }

        Jar.Run flagWins = Jar.run(dir, env, "prune", "--retention-days", "0", "--keep-last", "1", "--json");
        assertThat(flagWins.exitCode()).as(flagWins.toString()).isZero();
        assertThat(flagWins.json().get("kinds").get(1).get("kept"))
                .extracting(JsonNode::asText)
                .containsExactly(recent.get(recent.size() - 1));

        Jar.Run none = Jar.run(dir, Map.of("BACKUP_DIR", store.toString(), "RETENTION_DAYS", "0"), "prune");
        assertThat(none.exitCode()).as(none.toString()).isEqualTo(2);
        assertThat(none.stderr()).contains("RETENTION_DAYS");
    }

    @Test
    void aBackupDatedInTheFutureMakesPruneRefuseUntilAllowedAndCountsForNoRule() throws Exception {
        // the first backup ran on a host whose clock was six days ahead: dated three days from now, and authentic
        List<String> keys = StoreEdits.filesBackups(dir, Duration.ofDays(-3), Duration.ofDays(2), Duration.ofDays(1));
        Path store = dir.resolve("store");
        String future = keys.get(0);
        Map<String, String> env = Map.of(
                "BACKUP_DIR",
                store.toString(),
                "ENCRYPTION_KEY_FILE",
                dir.resolve("backup.key").toString());

        Jar.Run refused = Jar.run(dir, env, "prune", "--kind", "files", "--retention-days", "0", "--keep-last", "1");
        assertThat(refused.exitCode()).as(refused.toString()).isEqualTo(5);
        assertThat(refused.stderr())
                .contains("dated in the future")
                .contains(future + ".manifest.json")
                .contains("--allow-future-dated")
                .contains("Nothing was deleted");
        for (String k : keys) {
            assertThat(store.resolve(k + ".manifest.json"))
                    .as("refused: nothing deleted")
                    .exists();
        }

        Jar.Run dry =
                Jar.run(dir, env, "prune", "--kind", "files", "--retention-days", "0", "--keep-last", "1", "--dry-run");
        assertThat(dry.exitCode()).as(dry.toString()).isZero();
        assertThat(dry.stdout()).contains("dated in the future: " + future + ".manifest.json");

        Jar.Run allowed = Jar.run(
                dir,
                env,
                "prune",
                "--kind",
                "files",
                "--retention-days",
                "0",
                "--keep-last",
                "1",
                "--allow-future-dated",
                "--json");
        assertThat(allowed.exitCode()).as(allowed.toString()).isZero();
        JsonNode files = allowed.json().get("kinds").get(0);
        assertThat(files.get("kept")).extracting(JsonNode::asText).containsExactly(future, keys.get(2));
        assertThat(files.get("deleted")).extracting(JsonNode::asText).containsExactly(keys.get(1));

        Jar.Run tolerant = Jar.run(
                dir,
                Map.of(
                        "BACKUP_DIR",
                        store.toString(),
                        "CLOCK_SKEW_TOLERANCE_MINUTES",
                        "x",
                        "ENCRYPTION_KEY_FILE",
                        dir.resolve("backup.key").toString()),
                "prune",
                "--kind",
                "files");
        assertThat(tolerant.exitCode()).as(tolerant.toString()).isEqualTo(2);
        assertThat(tolerant.stderr()).contains("CLOCK_SKEW_TOLERANCE_MINUTES");
    }

    @Test
    void aDamagedNewestBackupIsReportedAndTheNewestIntactOneIsKept() throws Exception {
        List<String> keys = StoreEdits.filesBackups(dir, Duration.ofDays(3), Duration.ofDays(2), Duration.ofDays(1));
        Path store = dir.resolve("store");
        String damaged = keys.get(2);
        StoreEdits.damage(store.resolve(damaged), Files.size(store.resolve(damaged)) / 2);
        Map<String, String> env = Map.of(
                "BACKUP_DIR",
                store.toString(),
                "ENCRYPTION_KEY_FILE",
                dir.resolve("backup.key").toString());

        Jar.Run prune = Jar.run(dir, env, "prune", "--kind", "files", "--retention-days", "0", "--keep-last", "1");
        assertThat(prune.exitCode()).as(prune.toString()).isZero();
        assertThat(prune.stdout())
                .contains("DAMAGED " + damaged)
                .contains("does not match")
                .contains("newest backup that passed the intact check");
        assertThat(store.resolve(keys.get(0) + ".manifest.json")).doesNotExist();
        assertThat(store.resolve(damaged + ".manifest.json"))
                .as("kept and reported")
                .exists();
        assertThat(store.resolve(keys.get(1) + ".manifest.json"))
                .as("the newest intact backup")
                .exists();

        Jar.Run verify = Jar.run(dir, env, "verify", "--deep", keys.get(1));
        assertThat(verify.exitCode()).as(verify.toString()).isZero();
    }
}

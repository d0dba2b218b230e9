package com.jiffoo.backup.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.jiffoo.backup.testing.WebhookServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code drill files} through the real launcher on a real directory tree and a local store: a healthy backup passes
 * (file count and bytes as the manifest, the hashed sample recorded at backup time, which sha256sum confirms on the
 * source files, matches the restored files; the report stored; the scratch directory gone); a backup damaged with dd
 * fails with exit 12, alerts the webhook and leaves no scratch; a drill stopped with SIGTERM mid-restore removes its
 * scratch directory.
 */
class FilesDrillIT {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    private Map<String, String> env(Path source) throws Exception {
        Files.createDirectories(dir.resolve("store"));
        Path key = dir.resolve("backup.key");
        if (!Files.exists(key)) {
            Jar.Run keygen = Jar.run(dir, Map.of(), "keygen", key.toString());
            assertThat(keygen.exitCode()).as(keygen.toString()).isZero();
        }
        Map<String, String> env = new HashMap<>();
        env.put("ENCRYPTION_KEY_FILE", key.toString());
        env.put("BACKUP_DIR", dir.resolve("store").toString());
        env.put("SOURCE_DIR", source.toString());
        return env;
    }

    /** A tree of 60 files in nested directories, an empty file and an empty directory, written by the shell. */
    private Path tree() throws Exception {
        Path src = Files.createDirectories(dir.resolve("uploads"));
        Jar.Run sh = Jar.exec(
                dir,
                Map.of(),
                List.of(
                        "sh",
                        "-c",
                        "cd '" + src + "' && for d in a a/b c; do mkdir -p $d; done && mkdir empty && : > a/zero"
                                + " && for i in $(seq 1 59); do head -c $((i * 997)) /dev/urandom >"
                                + " $( [ $((i % 3)) = 0 ] && echo a/b || ([ $((i % 3)) = 1 ] && echo a || echo c))/f$i.bin;"
                                + " done"));
        assertThat(sh.exitCode()).as(sh.toString()).isZero();
        return src;
    }

    private Path backup(Map<String, String> env) {
        Jar.Run backup = Jar.run(dir, env, "backup", "files", "--json");
        assertThat(backup.exitCode()).as(backup.toString()).isZero();
        return Path.of(env.get("BACKUP_DIR")).resolve(backup.json().get("key").asText());
    }

    private static List<Path> children(Path d) throws Exception {
        try (Stream<Path> s = Files.list(d)) {
            return s.toList();
        }
    }

    @Test
    void aHealthyFilesBackupPassesItsSampleMatchesSha256sumAndTheScratchIsRemoved() throws Exception {
        Path src = tree();
        Map<String, String> env = env(src);
        Path data = backup(env);
        // the sample the manifest records: 20 files, their SHA-256 as sha256sum computes it on the source
        JsonNode manifest = JSON.readTree(Files.readAllBytes(Path.of(data + ".manifest.json")));
        JsonNode sample = manifest.get("source").get("facts").get("sampleSha256");
        assertThat(sample).hasSize(20);
        JsonNode first = sample.get(0);
        Jar.Run sum = Jar.exec(
                dir,
                Map.of(),
                List.of("sha256sum", src.resolve(first.get("path").asText()).toString()));
        assertThat(sum.stdout()).startsWith(first.get("sha256").asText() + " ");
        assertThat(Files.size(Path.of(data + ".manifest.json"))).isLessThan(8 * 1024);

        Path scratch = Files.createDirectories(dir.resolve("scratch"));
        Path log = dir.resolve("drills.md");
        Jar.Run drill = Jar.run(
                dir,
                env,
                "drill",
                "files",
                "--scratch-dir",
                scratch.toString(),
                "--report-file",
                log.toString(),
                "--json");
        assertThat(drill.exitCode()).as(drill.toString()).isZero();
        JsonNode report = drill.json().get("drill");
        assertThat(report.get("kind").asText()).isEqualTo("files");
        assertThat(report.get("outcome").asText()).isEqualTo("passed");
        assertThat(report.get("checks").toString())
                .contains("60 file(s), " + (997L * 59 * 60 / 2) + " byte(s), as the manifest records")
                .contains("20 sampled file(s) have the SHA-256 recorded at backup time");
        assertThat(report.get("scratch").asText()).contains(scratch.toString() + "/jiffoo_drill_files_");
        assertThat(children(scratch)).as("the scratch directory is removed").isEmpty();
        assertThat(Files.readString(log)).contains("files drill: PASSED").contains("| sample-hashes | passed |");
        assertThat(Path.of(env.get("BACKUP_DIR"))
                        .resolve(drill.json().get("record").get("key").asText()))
                .exists();
    }

    @Test
    void aBackupDamagedWithDdFailsAlertsAndLeavesNoScratch() throws Exception {
        Map<String, String> env = env(tree());
        Path data = backup(env);
        Jar.Run dd = Jar.exec(
                dir,
                Map.of(),
                List.of(
                        "dd",
                        "if=/dev/zero",
                        "of=" + data,
                        "bs=1",
                        "seek=2000",
                        "count=64",
                        "conv=notrunc",
                        "status=none"));
        assertThat(dd.exitCode()).as(dd.toString()).isZero();
        Path scratch = Files.createDirectories(dir.resolve("scratch"));
        try (WebhookServer slack = WebhookServer.start()) {
            env.put("SLACK_WEBHOOK_URL", slack.url());
            Jar.Run drill = Jar.run(dir, env, "drill", "files", "--scratch-dir", scratch.toString(), "--json");
            assertThat(drill.exitCode()).as(drill.toString()).isEqualTo(12);
            JsonNode check = drill.json().get("drill").get("checks").get(0);
            assertThat(check.get("name").asText()).isEqualTo("restore");
            assertThat(check.get("status").asText()).isEqualTo("failed");
            assertThat(check.get("detail").asText()).startsWith("INTEGRITY");
            assertThat(slack.bodies()).hasSize(1);
            assertThat(slack.bodies().get(0)).contains("files restore drill FAILED");
        }
        assertThat(children(scratch)).as("no scratch directory is left").isEmpty();
    }

    @Test
    void aDrillStoppedWithSigtermMidRestoreRemovesItsScratch() throws Exception {
        Path src = Files.createDirectories(dir.resolve("big"));
        Jar.Run big =
                Jar.exec(dir, Map.of(), List.of("sh", "-c", "head -c 150000000 /dev/urandom > '" + src + "/big.bin'"));
        assertThat(big.exitCode()).as(big.toString()).isZero();
        Map<String, String> env = env(src);
        backup(env);
        Path scratch = Files.createDirectories(dir.resolve("scratch"));
        Jar.Started started = Jar.start(dir, env, "drill", "files", "--scratch-dir", scratch.toString());
        Path made = null;
        for (int i = 0; i < 600 && made == null; i++) {
            List<Path> now = children(scratch);
            if (!now.isEmpty()) {
                made = now.get(0);
            } else {
                Thread.sleep(50);
            }
        }
        assertThat(made).as("the drill created its scratch directory").isNotNull();
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(made)))
                .isEqualTo("rwx------");
        // into the restore: the big file is there, partly written (a fixed sleep could outlast a fast machine's drill)
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!partlyRestored(made, 150_000_000L) && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        assertThat(started.process().isAlive())
                .as("the drill still runs when its restore is under way")
                .isTrue();
        started.process().destroy(); // SIGTERM
        Jar.Run r = started.await();
        assertThat(r.exitCode()).as("stopped, not finished: " + r).isNotZero();
        assertThat(children(scratch))
                .as("the shutdown hook removed " + made + ": " + r)
                .isEmpty();
    }

    /** Whether a regular file below {@code dir} holds more than nothing and less than {@code size} bytes. */
    private static boolean partlyRestored(Path dir, long size) throws java.io.IOException {
        try (var files = Files.walk(dir)) {
            return files.anyMatch(f -> {
                try {
                    long n = Files.isRegularFile(f) ? Files.size(f) : 0;
                    return n > 0 && n < size;
                } catch (java.io.IOException e) {
                    return false; // renamed or removed while walked
                }
            });
        } catch (java.io.UncheckedIOException | java.nio.file.NoSuchFileException e) {
            return false;
        }
    }
}

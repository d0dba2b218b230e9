package com.jiffoo.backup.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.jiffoo.backup.BackupPipeline;
import com.jiffoo.backup.crypto.OpenPgpTransform;
import com.jiffoo.backup.crypto.PassphraseKeyFile;
import com.jiffoo.backup.files.DirectorySource;
import com.jiffoo.backup.store.LocalDirectorySink;
import com.jiffoo.backup.testing.WebhookServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code monitor} with the real jar: a stale store exits CRITICAL and Slack (a local webhook server) receives the
 * alert; after a fresh backup and {@code --verify} it exits 0 and Slack receives the recovery; without a verification
 * it warns; a webhook that is down does not change the exit code.
 */
class MonitorIT {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    @Test
    void aStaleStoreAlertsSlackAndExitsCriticalThenRecovers() throws Exception {
        Path store = Files.createDirectories(dir.resolve("store"));
        Path uploads = Files.createDirectories(dir.resolve("uploads"));
        Files.writeString(uploads.resolve("a.txt"), "a");
        Path key = dir.resolve("backup.key");
        PassphraseKeyFile pass = PassphraseKeyFile.generate(key);
        try (LocalDirectorySink sink = LocalDirectorySink.create(store)) {
            BackupPipeline.builder()
                    .source(DirectorySource.builder(uploads).build())
                    .encryption(OpenPgpTransform.builder().passphrase(pass).build())
                    .sink(sink)
                    .clock(Clock.fixed(Instant.now().minus(Duration.ofHours(27)), ZoneOffset.UTC))
                    .build()
                    .run();
        }
        try (WebhookServer slack = WebhookServer.start()) {
            Map<String, String> env = new HashMap<>(Map.of(
                    "BACKUP_DIR",
                    store.toString(),
                    "ENCRYPTION_KEY_FILE",
                    key.toString(),
                    "SOURCE_DIR",
                    uploads.toString(),
                    "SLACK_WEBHOOK_URL",
                    slack.url()));

            Jar.Run stale = Jar.run(dir, env, "monitor", "--kind", "files");
            assertThat(stale.exitCode()).as(stale.toString()).isEqualTo(MonitorCommand.EXIT_CRITICAL);
            assertThat(stale.stdout())
                    .contains("files: CRITICAL")
                    .containsPattern("27h [01]m ago")
                    .contains("alert: Slack webhook (127.0.0.1): sent");
            assertThat(slack.bodies()).hasSize(1);
            JsonNode alert = JSON.readTree(slack.bodies().get(0));
            assertThat(alert.get("text").asText()).contains("CRITICAL").contains(store.toString());
            assertThat(alert.get("blocks").get(1).get("text").get("text").asText())
                    .contains("files: CRITICAL")
                    .contains("backups have stopped");
            assertThat(stale.all()).doesNotContain(WebhookServer.PATH);

            Jar.Run backup = Jar.run(dir, env, "backup", "files");
            assertThat(backup.exitCode()).as(backup.toString()).isZero();

            Jar.Run unverified = Jar.run(dir, env, "monitor", "--kind", "files", "--json");
            assertThat(unverified.exitCode()).as(unverified.toString()).isEqualTo(MonitorCommand.EXIT_WARNING);
            JsonNode report = unverified.json().get("report");
            assertThat(report.get("status").asText()).isEqualTo("WARNING");
            assertThat(report.get("kinds").get(0).get("keyCheck").get("result").asText())
                    .isEqualTo("PASSED");
            assertThat(slack.bodies()).hasSize(2);

            Jar.Run healthy = Jar.run(dir, env, "monitor", "--kind", "files", "--verify");
            assertThat(healthy.exitCode()).as(healthy.toString()).isZero();
            assertThat(healthy.stdout())
                    .contains("deep verification of")
                    .contains("passed")
                    .contains("files: OK");
            assertThat(slack.bodies()).hasSize(3);
            assertThat(JSON.readTree(slack.bodies().get(2)).get("text").asText())
                    .contains("recovered");
            try (var files = Files.list(store.resolve("files"))) {
                assertThat(files.map(p -> p.getFileName().toString())).anyMatch(n -> n.contains(".verified-"));
            }

            Jar.Run list = Jar.run(dir, env, "list", "--kind", "files");
            assertThat(list.stdout()).contains("deep ok ");

            Jar.Run quiet = Jar.run(dir, env, "monitor", "--kind", "files");
            assertThat(quiet.exitCode()).as(quiet.toString()).isZero();
            assertThat(slack.bodies()).as("healthy twice: nothing to say").hasSize(3);

            Jar.Run bothKinds = Jar.run(dir, env, "monitor", "--freshness-only");
            assertThat(bothKinds.exitCode()).as(bothKinds.toString()).isEqualTo(MonitorCommand.EXIT_CRITICAL);
            assertThat(bothKinds.stdout()).contains("no database backup");
        }
    }

    @Test
    void aWebhookThatIsDownIsReportedAndTheExitCodeStillTellsTheHealth() throws Exception {
        Path store = Files.createDirectories(dir.resolve("store"));
        String url;
        try (WebhookServer slack = WebhookServer.start()) {
            url = slack.url();
        }
        Jar.Run run = Jar.run(
                dir,
                Map.of("BACKUP_DIR", store.toString(), "SLACK_WEBHOOK_URL", url),
                "monitor",
                "--json",
                "--allow-unauthenticated");
        assertThat(run.exitCode()).as(run.toString()).isEqualTo(MonitorCommand.EXIT_CRITICAL);
        JsonNode notes = run.json().get("report").get("notifications");
        assertThat(notes.get(0).asText()).contains("failed").contains("cannot reach");
        assertThat(run.all()).doesNotContain(WebhookServer.PATH).contains("could not send the CRITICAL alert");

        Jar.Run insecure = Jar.run(
                dir,
                Map.of(
                        "BACKUP_DIR",
                        store.toString(),
                        "SLACK_WEBHOOK_URL",
                        "http://hooks.slack.com/services/T1/B2/topsecret"),
                "monitor",
                "--allow-unauthenticated");
        assertThat(insecure.exitCode()).as(insecure.toString()).isEqualTo(2);
        assertThat(insecure.stderr()).contains("https");
        assertThat(insecure.all()).doesNotContain("topsecret");
    }

    @Test
    void aBackupDatedInTheFutureIsCriticalNeverFresh() throws Exception {
        // the last backup ran on a host whose clock was days ahead: its (authentic) manifest is dated two days
        // from now, and no backup has run since
        String edited = StoreEdits.filesBackups(dir, Duration.ofDays(-2)).get(0);
        Path store = dir.resolve("store");
        Map<String, String> env = Map.of(
                "BACKUP_DIR",
                store.toString(),
                "ENCRYPTION_KEY_FILE",
                dir.resolve("backup.key").toString());

        Jar.Run run = Jar.run(dir, env, "monitor", "--kind", "files", "--json");
        assertThat(run.exitCode()).as(run.toString()).isEqualTo(MonitorCommand.EXIT_CRITICAL);
        JsonNode problems = run.json().get("report").get("kinds").get(0).get("problems");
        assertThat(problems.toString())
                .contains("dated in the future")
                .contains(edited + ".manifest.json")
                .contains("no files backup dated in the past");

        Jar.Run text = Jar.run(dir, env, "monitor", "--kind", "files", "--freshness-only");
        assertThat(text.exitCode()).as(text.toString()).isEqualTo(MonitorCommand.EXIT_CRITICAL);
        assertThat(text.stdout()).contains("files: CRITICAL").contains("dated in the future");

        Jar.Run tolerant = Jar.run(
                dir,
                env,
                "monitor",
                "--kind",
                "files",
                "--freshness-only",
                "--clock-skew-tolerance",
                String.valueOf(3 * 24 * 60));
        assertThat(tolerant.stdout()).doesNotContain("dated in the future");
    }

    /**
     * A deep verification finds the newest backup damaged; the bytes are put back (from a copy, say) and the nightly
     * quick verification passes. That quick pass checks less: `list` still shows the failed deep verification and
     * the monitor stays CRITICAL until a deep verification passes.
     */
    @Test
    void aPassingQuickVerificationDoesNotHideAFailedDeepOneInListOrMonitor() throws Exception {
        Path store = Files.createDirectories(dir.resolve("store"));
        Path uploads = Files.createDirectories(dir.resolve("uploads"));
        RunbookFixture.writeRandom(uploads.resolve("a.bin"), 1, 3);
        Path key = dir.resolve("backup.key");
        PassphraseKeyFile.generate(key);
        Map<String, String> env = Map.of(
                "BACKUP_DIR",
                store.toString(),
                "ENCRYPTION_KEY_FILE",
                key.toString(),
                "SOURCE_DIR",
                uploads.toString());
        Jar.Run backup = Jar.run(dir, env, "backup", "files", "--json");
        assertThat(backup.exitCode()).as(backup.toString()).isZero();
        Path object = store.resolve(backup.json().get("key").asText());
        Path copy = dir.resolve("copy-of-the-object");
        Files.copy(object, copy);

        python("f = open('" + object + "', 'r+b'); f.seek(500000); b = f.read(1); f.seek(500000);"
                + " f.write(bytes([b[0] ^ 0x10])); f.close()");
        Jar.Run deep = Jar.run(dir, env, "verify", "--deep", "--latest");
        assertThat(deep.exitCode()).as(deep.toString()).isEqualTo(5);
        python("import shutil; shutil.copyfile('" + copy + "', '" + object + "')"); // put back
        Jar.Run quick = Jar.run(dir, env, "verify", "--latest");
        assertThat(quick.exitCode()).as(quick.toString()).isZero();

        Jar.Run list = Jar.run(dir, env, "list", "--kind", "files");
        assertThat(list.exitCode()).as(list.toString()).isZero();
        assertThat(list.stdout()).as(list.toString()).contains("FAILED deep ").doesNotContain("quick ok");
        Jar.Run check = Jar.run(dir, env, "list", "--kind", "files", "--check");
        assertThat(check.exitCode()).as(check.toString()).isEqualTo(5);
        assertThat(check.stdout()).contains("FAILED deep ").contains("(quick ok now)");
        assertThat(check.stderr()).contains("verify --deep");
        Jar.Run monitor = Jar.run(dir, env, "monitor", "--kind", "files");
        assertThat(monitor.exitCode()).as(monitor.toString()).isEqualTo(MonitorCommand.EXIT_CRITICAL);
        assertThat(monitor.stdout())
                .contains("failed its last deep verification")
                .contains("A later quick verification passed");

        Jar.Run deepAgain = Jar.run(dir, env, "verify", "--deep", "--latest");
        assertThat(deepAgain.exitCode()).as(deepAgain.toString()).isZero();
        assertThat(Jar.run(dir, env, "list", "--kind", "files").stdout())
                .contains("deep ok ")
                .doesNotContain("FAILED");
        Jar.Run healthy = Jar.run(dir, env, "monitor", "--kind", "files");
        assertThat(healthy.exitCode()).as(healthy.toString()).isZero();
    }

    private void python(String code) {
        Jar.Run r = Jar.exec(dir, Map.of(), java.util.List.of("python3", "-c", code));
        assertThat(r.exitCode()).as(r.toString()).isZero();
    }
}

package com.jiffoo.backup.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.jiffoo.backup.BackupPipeline;
import com.jiffoo.backup.crypto.OpenPgpTransform;
import com.jiffoo.backup.crypto.PassphraseKeyFile;
import com.jiffoo.backup.files.DirectorySource;
import com.jiffoo.backup.postgres.PgTestServer;
import com.jiffoo.backup.postgres.ShopSchema;
import com.jiffoo.backup.store.LocalDirectorySink;
import com.jiffoo.backup.testing.WebhookServer;
import com.jiffoo.backup.testing.s3.S3ProxyServer;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Copies in other stores, with the real jar: two S3Proxy servers as two regions (each with its own credentials, given
 * as AWS profiles) and a local directory. The primary is {@code S3_BUCKET} (credentials from
 * {@code AWS_ACCESS_KEY_ID}), the second region {@code BACKUP_COPIES} ({@code ?profile=west}), the local copy
 * {@code BACKUP_DIR} (the runbook's case of both set).
 */
class CopiesIT {
    @TempDir
    Path dir;

    private S3ProxyServer east;
    private S3ProxyServer west;
    private Path local;

    @BeforeEach
    void start() throws Exception {
        east = S3ProxyServer.startFilesystem(dir.resolve("east-data"));
        west = S3ProxyServer.startFilesystem(dir.resolve("west-data"));
        local = Files.createDirectories(dir.resolve("local"));
    }

    @AfterEach
    void stop() throws Exception {
        east.close();
        west.close();
    }

    private String eastStore() {
        return "s3://" + east.bucket() + "/prod";
    }

    private String westStore() {
        return "s3://" + west.bucket() + "/prod?endpoint=" + west.endpoint() + "&region=eu-west-1&profile=west";
    }

    /** The settings of the three stores, and a source directory of {@code mib} MiB (random: it does not compress). */
    private Map<String, String> env(int mib) throws IOException {
        Path uploads = dir.resolve("uploads");
        if (!Files.exists(uploads)) {
            Files.createDirectories(uploads.resolve("2026"));
            Random random = new Random(15);
            byte[] chunk = new byte[1 << 20];
            try (OutputStream out = Files.newOutputStream(uploads.resolve("2026/photos.bin"))) {
                for (int i = 0; i < mib; i++) {
                    random.nextBytes(chunk);
                    out.write(chunk);
                }
            }
            Files.writeString(uploads.resolve("notes.txt"), "hello");
        }
        Path key = dir.resolve("backup.key");
        if (!Files.exists(key)) {
            RunbookFixture.keyFile(dir);
        }
        // the second region's credentials are a profile, as on a host with two AWS accounts
        Path credentials = dir.resolve("aws-credentials");
        Files.writeString(
                credentials,
                "[west]\naws_access_key_id = " + west.accessKey() + "\naws_secret_access_key = " + west.secretKey()
                        + "\n");
        Files.writeString(dir.resolve("aws-config"), "");
        Map<String, String> env = new HashMap<>();
        env.put("SOURCE_DIR", uploads.toString());
        env.put("ENCRYPTION_KEY_FILE", key.toString());
        env.put("S3_BUCKET", eastStore());
        env.put("S3_ENDPOINT", east.endpoint().toString());
        env.put("AWS_REGION", "us-east-1");
        env.put("AWS_ACCESS_KEY_ID", east.accessKey());
        env.put("AWS_SECRET_ACCESS_KEY", east.secretKey());
        env.put("AWS_SHARED_CREDENTIALS_FILE", credentials.toString());
        env.put("AWS_CONFIG_FILE", dir.resolve("aws-config").toString());
        env.put("BACKUP_COPIES", westStore());
        env.put("BACKUP_DIR", local.toString());
        return env;
    }

    /** The files under {@code root} whose path ends with {@code key} (an S3Proxy file store keeps keys as paths). */
    private static List<Path> stored(Path root, String key) throws IOException {
        try (Stream<Path> files = Files.walk(root)) {
            return files.filter(Files::isRegularFile)
                    .filter(p -> p.toString().endsWith("/" + key))
                    .toList();
        }
    }

    private static String sha256sum(Path file) {
        Jar.Run r = Jar.exec(file.getParent(), Map.of(), List.of("sha256sum", file.toString()));
        assertThat(r.exitCode()).as(r.toString()).isZero();
        return r.stdout().substring(0, 64);
    }

    @Test
    void aBackupIsCommittedInAllThreeStoresWithTheSameBytesWithinASmallHeap() throws Exception {
        Map<String, String> env = env(160);
        // the tee buffers nothing itself: two S3 stores' part buffers (4 x 8 MiB each) and the pipe fit in 128 MiB,
        // a buffered 160 MiB backup would not
        Map<String, String> small = new HashMap<>(env);
        small.put("JAVA_TOOL_OPTIONS", "-Xmx128m");
        Jar.Run backup = Jar.run(dir, small, "backup", "files", "--json");
        assertThat(backup.exitCode()).as(backup.toString()).isZero();
        JsonNode json = backup.json();
        String key = json.get("key").asText();
        List<String> statuses = new ArrayList<>();
        json.get("stores")
                .forEach(s -> statuses.add(
                        s.get("location").asText() + " " + s.get("status").asText()));
        assertThat(statuses)
                .containsExactly(
                        eastStore() + " committed",
                        westStore().replaceFirst("\\?.*", "") + " committed",
                        "file:" + local + " committed");

        // each store's data, sidecar and manifest: the same bytes (sha256sum), and the data matches the sidecar
        for (String k : List.of(key, key + ".sha256", key + ".manifest.json")) {
            List<Path> copies = new ArrayList<>();
            copies.addAll(stored(dir.resolve("east-data"), "prod/" + k));
            copies.addAll(stored(dir.resolve("west-data"), "prod/" + k));
            copies.add(local.resolve(k));
            assertThat(copies).as(k).hasSize(3);
            assertThat(copies.stream().map(CopiesIT::sha256sum).distinct())
                    .as(k)
                    .hasSize(1);
        }
        assertThat(Files.readString(local.resolve(key + ".sha256"))).startsWith(sha256sum(local.resolve(key)));
        assertThat(east.openMultipartUploads()).isEmpty();
        assertThat(west.openMultipartUploads()).isEmpty();

        Jar.Run list = Jar.run(dir, env, "list", "--json");
        assertThat(list.exitCode()).as(list.toString()).isZero();
        JsonNode row = list.json().get("backups").get(0);
        assertThat(row.get("key").asText()).isEqualTo(key);
        assertThat(row.get("stores")).hasSize(3);
        assertThat(list.json().get("backups")).hasSize(1); // listed once, with the stores that hold it
    }

    @Test
    void aServerStoppedMidRunFailsOnlyItsCopyAndTheRunExits11NamingIt() throws Exception {
        Map<String, String> env = env(160);
        Jar.Started run = Jar.start(dir, env, "backup", "files", "--json");
        long deadline = System.nanoTime() + 60_000_000_000L;
        while (west.openMultipartUploads().isEmpty()) {
            assertThat(System.nanoTime()).as("west's upload never started").isLessThan(deadline);
            assertThat(run.process().isAlive())
                    .as("the backup ended before west's upload began")
                    .isTrue();
            Thread.sleep(20);
        }
        west.close(); // the region goes away mid-upload
        Jar.Run backup = run.await();
        assertThat(backup.exitCode()).as(backup.toString()).isEqualTo(11);
        String westLocation = westStore().replaceFirst("\\?.*", "");
        assertThat(backup.stderr()).contains("FAILED in the store " + westLocation);
        JsonNode json = backup.json();
        assertThat(json.get("error").asText()).isEqualTo("PARTIAL");
        String key = json.get("key").asText();
        Map<String, String> status = new HashMap<>();
        json.get("stores")
                .forEach(s ->
                        status.put(s.get("location").asText(), s.get("status").asText()));
        assertThat(status)
                .containsEntry(eastStore(), "committed")
                .containsEntry("file:" + local, "committed")
                .containsEntry(westLocation, "failed");
        // the others committed whole
        assertThat(Files.readString(local.resolve(key + ".sha256"))).startsWith(sha256sum(local.resolve(key)));
        assertThat(stored(dir.resolve("east-data"), "prod/" + key + ".manifest.json"))
                .hasSize(1);
        // nothing of it looks committed in the stopped region: no data object, no sidecar, no manifest
        assertThat(stored(dir.resolve("west-data"), "prod/" + key)).isEmpty();
        assertThat(stored(dir.resolve("west-data"), "prod/" + key + ".sha256")).isEmpty();
        assertThat(stored(dir.resolve("west-data"), "prod/" + key + ".manifest.json"))
                .isEmpty();

        // the region is back (S3Proxy serves a new, empty bucket): `copy` catches it up from the primary
        west = S3ProxyServer.startFilesystem(dir.resolve("west-again"));
        env = env(160);
        Jar.Run copy = Jar.run(dir, env, "copy", "--from", eastStore(), "--to", westStore(), "--json");
        assertThat(copy.exitCode()).as(copy.toString()).isZero();
        assertThat(copy.json().get("copied").asInt()).isEqualTo(1);
        assertThat(copy.json().get("backups").get(0).get("key").asText()).isEqualTo(key);
        for (String k : List.of(key, key + ".sha256", key + ".manifest.json")) {
            List<Path> there = stored(dir.resolve("west-again"), "prod/" + k);
            assertThat(there).as(k).hasSize(1);
            assertThat(sha256sum(there.get(0))).as(k).isEqualTo(sha256sum(local.resolve(k)));
        }
    }

    @Test
    void aDamagedObjectInThePrimaryIsRestoredFromTheCopyWhichTheRestoreNames() throws Exception {
        Map<String, String> env = env(3);
        Jar.Run backup = Jar.run(dir, env, "backup", "files", "--json");
        assertThat(backup.exitCode()).as(backup.toString()).isZero();
        String key = backup.json().get("key").asText();
        // damage the primary's object behind the server, with dd: 64 bytes in the middle overwritten
        Path object = stored(dir.resolve("east-data"), "prod/" + key).get(0);
        long size = Files.size(object);
        Jar.Run dd = Jar.exec(
                dir,
                Map.of(),
                List.of(
                        "dd",
                        "if=/dev/urandom",
                        "of=" + object,
                        "bs=1",
                        "count=64",
                        "seek=" + size / 2,
                        "conv=notrunc",
                        "status=none"));
        assertThat(dd.exitCode()).as(dd.toString()).isZero();
        assertThat(Files.size(object)).isEqualTo(size);

        Path target = dir.resolve("restored");
        Jar.Run restore = Jar.run(dir, env, "restore", "files", "--latest", "--target", target.toString(), "--json");
        assertThat(restore.exitCode()).as(restore.toString()).isZero();
        JsonNode json = restore.json();
        String westLocation = westStore().replaceFirst("\\?.*", "");
        assertThat(json.get("store").asText()).isEqualTo(westLocation);
        assertThat(json.get("storeFailures").get(0).get("location").asText()).isEqualTo(eastStore());
        assertThat(json.get("storeFailures").get(0).get("error").asText()).isEqualTo("INTEGRITY");
        assertThat(restore.stderr()).contains("used the copy in " + westLocation);
        assertThat(Files.readAllBytes(target.resolve("2026/photos.bin")))
                .isEqualTo(Files.readAllBytes(dir.resolve("uploads/2026/photos.bin")));

        // verify says the same, and fails (exit 5): the primary's copy is damaged although the copy verifies
        Jar.Run verify = Jar.run(dir, env, "verify", "--latest", "--kind", "files", "--json");
        assertThat(verify.exitCode()).as(verify.toString()).isEqualTo(5);
        assertThat(verify.stderr())
                .contains("the copy in " + eastStore() + " is damaged (the copy in " + westLocation + " verified)");
    }

    @Test
    void aDamagedEncryptionHeaderInThePrimaryIsDamageNotAWrongKeyAndTheCopyServes() throws Exception {
        Map<String, String> env = env(3);
        Jar.Run backup = Jar.run(dir, env, "backup", "files", "--json");
        assertThat(backup.exitCode()).as(backup.toString()).isZero();
        String key = backup.json().get("key").asText();
        // the first packet (the passphrase's session-key packet: version, cipher, S2K type, hash, then the 8-byte
        // salt) changed in the primary with printf and dd: the key derived from the passphrase no longer fits, which
        // the decryption alone cannot tell from a wrong key
        Path object = stored(dir.resolve("east-data"), "prod/" + key).get(0);
        long size = Files.size(object);
        Jar.Run dd = Jar.exec(
                dir,
                Map.of(),
                List.of("sh", "-c", "printf 'XXXXXXXX' | dd of='" + object + "' bs=1 seek=6 conv=notrunc status=none"));
        assertThat(dd.exitCode()).as(dd.toString()).isZero();
        assertThat(Files.size(object)).isEqualTo(size);

        Path target = dir.resolve("restored");
        Jar.Run restore = Jar.run(dir, env, "restore", "files", "--latest", "--target", target.toString(), "--json");
        assertThat(restore.exitCode()).as(restore.toString()).isZero();
        JsonNode json = restore.json();
        String westLocation = westStore().replaceFirst("\\?.*", "");
        assertThat(json.get("store").asText()).isEqualTo(westLocation);
        JsonNode failure = json.get("storeFailures").get(0);
        assertThat(failure.get("location").asText()).isEqualTo(eastStore());
        assertThat(failure.get("error").asText()).isEqualTo("INTEGRITY");
        assertThat(failure.get("message").asText()).contains("is damaged").contains("the key is not to blame");
        assertThat(Files.readAllBytes(target.resolve("2026/photos.bin")))
                .isEqualTo(Files.readAllBytes(dir.resolve("uploads/2026/photos.bin")));

        // deep verify: the primary's copy is damaged (exit 5), not "wrong key" (6)
        Jar.Run verify = Jar.run(dir, env, "verify", "--deep", "--latest", "--kind", "files", "--json");
        assertThat(verify.exitCode()).as(verify.toString()).isEqualTo(5);
        assertThat(verify.stderr()).contains("the copy in " + eastStore() + " is damaged");
    }

    @Test
    void verifyWithThePrimaryWipedSaysItHoldsNoBackupAndFailsThoughTheCopyVerifies() throws Exception {
        Map<String, String> env = env(3);
        Jar.Run backup = Jar.run(dir, env, "backup", "files", "--json");
        assertThat(backup.exitCode()).as(backup.toString()).isZero();
        String key = backup.json().get("key").asText();
        // the primary wiped behind the server, with rm
        List<Path> prod;
        try (Stream<Path> files = Files.walk(dir.resolve("east-data"))) {
            prod = files.filter(Files::isRegularFile)
                    .filter(p -> p.toString().contains("/prod/"))
                    .toList();
        }
        assertThat(prod).isNotEmpty();
        List<String> rm = new ArrayList<>(List.of("rm", "-f"));
        prod.forEach(p -> rm.add(p.toString()));
        Jar.Run wipe = Jar.exec(dir, Map.of(), rm);
        assertThat(wipe.exitCode()).as(wipe.toString()).isZero();

        Jar.Run verify = Jar.run(dir, env, "verify", "--json");
        assertThat(verify.exitCode()).as(verify.toString()).isEqualTo(8);
        String westLocation = westStore().replaceFirst("\\?.*", "");
        assertThat(verify.stderr())
                .contains("the store " + eastStore() + " holds no backup (the copy in " + westLocation + " verified)");
        JsonNode json = verify.json();
        // the copy was verified all the same
        assertThat(json.get("store").asText()).isEqualTo(westLocation);
        assertThat(json.get("results").get(0).get("key").asText()).isEqualTo(key);
        assertThat(json.get("storeFailures").get(0).get("error").asText()).isEqualTo("NOT_FOUND");
    }

    @Test
    void withThePrimaryDownRestoreLatestUsesTheCopy() throws Exception {
        Map<String, String> env = env(3);
        Jar.Run backup = Jar.run(dir, env, "backup", "files", "--json");
        assertThat(backup.exitCode()).as(backup.toString()).isZero();
        east.close();

        Path target = dir.resolve("restored");
        Jar.Run restore = Jar.run(dir, env, "restore", "files", "--latest", "--target", target.toString(), "--json");
        assertThat(restore.exitCode()).as(restore.toString()).isZero();
        JsonNode json = restore.json();
        assertThat(json.get("store").asText()).isEqualTo(westStore().replaceFirst("\\?.*", ""));
        assertThat(json.get("storeFailures").get(0).get("error").asText()).isEqualTo("STORAGE");
        assertThat(Files.readAllBytes(target.resolve("2026/photos.bin")))
                .isEqualTo(Files.readAllBytes(dir.resolve("uploads/2026/photos.bin")));

        // verify uses the copy too, but does not say "all good": exit 4 naming the store that is down
        Jar.Run verify = Jar.run(dir, env, "verify", "--latest", "--kind", "files", "--json");
        assertThat(verify.exitCode()).as(verify.toString()).isEqualTo(4);
        String westLocation = westStore().replaceFirst("\\?.*", "");
        assertThat(verify.stderr())
                .contains("the store " + eastStore() + " could not be reached or failed (the copy in " + westLocation
                        + " verified)");
        JsonNode verified = verify.json();
        assertThat(verified.get("error").asText()).isEqualTo("STORAGE");
        assertThat(verified.get("message").asText()).contains(eastStore());
        assertThat(verified.get("store").asText()).isEqualTo(westLocation);
        assertThat(verified.get("results").get(0).get("key").asText())
                .isEqualTo(backup.json().get("key").asText());
        assertThat(verified.get("storeFailures").get(0).get("location").asText())
                .isEqualTo(eastStore());

        // list lists the others, then exits 4 naming it
        Jar.Run list = Jar.run(dir, env, "list", "--json");
        assertThat(list.exitCode()).as(list.toString()).isEqualTo(4);
        assertThat(list.json().get("message").asText()).contains("the store " + eastStore() + " could not be listed");
        assertThat(list.json().get("storeFailures").get(0).get("location").asText())
                .isEqualTo(eastStore());
        assertThat(list.json().get("backups").get(0).get("stores")).hasSize(2);

        // the monitor: CRITICAL for the store, the copies still checked
        Jar.Run monitor = Jar.run(dir, env, "monitor", "--kind", "files", "--no-alert");
        assertThat(monitor.exitCode()).as(monitor.toString()).isEqualTo(MonitorCommand.EXIT_CRITICAL);
        assertThat(monitor.stdout()).contains("store " + eastStore()).contains("copy " + westLocation + " files: OK");

        // the local copy alone, after the second region is gone too
        west.close();
        Path again = dir.resolve("restored-again");
        Jar.Run local = Jar.run(dir, env, "restore", "files", "--latest", "--target", again.toString(), "--json");
        assertThat(local.exitCode()).as(local.toString()).isZero();
        assertThat(local.json().get("store").asText()).isEqualTo("file:" + this.local);
    }

    @Test
    void aDatabaseBackedUpWithCopyToIsRestoredFromTheCopyWhenThePrimaryObjectIsDamaged() throws Exception {
        PgTestServer pg = PgTestServer.get();
        String source = pg.createDatabase("copies_src");
        String restored = "jb_copies_restored_" + Long.toHexString(System.nanoTime());
        try {
            try (java.sql.Connection c = pg.connect(source)) {
                ShopSchema.create(c, 200);
            }
            Map<String, String> env = env(1);
            env.remove("BACKUP_COPIES"); // the second region as a flag instead
            env.putAll(RunbookFixture.databaseEnv(pg, source));
            Jar.Run backup = Jar.run(dir, env, "--copy-to", westStore(), "backup", "database", "--json");
            assertThat(backup.exitCode()).as(backup.toString()).isZero();
            assertThat(backup.json().get("stores")).hasSize(3);
            String key = backup.json().get("key").asText();
            Path object = stored(dir.resolve("east-data"), "prod/" + key).get(0);
            Jar.Run dd = Jar.exec(
                    dir,
                    Map.of(),
                    List.of(
                            "dd",
                            "if=/dev/urandom",
                            "of=" + object,
                            "bs=1",
                            "count=32",
                            "seek=" + Files.size(object) / 3,
                            "conv=notrunc",
                            "status=none"));
            assertThat(dd.exitCode()).as(dd.toString()).isZero();

            Jar.Run restore = Jar.run(
                    dir,
                    env,
                    "--copy-to",
                    westStore(),
                    "restore",
                    "database",
                    "--latest",
                    "--into",
                    restored,
                    "--json");
            assertThat(restore.exitCode()).as(restore.toString()).isZero();
            assertThat(restore.json().get("store").asText())
                    .isEqualTo(westStore().replaceFirst("\\?.*", ""));
            assertThat(restore.json().get("storeFailures").get(0).get("error").asText())
                    .isEqualTo("INTEGRITY");
            assertThat(restore.json().get("rowCountsMatch").asBoolean()).isTrue();
            assertThat(pg.databaseExists(restored)).isTrue();
        } finally {
            pg.dropDatabase(restored);
            pg.dropDatabase(source);
        }
    }

    @Test
    void restoreLatestTakesTheNewestBackupOfAnyStoreAndListShowsWhereEachIs() throws Exception {
        Map<String, String> env = env(1);
        Jar.Run first = Jar.run(dir, env, "backup", "files", "--json");
        assertThat(first.exitCode()).as(first.toString()).isZero();
        Thread.sleep(1100); // a new second, a new name
        Files.writeString(dir.resolve("uploads/notes.txt"), "newer");
        // a backup that reached the second region only (as when the store failed during it)
        Map<String, String> westOnly = new HashMap<>(env);
        westOnly.remove("BACKUP_COPIES");
        Jar.Run second = Jar.run(dir, westOnly, "--store", westStore(), "backup", "files", "--json");
        assertThat(second.exitCode()).as(second.toString()).isZero();
        String newest = second.json().get("key").asText();

        Path target = dir.resolve("restored");
        Jar.Run restore = Jar.run(dir, env, "restore", "files", "--latest", "--target", target.toString(), "--json");
        assertThat(restore.exitCode()).as(restore.toString()).isZero();
        assertThat(restore.json().get("backup").get("key").asText()).isEqualTo(newest);
        assertThat(restore.json().get("store").asText()).isEqualTo(westStore().replaceFirst("\\?.*", ""));
        assertThat(restore.json().get("storeFailures").get(0).get("error").asText())
                .isEqualTo("NOT_FOUND");
        assertThat(Files.readString(target.resolve("notes.txt"))).isEqualTo("newer");

        Jar.Run list = Jar.run(dir, env, "list", "--kind", "files", "--json");
        assertThat(list.exitCode()).as(list.toString()).isZero();
        JsonNode backups = list.json().get("backups");
        assertThat(backups).hasSize(2);
        assertThat(backups.get(0).get("key").asText()).isEqualTo(newest);
        assertThat(backups.get(0).get("stores")).hasSize(1);
        assertThat(backups.get(0).get("stores").get(0).asText())
                .isEqualTo(westStore().replaceFirst("\\?.*", ""));
        assertThat(backups.get(1).get("stores")).hasSize(3);
        Jar.Run text = Jar.run(dir, env, "list", "--kind", "files");
        assertThat(text.stdout()).contains(newest).contains("in " + westStore().replaceFirst("\\?.*", ""));
    }

    @Test
    void monitorChecksEveryStoreAndNamesTheCopyThatLagsLacksABackupOrIsDown() throws Exception {
        Map<String, String> env = env(1);
        String westLocation = westStore().replaceFirst("\\?.*", "");
        // a fourth store that stopped receiving backups 30 h ago (made with the library at that clock)
        Path lagging = Files.createDirectories(dir.resolve("lagging"));
        try (LocalDirectorySink sink = LocalDirectorySink.create(lagging)) {
            BackupPipeline.builder()
                    .source(DirectorySource.builder(dir.resolve("uploads")).build())
                    .encryption(OpenPgpTransform.builder()
                            .passphrase(PassphraseKeyFile.read(dir.resolve("backup.key")))
                            .build())
                    .sink(sink)
                    .clock(Clock.fixed(Instant.now().minus(Duration.ofHours(30)), ZoneOffset.UTC))
                    .build()
                    .run();
        }
        Jar.Run backup = Jar.run(dir, env, "backup", "files");
        assertThat(backup.exitCode()).as(backup.toString()).isZero();

        // all three fresh: OK, and each store is named
        Jar.Run fresh = Jar.run(dir, env, "monitor", "--kind", "files", "--freshness-only", "--json");
        assertThat(fresh.exitCode()).as(fresh.toString()).isZero();
        JsonNode copies = fresh.json().get("report").get("copies");
        assertThat(copies).hasSize(2);
        assertThat(copies.get(0).get("store").asText()).isEqualTo(westLocation);
        assertThat(copies.get(1).get("store").asText()).isEqualTo("file:" + local);
        copies.forEach(c -> assertThat(c.get("status").asText()).isEqualTo("OK"));
        Jar.Run text = Jar.run(dir, env, "monitor", "--kind", "files", "--freshness-only");
        assertThat(text.stdout())
                .contains("freshness of " + eastStore() + " + " + westLocation + " + file:" + local + ": OK")
                .contains("store " + eastStore() + " files: OK")
                .contains("copy " + westLocation + " files: OK")
                .contains("copy file:" + local + " files: OK");

        // the lagging store as a copy: CRITICAL for it alone
        Jar.Run lag = Jar.run(
                dir,
                env,
                "--copy-to",
                westStore(),
                "--copy-to",
                lagging.toString(),
                "monitor",
                "--kind",
                "files",
                "--freshness-only");
        assertThat(lag.exitCode()).as(lag.toString()).isEqualTo(MonitorCommand.EXIT_CRITICAL);
        assertThat(lag.stdout())
                .contains("copy file:" + lagging + " files: CRITICAL")
                .contains("the newest backup in the copy file:" + lagging)
                .containsPattern("completed 30h \\d+m ago, more than the limit of 26h 0m")
                .contains("copy " + westLocation + " files: OK")
                .contains("store " + eastStore() + " files: OK");

        // a backup that reached the store only: WARNING naming it and each copy (no grace period here)
        Thread.sleep(1100); // a new second, a new name
        Map<String, String> storeOnly = new HashMap<>(env);
        storeOnly.remove("BACKUP_COPIES");
        storeOnly.remove("BACKUP_DIR");
        Jar.Run only = Jar.run(dir, storeOnly, "backup", "files", "--json");
        assertThat(only.exitCode()).as(only.toString()).isZero();
        String key = only.json().get("key").asText();
        Jar.Run missing =
                Jar.run(dir, env, "monitor", "--kind", "files", "--freshness-only", "--copy-grace-minutes", "0");
        assertThat(missing.exitCode()).as(missing.toString()).isEqualTo(MonitorCommand.EXIT_WARNING);
        assertThat(missing.stdout())
                .contains("copy " + westLocation + " files: 1 files backup in the store " + eastStore()
                        + " is missing from the copy " + westLocation + ": " + key)
                .contains("is missing from the copy file:" + local + ": " + key);
        // within the default grace period (1 h) it may still be copying: no finding
        Jar.Run graced = Jar.run(dir, env, "monitor", "--kind", "files", "--freshness-only");
        assertThat(graced.exitCode()).as(graced.toString()).isZero();

        // the second region down: CRITICAL for it, the local copy still checked, Slack names it
        west.close();
        try (WebhookServer slack = WebhookServer.start()) {
            Map<String, String> alerting = new HashMap<>(env);
            alerting.put("SLACK_WEBHOOK_URL", slack.url());
            Jar.Run down = Jar.run(dir, alerting, "monitor", "--kind", "files", "--freshness-only", "--json");
            assertThat(down.exitCode()).as(down.toString()).isEqualTo(MonitorCommand.EXIT_CRITICAL);
            JsonNode report = down.json().get("report");
            assertThat(report.get("kinds").get(0).get("status").asText()).isEqualTo("OK");
            JsonNode westHealth = report.get("copies").get(0);
            assertThat(westHealth.get("status").asText()).isEqualTo("CRITICAL");
            assertThat(westHealth.get("findings").get(0).get("check").asText()).isEqualTo("store");
            assertThat(westHealth.get("findings").get(0).get("store").asText()).isEqualTo(westLocation);
            assertThat(westHealth.get("findings").get(0).get("message").asText())
                    .startsWith("cannot read the copy " + westLocation);
            JsonNode localHealth = report.get("copies").get(1);
            assertThat(localHealth.get("kinds").get(0).get("kind").asText()).isEqualTo("files");
            assertThat(slack.bodies()).hasSize(1);
            String alert = new com.fasterxml.jackson.databind.ObjectMapper()
                    .readTree(slack.bodies().get(0))
                    .get("blocks")
                    .get(1)
                    .get("text")
                    .get("text")
                    .asText();
            assertThat(alert).contains("copy " + westLocation + ": CRITICAL").contains("cannot read the copy");
        }
    }
}

package com.jiffoo.backup.spring;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.jiffoo.backup.BackupManifest;
import com.jiffoo.backup.BackupPipeline;
import com.jiffoo.backup.BackupTrust;
import com.jiffoo.backup.DrillReport;
import com.jiffoo.backup.RestoreResult;
import com.jiffoo.backup.Sink;
import com.jiffoo.backup.StoredBackups;
import com.jiffoo.backup.VerificationRecord;
import com.jiffoo.backup.crypto.OpenPgpTransform;
import com.jiffoo.backup.crypto.PassphraseKeyFile;
import com.jiffoo.backup.files.DirectorySource;
import com.jiffoo.backup.wal.WalArchive;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.boot.SpringBootConfiguration;
import org.springframework.boot.autoconfigure.EnableAutoConfiguration;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/**
 * A real application (random port) whose store is an S3 server that is down (nothing listens on its port) and whose
 * copy is a local directory: the facade's restore and verification are served by the copy, as the command line's
 * are; the facade's restore drill runs from the copy and stores its report there; the WAL archive's lag and the drill show
 * in {@code /actuator/prometheus} and in the health details.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT, classes = JiffooBackupCopiesTest.App.class)
class JiffooBackupCopiesTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final HttpClient HTTP = HttpClient.newHttpClient();
    private static Path root;
    private static int deadPort;

    /** The application: nothing but auto-configuration. */
    @SpringBootConfiguration
    @EnableAutoConfiguration
    static class App {}

    @DynamicPropertySource
    static void properties(DynamicPropertyRegistry r) throws IOException {
        root = Files.createTempDirectory("jiffoo-boot-copies");
        Path copy = Files.createDirectories(root.resolve("copy"));
        Path source = Files.createDirectories(root.resolve("uploads"));
        Files.createDirectories(root.resolve("scratch"));
        Files.writeString(source.resolve("order-1.json"), "{\"order\":1}\n");
        Files.write(source.resolve("logo.png"), new byte[32 * 1024]);
        Path key = root.resolve("backup.key");
        PassphraseKeyFile.generate(key);
        try (ServerSocket s = new ServerSocket(0)) {
            deadPort = s.getLocalPort(); // closed again: connections are refused
        }
        r.add("jiffoo.backup.store", () -> "s3://shop-backups/prod");
        r.add("jiffoo.backup.store-settings.S3_ENDPOINT", () -> "http://127.0.0.1:" + deadPort);
        r.add("jiffoo.backup.store-settings.AWS_REGION", () -> "us-east-1");
        r.add("jiffoo.backup.store-settings.AWS_ACCESS_KEY_ID", () -> "test");
        r.add("jiffoo.backup.store-settings.AWS_SECRET_ACCESS_KEY", () -> "test-secret");
        r.add("jiffoo.backup.copies", copy::toString);
        r.add("jiffoo.backup.encryption.key-file", key::toString);
        r.add("jiffoo.backup.files.source-directory", source::toString);
        r.add("jiffoo.backup.health.cache-ttl", () -> "10m");
        r.add(
                "jiffoo.backup.drill.scratch-directory",
                () -> root.resolve("scratch").toString());
        r.add("jiffoo.backup.drill.rto-target", () -> "30m");
        r.add("management.endpoints.web.exposure.include", () -> "health,prometheus");
        r.add("management.endpoint.health.show-details", () -> "always");
    }

    @AfterAll
    static void cleanUp() throws IOException {
        try (var files = Files.walk(root)) {
            files.sorted(java.util.Comparator.reverseOrder())
                    .forEach(p -> p.toFile().delete());
        }
    }

    @Value("${local.server.port}")
    int port;

    @Autowired
    JiffooBackup backups;

    @Autowired
    BackupStores stores;

    @Autowired
    OpenPgpTransform pgp;

    @Autowired
    BackupTrust trust;

    @Test
    void restoresAndVerifiesFromTheCopyWhileTheStoreIsDownAndShowsWalLagAndDrills() throws Exception {
        Sink copy = stores.copies().get(0);
        // a backup that reached the copy (the store is down), made by the library's pipeline
        BackupManifest made = BackupPipeline.builder()
                .source(DirectorySource.builder(root.resolve("uploads")).build())
                .encryption(pgp)
                .sink(copy)
                .build()
                .run();

        // restore: the store cannot be reached, the copy serves
        Path target = root.resolve("restored");
        RestoreResult restored = backups.restoreFiles(null, target);
        assertThat(restored.manifest().objectKey()).isEqualTo(made.objectKey());
        assertThat(Files.readString(target.resolve("order-1.json"))).isEqualTo("{\"order\":1}\n");
        assertThat(Files.size(target.resolve("logo.png"))).isEqualTo(32 * 1024);
        // by key too
        Path again = root.resolve("restored-by-key");
        assertThat(backups.restoreFiles(made.objectKey(), again).manifest().id())
                .isEqualTo(made.id());

        // deep verification: in the copy, and recorded there
        VerificationRecord v = backups.verifyLatest("files", true);
        assertThat(v.passed()).isTrue();
        assertThat(v.objectKey()).isEqualTo(made.objectKey());
        BackupManifest inCopy = StoredBackups.of(copy, trust).manifest(made.objectKey());
        assertThat(StoredBackups.of(copy, trust).verifications(inCopy)).anyMatch(r -> r.passed() && r.deep());

        // WAL archived into the copy (a segment-sized file under a segment's name, pushed by the library's archive)
        Path segment = root.resolve("wal-in").resolve("000000010000000000000001");
        Files.createDirectories(segment.getParent());
        Files.write(segment, new byte[16 << 20]);
        Instant pushed = Instant.now();
        assertThat(WalArchive.builder().sink(copy).encryption(pgp).build().push(segment))
                .isEqualTo(WalArchive.Pushed.STORED);

        // a restore drill through the facade: the newest files backup, read from the copy (the store is down), its
        // report stored in the copy since the store cannot take it
        DrillReport drill = backups.drill("files");
        assertThat(drill.passed()).as(drill.toMarkdown()).isTrue();
        assertThat(drill.backupKey()).isEqualTo(made.objectKey());
        assertThat(drill.store()).isEqualTo(copy.location());
        assertThat(drill.findings().toString()).contains(stores.store().location());
        assertThat(DrillReport.keysIn(copy)).hasSize(1);
        assertThat(drill.scratch()).contains(root.resolve("scratch").toString());

        backups.check(); // the store is down: CRITICAL (alerts nobody here), and the cache is refreshed

        String metrics = get("/actuator/prometheus").body();
        double lag = value(metrics, "jiffoo_backup_wal_archive_lag_seconds", "store=\"" + copy.location() + "\"");
        assertThat(lag).isBetween(0.0, 600.0);
        assertThat(value(
                        metrics,
                        "jiffoo_backup_wal_last_archived_timestamp_seconds",
                        "store=\"" + copy.location() + "\""))
                .isBetween(pushed.getEpochSecond() - 5.0, Instant.now().getEpochSecond() + 5.0);
        assertThat(value(
                        metrics,
                        "jiffoo_backup_wal_archive_lag_seconds",
                        "store=\"" + stores.store().location()))
                .isNaN(); // the store cannot be read
        double drillEnded = drill.startedAt().plus(drill.total()).toEpochMilli() / 1000.0;
        assertThat(value(
                        metrics,
                        "jiffoo_backup_last_success_timestamp_seconds",
                        "operation=\"drill\"",
                        "kind=\"files\""))
                .isCloseTo(drillEnded, org.assertj.core.data.Offset.offset(0.01));
        assertThat(value(metrics, "jiffoo_backup_last_exit_code", "operation=\"drill\"", "kind=\"files\""))
                .isZero();
        assertThat(value(metrics, "jiffoo_backup_drill_rto_seconds", "kind=\"files\""))
                .isCloseTo(drill.total().toMillis() / 1000.0, org.assertj.core.data.Offset.offset(0.01));
        assertThat(value(metrics, "jiffoo_backup_drill_rto_target_seconds", "kind=\"files\""))
                .isEqualTo(1800.0); // jiffoo.backup.drill.rto-target
        assertThat(value(metrics, "jiffoo_backup_duration_seconds_count", "kind=\"files\"", "operation=\"drill\""))
                .isEqualTo(1.0);
        assertThat(value(
                        metrics,
                        "jiffoo_backup_last_success_timestamp_seconds",
                        "operation=\"backup\"",
                        "kind=\"files\"",
                        "store=\"" + copy.location()))
                .isCloseTo(made.completedAt().toEpochMilli() / 1000.0, org.assertj.core.data.Offset.offset(0.01));
        assertThat(value(metrics, "jiffoo_backup_duration_seconds_count", "kind=\"files\"", "operation=\"restore\""))
                .isEqualTo(2.0);

        // the health: DOWN (the store is down), with the copy's WAL lag and the last drill in the details
        Response health = get("/actuator/health/backup");
        assertThat(health.status()).isEqualTo(503);
        JsonNode details = health.json().path("details");
        JsonNode wal = details.path("wal").path(copy.location());
        assertThat(wal.path("newestArchived").asText()).as(health.body()).isEqualTo("000000010000000000000001");
        assertThat(wal.path("lagSeconds").asLong()).isBetween(0L, 600L);
        JsonNode lastDrill = details.path("drills").path("files");
        assertThat(lastDrill.path("outcome").asText()).as(health.body()).isEqualTo("passed");
        assertThat(lastDrill.path("rtoSeconds").asLong())
                .isEqualTo(drill.total().toSeconds());
        assertThat(lastDrill.path("lastPassedAt").asText())
                .isEqualTo(drill.startedAt().toString());
    }

    /** The value of the one sample of {@code name} whose labels contain each of {@code labels}. */
    private static double value(String exposition, String name, String... labels) {
        Matcher m = Pattern.compile("(?m)^" + Pattern.quote(name) + "\\{([^}]*)\\} (\\S+)$")
                .matcher(exposition);
        Double found = null;
        while (m.find()) {
            boolean all = true;
            for (String l : labels) {
                all &= m.group(1).contains(l);
            }
            if (all) {
                assertThat(found).as("more than one sample of " + name).isNull();
                found = Double.parseDouble(m.group(2));
            }
        }
        assertThat(found)
                .as(name + " " + String.join(",", labels) + " in:\n" + exposition)
                .isNotNull();
        return found;
    }

    private record Response(int status, String body) {
        JsonNode json() throws IOException {
            return JSON.readTree(body);
        }
    }

    private Response get(String path) throws IOException, InterruptedException {
        HttpResponse<String> r = HTTP.send(
                HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                        .build(),
                HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
        return new Response(r.statusCode(), r.body());
    }
}

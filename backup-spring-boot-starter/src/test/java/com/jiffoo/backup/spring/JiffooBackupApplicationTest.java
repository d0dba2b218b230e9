package com.jiffoo.backup.spring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.jiffoo.backup.BackupManifest;
import com.jiffoo.backup.BackupPipeline;
import com.jiffoo.backup.NotFoundException;
import com.jiffoo.backup.VerificationRecord;
import com.jiffoo.backup.crypto.OpenPgpTransform;
import com.jiffoo.backup.crypto.PassphraseKeyFile;
import com.jiffoo.backup.files.DirectorySource;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
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
 * A real Spring Boot application (Tomcat on a random port, Actuator, Prometheus registry) with the starter: a local
 * directory store in a temporary directory, a generated key file, a source directory. Over real HTTP:
 * {@code /actuator/health/backup} is DOWN without a backup and with one older than the limit, WARNING after a fresh
 * backup nobody verified, UP once it is verified; the report is cached between requests; {@code /actuator/prometheus}
 * shows the meters with the values of the backups made.
 */
@SpringBootTest(
        webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
        classes = JiffooBackupApplicationTest.App.class)
class JiffooBackupApplicationTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final HttpClient HTTP = HttpClient.newHttpClient();
    private static Path root;

    /** The application: nothing but auto-configuration. */
    @SpringBootConfiguration
    @EnableAutoConfiguration
    static class App {}

    @DynamicPropertySource
    static void properties(DynamicPropertyRegistry r) throws IOException {
        root = Files.createTempDirectory("jiffoo-boot-test");
        Path store = Files.createDirectories(root.resolve("store"));
        Path source = Files.createDirectories(root.resolve("uploads"));
        Files.writeString(source.resolve("order-1.json"), "{\"order\":1}\n");
        Files.write(source.resolve("logo.png"), new byte[64 * 1024]);
        Path key = root.resolve("backup.key");
        PassphraseKeyFile.generate(key);
        r.add("jiffoo.backup.store", store::toString);
        r.add("jiffoo.backup.encryption.key-file", key::toString);
        r.add("jiffoo.backup.files.source-directory", source::toString);
        r.add("jiffoo.backup.monitor.max-age", () -> "26h");
        r.add("jiffoo.backup.health.cache-ttl", () -> "10m");
        r.add("management.endpoints.web.exposure.include", () -> "health,prometheus");
        r.add("management.endpoint.health.show-details", () -> "always");
        r.add("management.endpoint.health.status.order", () -> "DOWN,OUT_OF_SERVICE,WARNING,UP,UNKNOWN");
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

    @Test
    void healthFollowsTheStoreAndPrometheusShowsTheMeters() throws Exception {
        // no backup at all: DOWN (the monitor's CRITICAL), 503
        Response none = get("/actuator/health/backup");
        assertThat(none.status()).isEqualTo(503);
        JsonNode files = none.json().path("details").path("kinds").path("files");
        assertThat(none.json().path("status").asText()).isEqualTo("DOWN");
        assertThat(files.path("count").asInt()).isZero();
        assertThat(files.path("problems").toString()).contains("no files backup");

        // a backup made three days ago (the library's pipeline takes a clock), behind the application's back
        Instant threeDaysAgo = Instant.now().minus(Duration.ofDays(3));
        BackupPipeline.builder()
                .source(DirectorySource.builder(root.resolve("uploads")).build())
                .encryption(pgp)
                .sink(stores.store())
                .clock(Clock.fixed(threeDaysAgo, ZoneOffset.UTC))
                .build()
                .run();
        // the cached report still counts no backup: a health request does not ask the store again within the TTL
        assertThat(get("/actuator/health/backup")
                        .json()
                        .path("details")
                        .path("kinds")
                        .path("files")
                        .path("count")
                        .asInt())
                .isZero();
        backups.check(); // runs the monitor now and refreshes the cache
        Response stale = get("/actuator/health/backup");
        JsonNode staleFiles = stale.json().path("details").path("kinds").path("files");
        assertThat(stale.status()).isEqualTo(503);
        assertThat(stale.json().path("status").asText()).isEqualTo("DOWN");
        assertThat(staleFiles.path("count").asInt()).isEqualTo(1);
        assertThat(staleFiles.path("newestAgeSeconds").asLong()).isBetween(3 * 86400L - 60, 3 * 86400L + 600);
        assertThat(staleFiles.path("status").asText()).isEqualTo("CRITICAL");

        // a fresh backup through the facade: no longer stale, but never verified: WARNING
        BackupManifest fresh = backups.backUpFiles();
        Response unverified = get("/actuator/health/backup");
        assertThat(unverified.json().path("status").asText())
                .as(unverified.body())
                .isEqualTo("WARNING");
        assertThat(unverified.status()).isEqualTo(200); // Boot maps a status it does not know to 200
        assertThat(unverified
                        .json()
                        .path("details")
                        .path("kinds")
                        .path("files")
                        .path("newest")
                        .asText())
                .isEqualTo(fresh.objectKey());
        assertThat(unverified
                        .json()
                        .path("details")
                        .path("kinds")
                        .path("files")
                        .path("keyCheck")
                        .asText())
                .isEqualTo("PASSED");

        // verified (deep: decrypted, its tar listing read): UP
        VerificationRecord v = backups.verifyLatest("files", true);
        assertThat(v.passed()).isTrue();
        Response up = get("/actuator/health/backup");
        assertThat(up.status()).isEqualTo(200);
        assertThat(up.json().path("status").asText()).as(up.body()).isEqualTo("UP");
        JsonNode verified =
                up.json().path("details").path("kinds").path("files").path("lastPassedVerification");
        assertThat(verified.path("backup").asText()).isEqualTo(fresh.objectKey());
        assertThat(verified.path("mode").asText()).isEqualTo("deep");
        // the overall health shows the component
        assertThat(get("/actuator/health")
                        .json()
                        .path("components")
                        .path("backup")
                        .path("status")
                        .asText())
                .isEqualTo("UP");

        // a failure, counted by its code
        assertThatThrownBy(() -> backups.verify("files/files_backup_20200101_000000.tar.gz.gpg", false))
                .isInstanceOf(NotFoundException.class);

        String metrics = get("/actuator/prometheus").body();
        String store = stores.store().location();
        assertThat(value(
                        metrics,
                        "jiffoo_backup_last_success_timestamp_seconds",
                        "operation=\"backup\"",
                        "kind=\"files\"",
                        "store=\"" + store))
                .isCloseTo(fresh.completedAt().toEpochMilli() / 1000.0, org.assertj.core.data.Offset.offset(0.01));
        assertThat(value(metrics, "jiffoo_backup_last_verification_timestamp_seconds", "kind=\"files\""))
                .isCloseTo(v.verifiedAt().toEpochMilli() / 1000.0, org.assertj.core.data.Offset.offset(0.01));
        assertThat(value(metrics, "jiffoo_backup_duration_seconds_count", "kind=\"files\"", "operation=\"backup\""))
                .isEqualTo(1.0);
        assertThat(value(metrics, "jiffoo_backup_duration_seconds_sum", "kind=\"files\"", "operation=\"backup\""))
                .isPositive();
        assertThat(value(metrics, "jiffoo_backup_duration_seconds_count", "kind=\"files\"", "operation=\"verify\""))
                .isEqualTo(1.0);
        assertThat(value(metrics, "jiffoo_backup_size_bytes_count", "kind=\"files\""))
                .isEqualTo(1.0);
        assertThat(value(metrics, "jiffoo_backup_size_bytes_sum", "kind=\"files\""))
                .isEqualTo((double) fresh.objectSize());
        assertThat(value(
                        metrics,
                        "jiffoo_backup_failures_total",
                        "kind=\"files\"",
                        "code=\"NOT_FOUND\"",
                        "operation=\"verify\""))
                .isEqualTo(1.0);
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
        JsonNode json() {
            try {
                return JSON.readTree(body);
            } catch (IOException e) {
                throw new UncheckedIOException(body, e);
            }
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

package com.jiffoo.backup.examples.boot;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.jiffoo.backup.BackupManifest;
import com.jiffoo.backup.crypto.PassphraseKeyFile;
import com.jiffoo.backup.spring.BackupJobs;
import com.jiffoo.backup.spring.JiffooBackup;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/**
 * The example application as it ships (its {@code application.properties}), on a random port against the real
 * PostgreSQL of {@code PGHOST}/{@code PGPORT}/{@code PGUSER}/{@code PGPASSWORD}: a fresh database with a table,
 * a local store and a generated key file in a temporary directory. One database backup through the facade, then
 * over real HTTP: {@code /actuator/health} shows the {@code backup} component with the database kind, and
 * {@code /actuator/prometheus} the {@code jiffoo_backup_} meters with that backup's values; the scheduled jobs are
 * set, and a job run through {@link BackupJobs} takes its advisory lock through the application's DataSource.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
class ExampleApplicationTest {
    private static final String HOST = env("PGHOST", "127.0.0.1");
    private static final String PORT = env("PGPORT", "5432");
    private static final String USER = env("PGUSER", "jiffoo_test");
    private static final String PASSWORD = env("PGPASSWORD", "jiffoo_test");
    private static final String DB = "jb_example_" + Long.toHexString(System.nanoTime());
    private static final HttpClient HTTP = HttpClient.newHttpClient();
    private static Path root;

    @DynamicPropertySource
    static void properties(DynamicPropertyRegistry r) throws IOException, SQLException {
        try (Connection c = connect("postgres");
                Statement s = c.createStatement()) {
            s.execute("CREATE DATABASE " + DB);
        }
        try (Connection c = connect(DB);
                Statement s = c.createStatement()) {
            s.execute("CREATE TABLE orders (id bigint PRIMARY KEY, total numeric(10,2) NOT NULL)");
            s.execute("INSERT INTO orders SELECT g, g * 1.5 FROM generate_series(1, 1000) g");
        }
        root = Files.createTempDirectory("jiffoo-boot-example");
        Path key = root.resolve("backup.key");
        PassphraseKeyFile.generate(key);
        r.add("APP_DB", () -> DB);
        r.add("PGHOST", () -> HOST);
        r.add("PGPORT", () -> PORT);
        r.add("PGUSER", () -> USER);
        r.add("PGPASSWORD", () -> PASSWORD);
        Path store = Files.createDirectories(root.resolve("store"));
        r.add("BACKUP_DIR", store::toString);
        r.add("ENCRYPTION_KEY_FILE", key::toString);
    }

    @AfterAll
    static void cleanUp() throws IOException, SQLException {
        try (Connection c = connect("postgres");
                Statement s = c.createStatement()) {
            s.execute("DROP DATABASE IF EXISTS " + DB + " WITH (FORCE)");
        }
        if (root != null) {
            try (var files = Files.walk(root)) {
                files.sorted(java.util.Comparator.reverseOrder())
                        .forEach(p -> p.toFile().delete());
            }
        }
    }

    @Value("${local.server.port}")
    int port;

    @Autowired
    JiffooBackup backups;

    @Autowired
    BackupJobs jobs;

    @Test
    void healthShowsTheBackupComponentAndPrometheusTheMetersAfterABackup() throws Exception {
        assertThat(jobs.schedule()).containsEntry("database", "0 0 2 * * *").containsKey("monitor");

        BackupManifest m = backups.backUpDatabase();
        assertThat(m.kind()).isEqualTo("database");
        backups.check(); // the health's cached report refreshed now, not at its TTL

        HttpResponse<String> health = get("/actuator/health");
        JsonNode backup =
                new ObjectMapper().readTree(health.body()).path("components").path("backup");
        // fresh but never verified: WARNING (Boot answers a status it does not know with 200)
        assertThat(backup.path("status").asText()).as(health.body()).isEqualTo("WARNING");
        assertThat(health.statusCode()).isEqualTo(200);
        JsonNode database = backup.path("details").path("kinds").path("database");
        assertThat(database.path("count").asInt()).isEqualTo(1);
        assertThat(database.path("newest").asText()).isEqualTo(m.objectKey());
        assertThat(database.path("keyCheck").asText()).isEqualTo("PASSED");

        String metrics = get("/actuator/prometheus").body();
        assertThat(metrics).contains("jiffoo_backup_");
        assertThat(sample(metrics, "jiffoo_backup_last_success_timestamp_seconds", "kind=\"database\""))
                .isCloseTo(m.completedAt().toEpochMilli() / 1000.0, org.assertj.core.data.Offset.offset(0.01));
        assertThat(sample(metrics, "jiffoo_backup_size_bytes_sum", "kind=\"database\""))
                .isEqualTo((double) m.objectSize());

        // the scheduled job itself, run now: under its advisory lock, taken through the application's DataSource
        BackupJobs.Run run = jobs.run("monitor");
        assertThat(run.outcome()).as(String.valueOf(run.error())).isEqualTo(BackupJobs.Outcome.RAN);
    }

    /** The value of the one sample of {@code name} whose labels contain {@code label}. */
    private static double sample(String exposition, String name, String label) {
        Matcher matcher = Pattern.compile("(?m)^" + Pattern.quote(name) + "\\{([^}]*)\\} (\\S+)$")
                .matcher(exposition);
        while (matcher.find()) {
            if (matcher.group(1).contains(label)) {
                return Double.parseDouble(matcher.group(2));
            }
        }
        throw new AssertionError(name + " with " + label + " not in:\n" + exposition);
    }

    private HttpResponse<String> get(String path) throws IOException, InterruptedException {
        return HTTP.send(
                HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                        .build(),
                HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
    }

    private static Connection connect(String db) throws SQLException {
        return DriverManager.getConnection("jdbc:postgresql://" + HOST + ":" + PORT + "/" + db, USER, PASSWORD);
    }

    private static String env(String name, String fallback) {
        String v = System.getenv(name);
        return v == null || v.isBlank() ? fallback : v;
    }
}

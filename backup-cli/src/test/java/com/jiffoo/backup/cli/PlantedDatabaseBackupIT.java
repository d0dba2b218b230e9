package com.jiffoo.backup.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.jiffoo.backup.postgres.ShopSchema;
import com.jiffoo.backup.postgres.TableHashes;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The attack of issue 11 on a database, against S3 (S3Proxy): someone with the bucket's credentials but no key plants
 * a plain {@code pg_dump -Fc} whose table has a CHECK calling a function that runs {@code COPY … TO PROGRAM}, with a
 * manifest edited as text and a {@code sha256sum} sidecar. Before authentication, {@code restore database --latest
 * --existing} replaced the live table and ran the attacker's shell command as the postgres user.
 */
class PlantedDatabaseBackupIT {
    private static RunbookFixture rb;

    @TempDir
    Path dir;

    @BeforeAll
    static void start() throws Exception {
        rb = RunbookFixture.start("planted_src");
    }

    @AfterAll
    static void stop() throws Exception {
        rb.close();
    }

    @Test
    void aPlantedPlainDumpIsNeitherVerifiedNorRestoredAndItsSqlNeverRuns() throws Exception {
        Path key = dir.resolve("backup.key");
        assertThat(Jar.run(dir, Map.of(), "keygen", key.toString()).exitCode()).isZero();
        Map<String, String> env = rb.env(key, "planted");
        Jar.Run backup = Jar.run(dir, env, "backup", "database", "--json");
        assertThat(backup.exitCode()).as(backup.toString()).isZero();
        JsonNode real = backup.json();

        String live = rb.pg().createDatabase("planted_live");
        String evil = rb.pg().createDatabase("planted_evil");
        Path marker = Path.of("/tmp", "jb-pwned-" + live);
        Files.deleteIfExists(marker);
        try {
            try (Connection c = rb.pg().connect(live)) {
                ShopSchema.create(c, 20);
            }
            try (Connection c = rb.pg().connect(evil); Statement s = c.createStatement()) {
                s.execute("CREATE FUNCTION pwn() RETURNS boolean LANGUAGE plpgsql AS $$ BEGIN"
                        + " EXECUTE 'COPY (SELECT 1) TO PROGRAM ''touch /tmp/jb-pwned-' || current_database() || '''';"
                        + " RETURN true; END $$");
                s.execute("CREATE TABLE orders (id int PRIMARY KEY, note text CHECK (pwn()))");
                s.execute("INSERT INTO orders VALUES (1, 'all your orders are belong to us')");
            }
            TableHashes before;
            try (Connection c = rb.pg().connect(live)) {
                before = TableHashes.of(c);
            }

            // the attacker's tools: pg_dump, sha256sum, and the real manifest edited as text
            Path dump = dir.resolve("evil.dump");
            Map<String, String> pgEnv = new HashMap<>();
            if (rb.pg().password() != null) {
                pgEnv.put("PGPASSWORD", rb.pg().password());
            }
            Jar.Run pgDump = Jar.exec(dir, pgEnv, List.of("pg_dump", "-Fc", "-h", rb.pg().host(), "-p",
                    Integer.toString(rb.pg().port()), "-U", rb.pg().user(), "-f", dump.toString(), evil));
            assertThat(pgDump.exitCode()).as(pgDump.toString()).isZero();
            String id = "db_backup_20991231_235959";
            String plantedKey = "database/" + id + ".sql";
            String sum = Jar.exec(dir, Map.of(), List.of("sha256sum", dump.toString())).stdout();
            String hex = sum.substring(0, 64);
            String realKey = real.get("key").asText();
            try (S3Client s3 = S3Client.builder().endpointOverride(rb.s3().endpoint()).region(Region.US_EAST_1)
                    .forcePathStyle(true).credentialsProvider(StaticCredentialsProvider.create(
                            AwsBasicCredentials.create(rb.s3().accessKey(), rb.s3().secretKey()))).build()) {
                String manifest = s3.getObjectAsBytes(b -> b.bucket(rb.s3().bucket())
                        .key("planted/" + realKey + ".manifest.json")).asUtf8String()
                        .replace(realKey, plantedKey).replace(real.get("id").asText(), id)
                        .replace(real.get("completedAt").asText(), java.time.Instant.parse(
                                real.get("completedAt").asText()).plusSeconds(3600).toString())
                        .replaceAll("\"sha256\" : \"[0-9a-f]{64}\"", "\"sha256\" : \"" + hex + "\"")
                        .replaceAll("\"size\" : [0-9]+", "\"size\" : " + Files.size(dump))
                        .replaceAll("(?s)\"transforms\" : \\[.*?\\],", "\"transforms\" : [ ],")
                        .replace("\"encrypted\" : true", "\"encrypted\" : false");
                put(s3, plantedKey, Files.readAllBytes(dump));
                put(s3, plantedKey + ".sha256", (hex + "  " + id + ".sql\n").getBytes(StandardCharsets.UTF_8));
                put(s3, plantedKey + ".manifest.json", manifest.getBytes(StandardCharsets.UTF_8));
            }

            Jar.Run verify = Jar.run(dir, env, "verify", "--deep", "--latest");
            assertThat(verify.exitCode()).as(verify.toString()).isEqualTo(5);
            assertThat(verify.stderr()).contains(plantedKey + ".manifest.json").contains("not authenticated");

            Map<String, String> over = new HashMap<>(env);
            over.put("DB_NAME", live);
            Jar.Run restore = Jar.run(dir, over, "restore", "database", "--latest", "--existing");
            assertThat(restore.exitCode()).as(restore.toString()).isEqualTo(5);
            Jar.Run named = Jar.run(dir, over, "restore", "database",
                    rb.store("planted") + "/" + plantedKey, "--existing");
            assertThat(named.exitCode()).as(named.toString()).isEqualTo(5);
            assertThat(named.stderr()).contains("not authenticated");

            assertThat(marker).as("the planted dump's SQL must never run").doesNotExist();
            try (Connection c = rb.pg().connect(live)) {
                assertThat(TableHashes.of(c)).isEqualTo(before);
            }
        } finally {
            Files.deleteIfExists(marker);
            rb.pg().dropDatabase(evil);
            rb.pg().dropDatabase(live);
        }
    }

    private void put(S3Client s3, String key, byte[] bytes) {
        s3.putObject(b -> b.bucket(rb.s3().bucket()).key("planted/" + key), RequestBody.fromBytes(bytes));
    }
}

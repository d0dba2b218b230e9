package com.jiffoo.backup.cli;

import com.jiffoo.backup.testing.S3rverServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The real jar with {@code S3_ENDPOINT} pointed at s3rver, an S3 server that stores aws-chunked framing as data: the
 * launcher's defaults for a custom endpoint back up, list, verify and restore; with the AWS SDK's AWS defaults forced
 * back on, the backup fails with exit 4, names the setting, and nothing new is listed.
 */
class S3CompatibleStoreIT {
    @TempDir
    static Path data;
    @TempDir
    Path dir;
    private static S3rverServer server;

    @BeforeAll
    static void start() throws Exception {
        S3rverServer.assumeAvailable();
        server = S3rverServer.start(data);
    }

    @AfterAll
    static void stop() throws Exception {
        if (server != null) {
            server.close();
        }
    }

    private Map<String, String> env(String prefix) throws IOException {
        Path uploads = dir.resolve("uploads");
        Files.createDirectories(uploads.resolve("2026/01"));
        byte[] photo = new byte[3 << 20];
        new java.util.Random(7).nextBytes(photo);
        Files.write(uploads.resolve("2026/01/photo.jpg"), photo);
        Files.writeString(uploads.resolve("notes.txt"), "hello");
        Path key = dir.resolve("backup.key");
        if (!Files.exists(key)) {
            Jar.Run keygen = Jar.run(dir, Map.of(), "keygen", key.toString());
            assertThat(keygen.exitCode()).as(keygen.toString()).isZero();
        }
        Map<String, String> env = new HashMap<>();
        env.put("SOURCE_DIR", uploads.toString());
        env.put("ENCRYPTION_KEY_FILE", key.toString());
        env.put("S3_BUCKET", "s3://" + server.bucket() + "/" + prefix);
        env.put("S3_ENDPOINT", server.endpoint().toString());
        env.put("AWS_REGION", "us-east-1");
        env.put("AWS_ACCESS_KEY_ID", server.accessKey());
        env.put("AWS_SECRET_ACCESS_KEY", server.secretKey());
        return env;
    }

    @Test
    void backupListVerifyAndRestoreWorkThroughTheEndpointDefaults() throws Exception {
        Map<String, String> env = env("good");
        Jar.Run backup = Jar.run(dir, env, "backup", "files", "--json");
        assertThat(backup.exitCode()).as(backup.toString()).isZero();
        String key = backup.json().get("key").asText();
        Jar.Run list = Jar.run(dir, env, "list", "--json");
        assertThat(list.exitCode()).as(list.toString()).isZero();
        assertThat(list.json().get("backups")).hasSize(1);
        Jar.Run verify = Jar.run(dir, env, "verify", "--deep", "--latest");
        assertThat(verify.exitCode()).as(verify.toString()).isZero();
        Path restored = dir.resolve("restored");
        Jar.Run restore = Jar.run(dir, env, "restore", "files", "--latest", "--target", restored.toString());
        assertThat(restore.exitCode()).as(restore.toString()).isZero();
        assertThat(Files.readAllBytes(restored.resolve("2026/01/photo.jpg")))
                .isEqualTo(Files.readAllBytes(dir.resolve("uploads/2026/01/photo.jpg")));

        // the referee: sha256sum -c with the stored sidecar, on the file s3rver keeps
        Path check = Files.createDirectories(dir.resolve("check"));
        String name = Path.of(key).getFileName().toString();
        Files.copy(storedFile("good/" + key), check.resolve(name));
        Files.copy(storedFile("good/" + key + ".sha256"), check.resolve(name + ".sha256"));
        Process p = new ProcessBuilder("sha256sum", "-c", name + ".sha256").directory(check.toFile())
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(out).isZero();
    }

    @Test
    void withTheSdkAwsDefaultsForcedTheBackupFailsWithExit4AndNothingNewIsListed() throws Exception {
        Map<String, String> env = env("forced");
        Jar.Run first = Jar.run(dir, env, "backup", "files");
        assertThat(first.exitCode()).as(first.toString()).isZero();
        Thread.sleep(1100); // a new second, so the next backup gets a new name
        env.put("AWS_REQUEST_CHECKSUM_CALCULATION", "when_supported");
        env.put("S3_CHUNKED_ENCODING", "true");
        Jar.Run bad = Jar.run(dir, env, "backup", "files", "--json");
        assertThat(bad.exitCode()).as(bad.toString()).isEqualTo(4);
        assertThat(bad.json().get("error").asText()).isEqualTo("STORAGE");
        assertThat(bad.stderr()).contains("aws-chunked", "S3_CHUNKED_ENCODING=false",
                "AWS_REQUEST_CHECKSUM_CALCULATION=when_required").doesNotContain(server.secretKey() + "@");
        Jar.Run list = Jar.run(dir, env, "list", "--json");
        assertThat(list.exitCode()).as(list.toString()).isZero();
        assertThat(list.json().get("backups")).hasSize(1);
        try (Stream<Path> files = Files.walk(data.resolve(server.bucket()).resolve("forced"))) {
            List<String> objects = files.filter(Files::isRegularFile).map(Path::toString)
                    .filter(f -> f.endsWith("._S3rver_object")).toList();
            assertThat(objects).as("only the first backup's data, sidecar, signature and manifest").hasSize(4);
        }
    }

    private static Path storedFile(String key) throws IOException {
        Path file = data.resolve(server.bucket()).resolve(key + "._S3rver_object");
        assertThat(file).isRegularFile();
        return file;
    }

}

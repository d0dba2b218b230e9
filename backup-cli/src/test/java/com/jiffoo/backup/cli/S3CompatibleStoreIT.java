package com.jiffoo.backup.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.jiffoo.backup.testing.s3.S3rverServer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The real jar with {@code S3_ENDPOINT} pointed at s3rver, an S3 server that stores aws-chunked framing as data: the
 * launcher's defaults for a custom endpoint back up, list, verify and restore; with the AWS SDK's AWS defaults forced
 * back on, the backup fails with exit 4, names the setting, and nothing new is listed.
 */
class S3CompatibleStoreIT {
    @RegisterExtension
    static final S3rverServer.PerClass S3RVER = S3rverServer.perClass();

    @TempDir
    Path dir;

    private Map<String, String> env(String prefix) throws IOException {
        S3rverServer server = S3RVER.server();
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
        S3rverServer server = S3RVER.server();
        assertThat(server.sha256sumCheck(
                        "good/" + key, Files.readAllBytes(server.storedFile("good/" + key + ".sha256"))))
                .endsWith(": OK\n");
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
        assertThat(bad.stderr())
                .contains("aws-chunked", "S3_CHUNKED_ENCODING=false", "AWS_REQUEST_CHECKSUM_CALCULATION=when_required");
        Jar.Run list = Jar.run(dir, env, "list", "--json");
        assertThat(list.exitCode()).as(list.toString()).isZero();
        assertThat(list.json().get("backups")).hasSize(1);
        assertThat(S3RVER.server().storedKeys("forced/"))
                .as("only the first backup's data, sidecar, signature and manifest")
                .hasSize(4);
    }
}

package com.jiffoo.backup.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.jiffoo.backup.testing.s3.S3ProxyServer;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
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
 * {@code copy --from --to} with the real jar (issue 15, item 2): a local store and an S3Proxy bucket, each brought up
 * to date with the other; a damaged backup refused; a copy killed with {@code kill -9} completed by the next run.
 */
class CopyIT {
    @TempDir
    Path dir;

    private S3ProxyServer s3;
    private Path local;

    @BeforeEach
    void start() throws Exception {
        s3 = S3ProxyServer.startFilesystem(dir.resolve("s3-data"));
        local = Files.createDirectories(dir.resolve("local"));
    }

    @AfterEach
    void stop() throws Exception {
        s3.close();
    }

    private String bucket() {
        return "s3://" + s3.bucket() + "/prod";
    }

    /** The settings (no store: each command names it), and a source directory of {@code mib} MiB of random bytes. */
    private Map<String, String> env(int mib) throws IOException {
        Path uploads = dir.resolve("uploads");
        Files.createDirectories(uploads.resolve("2026"));
        Random random = new Random(mib);
        byte[] chunk = new byte[1 << 20];
        try (OutputStream out = Files.newOutputStream(uploads.resolve("2026/photos.bin"))) {
            for (int i = 0; i < mib; i++) {
                random.nextBytes(chunk);
                out.write(chunk);
            }
        }
        Files.writeString(uploads.resolve("notes.txt"), "hello " + mib);
        Path key = dir.resolve("backup.key");
        if (!Files.exists(key)) {
            Jar.Run keygen = Jar.run(dir, Map.of(), "keygen", key.toString());
            assertThat(keygen.exitCode()).as(keygen.toString()).isZero();
        }
        Map<String, String> env = new HashMap<>();
        env.put("SOURCE_DIR", uploads.toString());
        env.put("ENCRYPTION_KEY_FILE", key.toString());
        env.put("S3_ENDPOINT", s3.endpoint().toString());
        env.put("AWS_REGION", "us-east-1");
        env.put("AWS_ACCESS_KEY_ID", s3.accessKey());
        env.put("AWS_SECRET_ACCESS_KEY", s3.secretKey());
        return env;
    }

    private String backup(Map<String, String> env, String store) {
        Jar.Run backup = Jar.run(dir, env, "--store", store, "backup", "files", "--json");
        assertThat(backup.exitCode()).as(backup.toString()).isZero();
        return backup.json().get("key").asText();
    }

    private Jar.Run copy(Map<String, String> env, String from, String to, String... more) {
        List<String> args = new ArrayList<>(List.of("copy", "--from", from, "--to", to, "--json"));
        args.addAll(List.of(more));
        return Jar.run(dir, env, args.toArray(String[]::new));
    }

    /** The files under {@code root} whose path ends with {@code key} (S3Proxy's file store keeps keys as paths). */
    private static List<Path> stored(Path root, String key) throws IOException {
        try (Stream<Path> files = Files.walk(root)) {
            return files.filter(Files::isRegularFile)
                    .filter(p -> p.toString().endsWith("/" + key))
                    .toList();
        }
    }

    private String sha256sum(Path file) {
        Jar.Run r = Jar.exec(dir, Map.of(), List.of("sha256sum", file.toString()));
        assertThat(r.exitCode()).as(r.toString()).isZero();
        return r.stdout().substring(0, 64);
    }

    /** The data, sidecar, signature and manifest of {@code key}: the same bytes in the bucket and the local store. */
    private void sameBytes(String key) throws IOException {
        for (String k : List.of(key, key + ".sha256", key + ".manifest.json", key + ".manifest.json.sig")) {
            List<Path> inS3 = stored(dir.resolve("s3-data"), "prod/" + k);
            assertThat(inS3).as(k + " in the bucket").hasSize(1);
            Path inLocal = local.resolve(k);
            assertThat(inLocal).as(k + " in the local store").isRegularFile();
            assertThat(sha256sum(inS3.get(0))).as(k).isEqualTo(sha256sum(inLocal));
        }
    }

    private static List<String> statuses(JsonNode json) {
        List<String> out = new ArrayList<>();
        json.get("backups")
                .forEach(b ->
                        out.add(b.get("key").asText() + " " + b.get("status").asText()));
        return out;
    }

    @Test
    void eachStoreIsBroughtUpToDateWithTheOtherAsStoredAndASecondCopyCopiesNothing() throws Exception {
        Map<String, String> env = env(3);
        String inLocal = backup(env, local.toString());
        Thread.sleep(1100); // backups are named by the second
        env = env(4);
        String inS3 = backup(env, bucket());

        Jar.Run up = copy(env, local.toString(), bucket());
        assertThat(up.exitCode()).as(up.toString()).isZero();
        assertThat(statuses(up.json())).containsExactly(inLocal + " copied");
        Jar.Run down = copy(env, bucket(), local.toString());
        assertThat(down.exitCode()).as(down.toString()).isZero();
        assertThat(statuses(down.json())).containsExactly(inLocal + " present", inS3 + " copied");
        sameBytes(inLocal);
        sameBytes(inS3);

        // again: nothing to do either way
        for (Jar.Run again : List.of(copy(env, local.toString(), bucket()), copy(env, bucket(), local.toString()))) {
            assertThat(again.exitCode()).as(again.toString()).isZero();
            assertThat(again.json().get("copied").asInt()).isZero();
            assertThat(again.json().get("present").asInt()).isEqualTo(2);
        }

        // the copies restore: the local backup from the bucket, the bucket's from the local store
        Path fromS3 = dir.resolve("restored-s3");
        Jar.Run r1 = Jar.run(dir, env, "--store", bucket(), "restore", "files", inLocal, "--target", fromS3.toString());
        assertThat(r1.exitCode()).as(r1.toString()).isZero();
        assertThat(Files.readString(fromS3.resolve("notes.txt"))).isEqualTo("hello 3");
        Path fromLocal = dir.resolve("restored-local");
        Jar.Run r2 = Jar.run(
                dir, env, "--store", local.toString(), "restore", "files", inS3, "--target", fromLocal.toString());
        assertThat(r2.exitCode()).as(r2.toString()).isZero();
        assertThat(Files.readString(fromLocal.resolve("notes.txt"))).isEqualTo("hello 4");
        assertThat(Files.readAllBytes(fromLocal.resolve("2026/photos.bin")))
                .isEqualTo(Files.readAllBytes(dir.resolve("uploads/2026/photos.bin")));

        // --since a day to come and --kind database: nothing considered
        Jar.Run since = copy(env, bucket(), local.toString(), "--since", "2999-01-01");
        assertThat(since.exitCode()).as(since.toString()).isZero();
        assertThat(since.json().get("backups")).isEmpty();
        Jar.Run kind = copy(env, bucket(), local.toString(), "--kind", "database");
        assertThat(kind.exitCode()).as(kind.toString()).isZero();
        assertThat(kind.json().get("backups")).isEmpty();
    }

    @Test
    void aBackupDamagedInTheSourceIsNotCopiedAndADifferentBackupOfTheSameNameIsNotOverwritten() throws Exception {
        Map<String, String> env = env(2);
        String key = backup(env, local.toString());
        Path data = local.resolve(key);
        long size = Files.size(data);
        Jar.Run dd = Jar.exec(
                dir,
                Map.of(),
                List.of(
                        "dd",
                        "if=/dev/urandom",
                        "of=" + data,
                        "bs=1",
                        "count=16",
                        "seek=" + size / 2,
                        "conv=notrunc",
                        "status=none"));
        assertThat(dd.exitCode()).as(dd.toString()).isZero();

        Jar.Run damaged = copy(env, local.toString(), bucket());
        assertThat(damaged.exitCode()).as(damaged.toString()).isEqualTo(5);
        assertThat(statuses(damaged.json())).containsExactly(key + " refused");
        assertThat(damaged.json().get("backups").get(0).get("message").asText())
                .contains("is damaged")
                .contains("SHA-256");
        assertThat(damaged.stderr()).contains("1 backup(s) not copied");
        try (Stream<Path> files = Files.walk(dir.resolve("s3-data"))) {
            assertThat(files.filter(Files::isRegularFile).map(Path::toString))
                    .as("nothing of it reached the bucket")
                    .noneMatch(p -> p.contains("/prod/files/"));
        }
        assertThat(s3.openMultipartUploads()).as("its upload was aborted").isEmpty();

        // a backup of the same name but other bytes in the destination: a conflict, left alone
        Path other = Files.createDirectories(dir.resolve("other"));
        Jar.Run cp = Jar.exec(
                dir, Map.of(), List.of("cp", "-r", local.resolve("files").toString(), other.toString()));
        assertThat(cp.exitCode()).as(cp.toString()).isZero();
        String sha = Files.readString(local.resolve(key + ".sha256")).substring(0, 64);
        Jar.Run sed = Jar.exec(
                dir,
                Map.of(),
                List.of(
                        "sed",
                        "-i",
                        "s/" + sha + "/" + "0".repeat(64) + "/",
                        other.resolve(key + ".manifest.json").toString()));
        assertThat(sed.exitCode()).as(sed.toString()).isZero();
        String before = sha256sum(other.resolve(key + ".manifest.json"));
        assertThat(before).isNotEqualTo(sha256sum(local.resolve(key + ".manifest.json")));
        Jar.Run fromDamaged = copy(env, local.toString(), other.toString());
        assertThat(fromDamaged.exitCode()).as(fromDamaged.toString()).isEqualTo(5);
        assertThat(statuses(fromDamaged.json())).containsExactly(key + " conflict");
        assertThat(sha256sum(other.resolve(key + ".manifest.json"))).isEqualTo(before);

        // whoever damaged the data also rewrites the manifest and checksum file to match it: the manifest's
        // signature no longer checks out, so the backup is refused as planted
        String damagedSha = sha256sum(data);
        for (String k : List.of(key + ".manifest.json", key + ".sha256")) {
            Jar.Run edit = Jar.exec(
                    dir,
                    Map.of(),
                    List.of(
                            "sed",
                            "-i",
                            "s/" + sha + "/" + damagedSha + "/",
                            local.resolve(k).toString()));
            assertThat(edit.exitCode()).as(edit.toString()).isZero();
        }
        Jar.Run planted = copy(env, local.toString(), bucket());
        assertThat(planted.exitCode()).as(planted.toString()).isEqualTo(5);
        assertThat(statuses(planted.json())).containsExactly(key + " refused");
        assertThat(planted.json().get("backups").get(0).get("message").asText()).contains("is not authentic");
        try (Stream<Path> files = Files.walk(dir.resolve("s3-data"))) {
            assertThat(files.filter(Files::isRegularFile).map(Path::toString))
                    .as("nothing of it reached the bucket")
                    .noneMatch(p -> p.contains("/prod/files/"));
        }
    }

    @Test
    void aCopyKilledMidwayIsCompletedByTheNextRun() throws Exception {
        Map<String, String> env = env(120);
        String key = backup(env, local.toString());

        Jar.Started running = Jar.start(dir, env, "copy", "--from", local.toString(), "--to", bucket());
        long deadline = System.nanoTime() + 120_000_000_000L;
        while (s3.openMultipartUploads().isEmpty() && running.process().isAlive() && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assertThat(running.process().isAlive()).as("the copy is still running").isTrue();
        running.process().destroyForcibly(); // SIGKILL: no shutdown hook
        running.process().waitFor();
        assertThat(running.await().exitCode()).isEqualTo(137);
        assertThat(stored(dir.resolve("s3-data"), "prod/" + key + ".manifest.json"))
                .as("no manifest: the copy is invisible")
                .isEmpty();
        Jar.Run list = Jar.run(dir, env, "--store", bucket(), "list", "--json");
        assertThat(list.exitCode()).as(list.toString()).isZero();
        assertThat(list.json().get("backups")).isEmpty();

        // streamed, not buffered: 120 MiB copied within a 96 MiB heap
        Map<String, String> small = new HashMap<>(env);
        small.put("JAVA_TOOL_OPTIONS", "-Xmx96m");
        Jar.Run rerun = copy(small, local.toString(), bucket());
        assertThat(rerun.exitCode()).as(rerun.toString()).isZero();
        assertThat(statuses(rerun.json())).containsExactly(key + " copied");
        sameBytes(key);

        // killed after the data was committed (its data and checksum file there, no manifest): the leftovers, here
        // put in place with cp and the data cut short with truncate, are replaced
        Path lagging = Files.createDirectories(dir.resolve("lagging/files"));
        Jar.Run cp = Jar.exec(
                dir,
                Map.of(),
                List.of(
                        "cp",
                        local.resolve(key).toString(),
                        local.resolve(key + ".sha256").toString(),
                        lagging.toString()));
        assertThat(cp.exitCode()).as(cp.toString()).isZero();
        Jar.Run cut = Jar.exec(
                dir,
                Map.of(),
                List.of(
                        "truncate",
                        "-s",
                        "1000",
                        lagging.resolve(Path.of(key).getFileName()).toString()));
        assertThat(cut.exitCode()).as(cut.toString()).isZero();
        Jar.Run resumed = copy(env, bucket(), dir.resolve("lagging").toString());
        assertThat(resumed.exitCode()).as(resumed.toString()).isZero();
        assertThat(statuses(resumed.json())).containsExactly(key + " copied");
        assertThat(sha256sum(lagging.resolve(Path.of(key).getFileName()))).isEqualTo(sha256sum(local.resolve(key)));
        assertThat(sha256sum(dir.resolve("lagging").resolve(key + ".manifest.json")))
                .isEqualTo(sha256sum(local.resolve(key + ".manifest.json")));
    }
}

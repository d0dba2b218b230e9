package com.jiffoo.backup.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.jiffoo.backup.crypto.OpenPgpTransform;
import com.jiffoo.backup.crypto.PassphraseKeyFile;
import com.jiffoo.backup.testing.s3.S3ProxyServer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Instant;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.GetObjectResponse;
import software.amazon.awssdk.services.s3.model.S3Object;

/**
 * {@code backup files --from s3://…} and {@code restore files --to s3://…} through the real jar against S3Proxy: the
 * bucket's credentials in {@code UPLOADS_*} settings of the environment only, a full backup and an increment into a
 * local store, a restore into another prefix compared object by object (content, content type, user metadata) with
 * an S3 client of the test's own, a non-empty target refused; and a hostile archive made with GNU tar and gpg
 * ({@code ../escape.txt}, {@code /abs.txt}) refused, naming the entry, with the target prefix left empty.
 */
class BucketFilesIT {
    @RegisterExtension
    static final S3ProxyServer.PerClass S3 = S3ProxyServer.perClass();

    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    private S3Client s3;
    private Path store;
    private Path key;
    private Map<String, String> env;

    @BeforeEach
    void setUp() throws Exception {
        S3ProxyServer server = S3.server();
        s3 = S3Client.builder()
                .endpointOverride(server.endpoint())
                .region(Region.US_EAST_1)
                .forcePathStyle(true)
                .credentialsProvider(StaticCredentialsProvider.create(
                        AwsBasicCredentials.create(server.accessKey(), server.secretKey())))
                .build();
        store = Files.createDirectories(dir.resolve("store"));
        key = dir.resolve("backup.key");
        Jar.Run keygen = Jar.run(dir, Map.of(), "keygen", key.toString());
        assertThat(keygen.exitCode()).as(keygen.toString()).isZero();
        env = new HashMap<>();
        env.put("BACKUP_DIR", store.toString());
        env.put("ENCRYPTION_KEY_FILE", key.toString());
        env.put("UPLOADS_S3_ENDPOINT", server.endpoint().toString());
        env.put("UPLOADS_AWS_REGION", "us-east-1");
        env.put("UPLOADS_AWS_ACCESS_KEY_ID", server.accessKey());
        env.put("UPLOADS_AWS_SECRET_ACCESS_KEY", server.secretKey());
    }

    @AfterEach
    void closeClient() {
        s3.close();
    }

    private String uri(String prefix) {
        return "s3://" + S3.server().bucket() + "/" + prefix;
    }

    private void put(String k, String content, String type, Map<String, String> meta) {
        s3.putObject(
                b -> b.bucket(S3.server().bucket()).key(k).contentType(type).metadata(meta),
                RequestBody.fromString(content, StandardCharsets.UTF_8));
    }

    private List<String> keys(String prefix) {
        return s3.listObjectsV2Paginator(b -> b.bucket(S3.server().bucket()).prefix(prefix + "/")).contents().stream()
                .map(S3Object::key)
                .toList();
    }

    /** Every object under {@code prefix}: key relative to it, to content SHA-256, content type and metadata. */
    private Map<String, String> snapshot(String prefix) throws Exception {
        Map<String, String> out = new TreeMap<>();
        for (String k : keys(prefix)) {
            var bytes = s3.getObjectAsBytes(b -> b.bucket(S3.server().bucket()).key(k));
            GetObjectResponse r = bytes.response();
            out.put(
                    k.substring(prefix.length() + 1),
                    sha256(bytes.asByteArray()) + " " + r.contentType() + " " + new TreeMap<>(r.metadata()));
        }
        return out;
    }

    private static String sha256(byte[] bytes) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    }

    private void assertNoSecret(Jar.Run run, Jar.Started started) {
        String secret = S3.server().secretKey();
        assertThat(run.all()).as("output").doesNotContain(secret);
        assertThat(String.join(" ", started.command())).as("arguments").doesNotContain(secret);
    }

    private Jar.Run jar(String... args) {
        Jar.Started started = Jar.start(dir, env, args);
        Jar.Run run = started.await();
        assertNoSecret(run, started);
        return run;
    }

    @Test
    void aBucketPrefixBacksUpWithAnIncrementAndRestoresIntoAnotherPrefixWithTypesAndMetadata() throws Exception {
        for (int i = 0; i < 50; i++) {
            String type = i % 3 == 0 ? "image/jpeg" : i % 3 == 1 ? "text/plain; charset=utf-8" : "application/pdf";
            Map<String, String> meta = i % 2 == 0 ? Map.of("owner", "shop-" + i, "alt", "picture " + i) : Map.of();
            put("src/d" + (i % 5) + "/sub" + (i % 2) + "/obj-" + i + ".bin", "content of object " + i, type, meta);
        }
        put("src/top.txt", "at the top", "text/plain", Map.of("x-origin", "upload"));
        assertThat(snapshot("src")).hasSize(51);

        Jar.Run full = jar("backup", "files", "--from", uri("src"), "--json");
        assertThat(full.exitCode()).as(full.toString()).isZero();
        String fullKey = full.json().get("key").asText();

        Thread.sleep(1100); // a new second, so the increment gets a new name
        put("src/d0/new-1.txt", "added after the full backup", "text/csv", Map.of("batch", "2"));
        put("src/new/deep/new-2.jpg", "another added one", "image/png", Map.of());
        put("src/d1/sub1/obj-1.bin", "object 1 changed, longer than before", "text/html", Map.of("rev", "2"));
        put("src/d2/sub0/obj-2.bin", "CONTENT OF OBJECT 2", "application/pdf", Map.of("rev", "3")); // same size
        s3.deleteObject(b -> b.bucket(S3.server().bucket()).key("src/d3/sub1/obj-3.bin"));
        s3.deleteObject(b -> b.bucket(S3.server().bucket()).key("src/top.txt"));
        Map<String, String> source = snapshot("src");
        assertThat(source).hasSize(51).containsKey("new/deep/new-2.jpg").doesNotContainKey("top.txt");

        Jar.Run inc = jar("backup", "files", "--from", uri("src"), "--incremental", "--json");
        assertThat(inc.exitCode()).as(inc.toString()).isZero();
        assertThat(inc.json().get("key").asText()).isNotEqualTo(fullKey);

        Jar.Run restore = jar("restore", "files", "--latest", "--to", uri("restored"));
        assertThat(restore.exitCode()).as(restore.toString()).isZero();
        assertThat(snapshot("restored")).isEqualTo(source);
        assertThat(keys("restored")).noneMatch(k -> k.contains(".jiffoo-restore-"));

        // a second restore into the now non-empty prefix, without --replace: refused, the target untouched
        Jar.Run again = jar("restore", "files", "--latest", "--to", uri("restored"));
        assertThat(again.exitCode()).as(again.toString()).isEqualTo(7);
        assertThat(again.stderr()).contains("--replace").contains(uri("restored"));
        assertThat(snapshot("restored")).isEqualTo(source);
    }

    /** Runs a command (tar, gpg, sha256sum) with the test's PATH; fails on a non-zero exit. */
    private String sh(Path cwd, String... command) {
        Jar.Run r = Jar.exec(cwd, Map.of(), List.of(command));
        assertThat(r.exitCode()).as(r.toString()).isZero();
        return r.stdout();
    }

    @Test
    void aHostileArchiveMadeWithTarAndGpgIsRefusedNamingTheEntryAndTheTargetStaysEmpty() throws Exception {
        put("real/a.txt", "a real object", "text/plain", Map.of());
        Jar.Run real = jar("backup", "files", "--from", uri("real"), "--json");
        assertThat(real.exitCode()).as(real.toString()).isZero();
        String realKey = real.json().get("key").asText();
        String realId = real.json().get("id").asText();
        Path realManifest = store.resolve(realKey + ".manifest.json");
        JsonNode facts = JSON.readTree(realManifest.toFile()).get("source").get("facts");
        assertThat(facts.get("bucket").asText()).contains(S3.server().bucket());

        assertRefused("files_backup_20991231_235957", realKey, realId, "../escape.txt", "its path has a segment '..'");
        assertRefused("files_backup_20991231_235958", realKey, realId, "/abs.txt", "its path is absolute");
    }

    /**
     * Plants, next to the real backup, a backup whose archive GNU tar made ({@code normal.txt}, then {@code hostile},
     * then the other of {@code ../escape.txt} and {@code /abs.txt}) compressed as the real one and encrypted with gpg and the key file; its sidecar by
     * sha256sum; its manifest the real one edited; its signature by the key (the one step no tool outside ours does).
     */
    private void assertRefused(String id, String realKey, String realId, String hostile, String why) throws Exception {
        Path work = Files.createDirectories(dir.resolve("evil-" + id));
        Files.writeString(work.resolve("normal.txt"), "harmless");
        Files.writeString(work.resolve("escape.txt"), "escaped!");
        Files.writeString(work.resolve("abs.txt"), "absolute!");
        boolean zstd = realKey.endsWith(".tar.zst.gpg");
        assertThat(zstd || realKey.endsWith(".tar.gz.gpg")).as(realKey).isTrue();
        String suffix = zstd ? ".tar.zst" : ".tar.gz";
        Path tar = work.resolve("evil" + suffix);
        boolean absFirst = hostile.startsWith("/");
        sh(
                work,
                "tar",
                zstd ? "--zstd" : "-z",
                "-c",
                "-P",
                "-f",
                tar.toString(),
                "--transform",
                "s,^escape\\.txt$,../escape.txt,;s,^abs\\.txt$,/abs.txt,",
                "normal.txt",
                absFirst ? "abs.txt" : "escape.txt",
                absFirst ? "escape.txt" : "abs.txt");
        String listing = sh(work, "tar", "-tPf", tar.toString());
        assertThat(listing.lines().toList())
                .containsExactly("normal.txt", hostile, absFirst ? "../escape.txt" : "/abs.txt");

        String objectKey = realKey.replace(realId, id);
        Path object = store.resolve(objectKey);
        Path gnupg = Files.createDirectories(dir.resolve("gnupg"));
        Files.setPosixFilePermissions(gnupg, java.nio.file.attribute.PosixFilePermissions.fromString("rwx------"));
        sh(
                work,
                "gpg",
                "--homedir",
                gnupg.toString(),
                "--batch",
                "--pinentry-mode",
                "loopback",
                "--symmetric",
                "--cipher-algo",
                "AES256",
                "--passphrase-file",
                key.toString(),
                "--output",
                object.toString(),
                tar.toString());
        String sum = sh(object.getParent(), "sha256sum", object.getFileName().toString());
        Files.writeString(store.resolve(objectKey + ".sha256"), sum);

        ObjectNode m = (ObjectNode)
                JSON.readTree(store.resolve(realKey + ".manifest.json").toFile());
        m.put("id", id);
        m.put("startedAt", Instant.parse("2099-12-31T23:59:00Z").toString());
        m.put("completedAt", Instant.parse("2099-12-31T23:59:00Z").toString());
        ObjectNode o = (ObjectNode) m.get("object");
        o.put("key", objectKey);
        o.put("size", Files.size(object));
        o.put("sha256", sum.substring(0, 64));
        ObjectNode p = (ObjectNode) m.get("plaintext");
        p.put("size", Files.size(tar));
        p.put("sha256", sha256(Files.readAllBytes(tar)));
        byte[] manifest = JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(m);
        Path manifestPath = store.resolve(objectKey + ".manifest.json");
        byte[] signature = OpenPgpTransform.builder()
                .passphrase(PassphraseKeyFile.read(key))
                .build()
                .authenticator()
                .orElseThrow()
                .sign(manifest);
        Files.write(store.resolve(objectKey + ".manifest.json.sig"), signature);
        Files.write(manifestPath, manifest);

        String target = "hostile-" + id;
        Jar.Run restore = jar("restore", "files", objectKey, "--to", uri(target));
        // exit 7, as for the same entry in a directory restore: the object and its content match the signed
        // manifest, so this is not damage in the store (exit 5) but what was backed up (docs/runbook.md, exit codes)
        assertThat(restore.exitCode()).as(restore.toString()).isEqualTo(7);
        assertThat(restore.stderr())
                .contains("The entry '" + hostile + "' of " + objectKey)
                .contains(why)
                .contains("tampered with")
                .contains("passed its integrity checks");
        assertThat(keys(target)).as("the target prefix, staging included").isEmpty();
    }

    /**
     * The store in S3Proxy ({@code S3_BUCKET}, the local {@code BACKUP_DIR} then its copy): a {@code --from} bucket that
     * holds it and a {@code --to} prefix inside it are refused with exit 2, the flag named, nothing written.
     */
    @Test
    void aBucketThatHoldsTheStoreOrLiesInsideItIsRefusedWithExit2() throws Exception {
        S3ProxyServer server = S3.server();
        String root = "overlap-" + System.nanoTime();
        put(root + "/media/a.txt", "a", "text/plain", Map.of());
        env.put("S3_BUCKET", uri(root + "/backups"));
        env.put("S3_ENDPOINT", server.endpoint().toString());
        env.put("AWS_REGION", "us-east-1");
        env.put("AWS_ACCESS_KEY_ID", server.accessKey());
        env.put("AWS_SECRET_ACCESS_KEY", server.secretKey());

        Jar.Run backup = jar("backup", "files", "--from", uri(root));
        assertThat(backup.exitCode()).as(backup.toString()).isEqualTo(2);
        assertThat(backup.stderr())
                .contains("Refusing to back up the bucket " + uri(root) + " (--from)", "it holds the store");
        assertThat(keys(root)).containsExactly(root + "/media/a.txt");
        try (var files = Files.list(store)) {
            assertThat(files).as("the copy").isEmpty();
        }

        Jar.Run restore = jar("restore", "files", "--latest", "--to", uri(root + "/backups/restored"), "--replace");
        assertThat(restore.exitCode()).as(restore.toString()).isEqualTo(2);
        assertThat(restore.stderr())
                .contains("Refusing to restore into the bucket " + uri(root + "/backups/restored") + " (--to)");
        assertThat(keys(root)).containsExactly(root + "/media/a.txt");
    }
}

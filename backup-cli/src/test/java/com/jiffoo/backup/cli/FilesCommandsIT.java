package com.jiffoo.backup.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.jiffoo.backup.testutil.GpgCli;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * File backups with the real jar to a local directory store: keygen, backup, gpg opens what it wrote, list,
 * deep verification, restore (latest, and from a local copy of one backup), and public-key mode.
 */
class FilesCommandsIT {
    @TempDir
    Path dir;

    private Path uploads;
    private Path store;

    private Map<String, String> env(Path key) throws IOException {
        uploads = dir.resolve("uploads");
        Files.createDirectories(uploads.resolve("2026/01"));
        Files.writeString(uploads.resolve("2026/01/photo.jpg"), "not really a photo".repeat(1000));
        Files.writeString(uploads.resolve("ünïcode name.txt"), "hello");
        Files.createDirectories(uploads.resolve("empty"));
        store = dir.resolve("store");
        Files.createDirectories(store);
        Map<String, String> env = new HashMap<>();
        env.put("SOURCE_DIR", uploads.toString());
        env.put("BACKUP_DIR", store.toString());
        if (key != null) {
            env.put("ENCRYPTION_KEY_FILE", key.toString());
        }
        return env;
    }

    @Test
    void backupThatGpgOpensVerifyAndRestore() throws Exception {
        Path key = dir.resolve("backup.key");
        Jar.Run keygen = Jar.run(dir, Map.of("ENCRYPTION_KEY_FILE", key.toString()), "keygen");
        assertThat(keygen.exitCode()).as(keygen.toString()).isZero();
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(key)))
                .isEqualTo("rw-------");
        assertThat(Files.readAllLines(key)).singleElement().asString().hasSize(44);
        assertThat(Jar.run(dir, Map.of(), "keygen", key.toString()).exitCode())
                .as("never overwrites")
                .isEqualTo(2);
        Map<String, String> env = env(key);

        Jar.Run backup = Jar.run(dir, env, "backup", "files", "--json");
        assertThat(backup.exitCode()).as(backup.toString()).isZero();
        assertThat(backup.stderr()).as("quiet when not a terminal").isEmpty();
        String objectKey = backup.json().get("key").asText();
        assertThat(objectKey).matches("files/files_backup_\\d{8}_\\d{6}\\.tar\\.gz\\.gpg");
        Path stored = store.resolve(objectKey);

        // the key works with gpg: the runbook's emergency path
        try (GpgCli gpg = GpgCli.create(dir)) {
            Path tarGz = dir.resolve("backup.tar.gz");
            gpg.decrypt(stored, tarGz, key).orThrow();
            Jar.Run tar = Jar.exec(dir, Map.of(), List.of("tar", "tzf", tarGz.toString()));
            assertThat(tar.stdout()).contains("2026/01/photo.jpg").contains("ünïcode name.txt");
        }

        Jar.Run deep = Jar.run(dir, env, "verify", "--deep", "--latest");
        assertThat(deep.exitCode()).as(deep.toString()).isZero();
        assertThat(deep.stdout()).contains("deep verification passed");

        Path restored = dir.resolve("restored");
        Jar.Run restore = Jar.run(dir, env, "restore", "files", "--latest", "--target", restored.toString());
        assertThat(restore.exitCode()).as(restore.toString()).isZero();
        assertThat(tree(restored)).isEqualTo(tree(uploads));

        // one backup copied out of the store (as `aws s3 cp` of its four objects would): restored from the file
        Path copy = dir.resolve("download");
        Files.createDirectories(copy);
        String name = stored.getFileName().toString();
        for (String suffix : List.of("", ".sha256", ".manifest.json", ".manifest.json.sig")) {
            Files.copy(store.resolve(objectKey + suffix), copy.resolve(name + suffix));
        }
        Path fromFile = dir.resolve("from-file");
        Jar.Run local =
                Jar.run(dir, env, "restore", "files", copy.resolve(name).toString(), "--target", fromFile.toString());
        assertThat(local.exitCode()).as(local.toString()).isZero();
        assertThat(tree(fromFile)).isEqualTo(tree(uploads));

        Files.delete(copy.resolve(name + ".manifest.json"));
        Jar.Run noManifest = Jar.run(dir, env, "verify", copy.resolve(name).toString());
        assertThat(noManifest.exitCode()).as(noManifest.toString()).isEqualTo(2);
        assertThat(noManifest.stderr()).contains(name + ".manifest.json").contains("copy");

        Jar.Run replaceRefused = Jar.run(dir, env, "restore", "files", "--latest", "--target", restored.toString());
        assertThat(replaceRefused.exitCode()).as(replaceRefused.toString()).isEqualTo(7);
        assertThat(replaceRefused.stderr()).contains("replace");
        assertThat(replaceRefused.stderr().lines().filter(l -> l.startsWith("error: ")))
                .as("the launcher's flag, not the library's API")
                .singleElement()
                .asString()
                .contains("The restore target")
                .contains("Pass --replace")
                .doesNotContain("replaceExisting(true)");
    }

    @Test
    void incrementalBackupsMakeAChainThatVerifyAndRestoreApplyWhole() throws Exception {
        Path key = RunbookFixture.keyFile(dir);
        Map<String, String> env = env(key);

        Jar.Run full = Jar.run(dir, env, "backup", "files", "--incremental", "--json");
        assertThat(full.exitCode()).as(full.toString()).isZero();
        assertThat(full.json().get("incremental").asBoolean()).isFalse();
        assertThat(full.json().get("chainPlan").asText())
                .contains("no earlier backup")
                .contains("a full backup");

        Files.writeString(uploads.resolve("2026/01/new.jpg"), "new");
        Files.delete(uploads.resolve("ünïcode name.txt"));
        Thread.sleep(1100); // one backup a second: names have seconds
        Jar.Run inc = Jar.run(dir, env, "backup", "files", "--incremental");
        assertThat(inc.exitCode()).as(inc.toString()).isZero();
        assertThat(inc.stdout())
                .contains(
                        "incremental: an increment of " + full.json().get("id").asText());

        Jar.Run deep = Jar.run(dir, env, "verify", "--deep", "--latest");
        assertThat(deep.exitCode()).as(deep.toString()).isZero();
        Path restored = dir.resolve("restored");
        Jar.Run restore = Jar.run(dir, env, "restore", "files", "--latest", "--target", restored.toString());
        assertThat(restore.exitCode()).as(restore.toString()).isZero();
        assertThat(restore.stdout()).contains("applied its chain of 2 backups");
        assertThat(tree(restored)).isEqualTo(tree(uploads)).doesNotContainKey("ünïcode name.txt");

        // --full-every 1: the chain has one increment already, so a full backup
        Thread.sleep(1100);
        Jar.Run again = Jar.run(dir, env, "backup", "files", "--incremental", "--full-every", "1", "--json");
        assertThat(again.exitCode()).as(again.toString()).isZero();
        assertThat(again.json().get("incremental").asBoolean()).isFalse();

        // the first chain's full backup damaged: its increment no longer verifies or restores (exit 5, named)
        Path stored = store.resolve(full.json().get("key").asText());
        byte[] bytes = Files.readAllBytes(stored);
        bytes[bytes.length / 2] ^= 1;
        Files.write(stored, bytes);
        String incKey = "files/"
                + inc.stdout()
                        .lines()
                        .filter(l -> l.startsWith("backed up"))
                        .findFirst()
                        .orElseThrow()
                        .replaceAll(".*(files_backup_[0-9_]+\\.tar\\.gz\\.gpg).*", "$1");
        Jar.Run verify = Jar.run(dir, env, "verify", incKey);
        assertThat(verify.exitCode()).as(verify.toString()).isEqualTo(5);
        assertThat(verify.stderr())
                .contains("chain")
                .contains(full.json().get("key").asText());
        Jar.Run broken = Jar.run(
                dir,
                env,
                "restore",
                "files",
                incKey,
                "--target",
                dir.resolve("r2").toString());
        assertThat(broken.exitCode()).as(broken.toString()).isEqualTo(5);
        assertThat(broken.stderr()).contains(full.json().get("key").asText());
    }

    /** Issue 17: hard links and nanosecond modification times come back through {@code restore files}, chain too. */
    @Test
    void hardLinksAndNanosecondTimesComeBackThroughRestoreFiles() throws Exception {
        Path key = RunbookFixture.keyFile(dir);
        Map<String, String> env = env(key);
        Path photo = uploads.resolve("2026/01/photo.jpg");
        Files.createLink(uploads.resolve("2026/01/same-photo.jpg"), photo);
        Files.createLink(uploads.resolve("photo-again.jpg"), photo);
        java.nio.file.attribute.FileTime t =
                java.nio.file.attribute.FileTime.from(java.time.Instant.parse("2026-01-02T03:04:05.123456789Z"));
        Files.setLastModifiedTime(photo, t);
        Files.setLastModifiedTime(
                uploads.resolve("2026/01"),
                java.nio.file.attribute.FileTime.from(java.time.Instant.parse("2026-01-02T03:04:06.987654321Z")));

        Jar.Run full = Jar.run(dir, env, "backup", "files", "--incremental", "--json");
        assertThat(full.exitCode()).as(full.toString()).isZero();
        Files.writeString(photo, "changed through one name");
        Files.setLastModifiedTime(
                photo,
                java.nio.file.attribute.FileTime.from(java.time.Instant.parse("2026-01-03T00:00:00.000000001Z")));
        Thread.sleep(1100); // one backup a second: names have seconds
        Jar.Run inc = Jar.run(dir, env, "backup", "files", "--incremental", "--json");
        assertThat(inc.exitCode()).as(inc.toString()).isZero();
        assertThat(inc.json().get("incremental").asBoolean()).isTrue();
        assertThat(Jar.run(dir, env, "verify", "--deep", "--latest").exitCode()).isZero();

        Path restored = dir.resolve("restored");
        Jar.Run restore = Jar.run(dir, env, "restore", "files", "--latest", "--target", restored.toString());
        assertThat(restore.exitCode()).as(restore.toString()).isZero();
        assertThat(tree(restored)).isEqualTo(tree(uploads));
        Path back = restored.resolve("2026/01/photo.jpg");
        assertThat(Files.isSameFile(back, restored.resolve("2026/01/same-photo.jpg")))
                .isTrue();
        assertThat(Files.isSameFile(back, restored.resolve("photo-again.jpg"))).isTrue();
        assertThat(back).hasContent("changed through one name");
        assertThat(Files.getLastModifiedTime(back)).isEqualTo(Files.getLastModifiedTime(photo));
        assertThat(Files.getLastModifiedTime(back).toInstant().getNano()).isEqualTo(1);
        assertThat(Files.getLastModifiedTime(restored.resolve("2026/01")))
                .isEqualTo(Files.getLastModifiedTime(uploads.resolve("2026/01")));
    }

    @Test
    void theMonitorReportsEachChainAndRestoreCountsWhatTheChainApplied() throws Exception {
        Path key = RunbookFixture.keyFile(dir);
        Map<String, String> env = env(key);
        Jar.Run full = Jar.run(dir, env, "backup", "files", "--incremental", "--json");
        assertThat(full.exitCode()).as(full.toString()).isZero();
        Files.writeString(uploads.resolve("2026/01/new.jpg"), "new");
        Files.delete(uploads.resolve("ünïcode name.txt"));
        Thread.sleep(1100); // one backup a second: names have seconds
        Jar.Run inc1 = Jar.run(dir, env, "backup", "files", "--incremental", "--json");
        assertThat(inc1.json().get("incremental").asBoolean())
                .as(inc1.toString())
                .isTrue();
        Files.writeString(uploads.resolve("later.txt"), "later");
        Thread.sleep(1100);
        Jar.Run inc2 = Jar.run(dir, env, "backup", "files", "--incremental", "--json");
        assertThat(inc2.json().get("incremental").asBoolean())
                .as(inc2.toString())
                .isTrue();
        String fullId = full.json().get("id").asText();
        String inc1Id = inc1.json().get("id").asText();

        // a whole chain, its newest link verified deep by the monitor: OK, in the text and the JSON
        Jar.Run ok = Jar.run(dir, env, "monitor", "--kind", "files", "--verify");
        assertThat(ok.exitCode()).as(ok.toString()).isZero();
        assertThat(ok.stdout())
                .contains("files chain " + fullId + ": OK — full backup ")
                .contains("2 increments, newest link " + inc2.json().get("id").asText())
                .contains("every link present and bound; verified (");
        JsonNode chain = Jar.run(dir, env, "monitor", "--kind", "files", "--json")
                .json()
                .get("report")
                .get("kinds")
                .get(0)
                .get("chains")
                .get(0);
        assertThat(chain.get("base").asText()).isEqualTo(fullId);
        assertThat(chain.get("increments").asInt()).isEqualTo(2);
        assertThat(chain.get("whole").asBoolean()).isTrue();
        assertThat(chain.get("verified").asText()).isEqualTo("PASSED");

        // restore counts the links, the tree and the deletions, and checks the tree against the file list
        Path restored = dir.resolve("restored");
        Jar.Run restore = Jar.run(dir, env, "restore", "files", "--latest", "--target", restored.toString(), "--json");
        assertThat(restore.exitCode()).as(restore.toString()).isZero();
        assertThat(tree(restored)).isEqualTo(tree(uploads));
        JsonNode r = restore.json();
        assertThat(r.get("links").asInt()).isEqualTo(3);
        assertThat(r.get("files").asInt()).isEqualTo(3); // photo.jpg, new.jpg, later.txt
        assertThat(r.get("directories").asInt()).isEqualTo(3); // 2026, 2026/01, empty
        assertThat(r.get("deleted").asInt()).isEqualTo(1); // ünïcode name.txt
        assertThat(r.get("treeCheck").asText())
                .isEqualTo(
                        "3 files, as the file list of " + inc2.json().get("id").asText() + " records");

        // the first increment's bytes changed in place with dd: the monitor's deep verification finds it, and the
        // chain is CRITICAL naming the link (exit 10)
        Path inc1Object = store.resolve(inc1.json().get("key").asText());
        Process dd = new ProcessBuilder(
                        "sh",
                        "-c",
                        "printf 'XXXXXXXX' | dd of='" + inc1Object + "' bs=1 seek=200 conv=notrunc status=none")
                .inheritIO()
                .start();
        assertThat(dd.waitFor()).isZero();
        Jar.Run damaged = Jar.run(dir, env, "monitor", "--kind", "files", "--verify", "--json");
        assertThat(damaged.exitCode()).as(damaged.toString()).isEqualTo(10);
        chain = damaged.json().get("report").get("kinds").get(0).get("chains").get(0);
        assertThat(chain.get("status").asText()).isEqualTo("CRITICAL");
        assertThat(chain.get("verified").asText()).isEqualTo("FAILED");
        assertThat(chain.get("damage").asText()).startsWith("its link " + inc1Id + " is damaged");

        // the link deleted with rm: CRITICAL naming it, in the text too
        Files.delete(inc1Object);
        Jar.Run missing = Jar.run(dir, env, "monitor", "--kind", "files");
        assertThat(missing.exitCode()).as(missing.toString()).isEqualTo(10);
        assertThat(missing.stdout())
                .contains("files chain " + fullId + ": CRITICAL")
                .contains("its link " + inc1Id + " is missing its data object "
                        + inc1.json().get("key").asText());
        Jar.Run noRestore = Jar.run(
                dir,
                env,
                "restore",
                "files",
                "--latest",
                "--target",
                dir.resolve("r2").toString());
        assertThat(noRestore.exitCode()).as(noRestore.toString()).isEqualTo(5);
    }

    @Test
    void damagedBackupFailsVerificationWithExitCode5() throws Exception {
        Path key = RunbookFixture.keyFile(dir);
        Map<String, String> env = env(key);
        JsonNode b = Jar.run(dir, env, "backup", "files", "--json").json();
        Path stored = store.resolve(b.get("key").asText());
        byte[] bytes = Files.readAllBytes(stored);
        bytes[bytes.length / 2] ^= 1;
        Files.write(stored, bytes);
        Jar.Run verify = Jar.run(dir, env, "verify", "--json");
        assertThat(verify.exitCode()).as(verify.toString()).isEqualTo(5);
        assertThat(verify.json().get("error").asText()).isEqualTo("INTEGRITY");
        Jar.Run list = Jar.run(dir, env, "list", "--check");
        assertThat(list.exitCode()).as(list.toString()).isEqualTo(5);
        assertThat(list.stdout()).contains("FAILED");
    }

    @Test
    void publicKeyModeBackupHostCannotReadWhatItWrote() throws Exception {
        Path pub = dir.resolve("backup-public.asc");
        Path sec = dir.resolve("backup-secret.asc");
        Path pass = dir.resolve("secret-key.pass");
        assertThat(Jar.run(dir, Map.of(), "keygen", pass.toString()).exitCode()).isZero();
        Jar.Run keygen = Jar.run(
                dir,
                Map.of(),
                "keygen",
                "--openpgp",
                "--public",
                pub.toString(),
                "--secret",
                sec.toString(),
                "--passphrase-file",
                pass.toString(),
                "--json");
        assertThat(keygen.exitCode()).as(keygen.toString()).isZero();
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(sec)))
                .isEqualTo("rw-------");
        assertThat(Files.readString(pub, StandardCharsets.US_ASCII)).startsWith("-----BEGIN PGP PUBLIC KEY BLOCK-----");

        Map<String, String> backupHost = env(null);
        backupHost.put("ENCRYPTION_PUBLIC_KEY_FILE", pub.toString());
        // public-key mode signs its backups: without a signing key, no backup (readers would refuse it)
        Jar.Run unsigned = Jar.run(dir, backupHost, "backup", "files");
        assertThat(unsigned.exitCode()).as(unsigned.toString()).isEqualTo(2);
        assertThat(unsigned.stderr()).contains("ENCRYPTION_SIGNING_KEY_FILE").contains("keygen --openpgp");
        Path signerPub = dir.resolve("signer-public.asc");
        Path signerSec = dir.resolve("signer-secret.asc");
        assertThat(Jar.run(
                                dir,
                                Map.of(),
                                "keygen",
                                "--openpgp",
                                "--public",
                                signerPub.toString(),
                                "--secret",
                                signerSec.toString(),
                                "--uid",
                                "backup-host")
                        .exitCode())
                .isZero();
        backupHost.put("ENCRYPTION_SIGNING_KEY_FILE", signerSec.toString());
        Jar.Run backup = Jar.run(dir, backupHost, "backup", "files");
        assertThat(backup.exitCode()).as(backup.toString()).isZero();
        Jar.Run cannot = Jar.run(dir, backupHost, "verify", "--deep");
        assertThat(cannot.exitCode()).as(cannot.toString()).isEqualTo(2);
        assertThat(cannot.stderr()).contains("ENCRYPTION_SECRET_KEY_FILE");

        Map<String, String> restoreHost = new HashMap<>(backupHost);
        restoreHost.remove("ENCRYPTION_PUBLIC_KEY_FILE");
        restoreHost.put("ENCRYPTION_SECRET_KEY_FILE", sec.toString());
        restoreHost.put("ENCRYPTION_SECRET_KEY_PASSPHRASE_FILE", pass.toString());
        restoreHost.remove("ENCRYPTION_SIGNING_KEY_FILE");
        Path restored = dir.resolve("restored");
        Jar.Run noSigner = Jar.run(dir, restoreHost, "restore", "files", "--latest", "--target", restored.toString());
        assertThat(noSigner.exitCode()).as(noSigner.toString()).isEqualTo(2);
        assertThat(noSigner.stderr()).contains("ENCRYPTION_SIGNER_PUBLIC_KEY_FILE");
        assertThat(restored).doesNotExist();
        restoreHost.put("ENCRYPTION_SIGNER_PUBLIC_KEY_FILE", signerPub.toString());
        // a monitor needs no secret in public-key mode: the signer's public key tells real backups from planted
        Map<String, String> monitorHost = new HashMap<>(env(null));
        monitorHost.put("ENCRYPTION_SIGNER_PUBLIC_KEY_FILE", signerPub.toString());
        Jar.Run list = Jar.run(dir, monitorHost, "list", "--check", "--json");
        assertThat(list.exitCode()).as(list.toString()).isZero();
        assertThat(list.json().get("backups").get(0).get("authenticity").asText())
                .isEqualTo("authenticated");
        Jar.Run restore = Jar.run(dir, restoreHost, "restore", "files", "--latest", "--target", restored.toString());
        assertThat(restore.exitCode()).as(restore.toString()).isZero();
        assertThat(tree(restored)).isEqualTo(tree(uploads));

        // gpg reads the key pair keygen made: the secret key imports, and opens the backup
        try (GpgCli gpg = GpgCli.create(dir)) {
            gpg.gpg("--passphrase-file", pass.toString(), "--import", sec.toString())
                    .orThrow();
            Path stored;
            try (Stream<Path> s = Files.list(store.resolve("files"))) {
                stored =
                        s.filter(p -> p.toString().endsWith(".gpg")).findFirst().orElseThrow();
            }
            Path tarGz = dir.resolve("public-mode.tar.gz");
            gpg.decrypt(stored, tarGz, pass).orThrow();
            assertThat(Jar.exec(dir, Map.of(), List.of("tar", "tzf", tarGz.toString()))
                            .stdout())
                    .contains("2026/01/photo.jpg");
        }
    }

    @Test
    void progressLineOnATerminalOnly() throws Exception {
        Path key = RunbookFixture.keyFile(dir);
        Map<String, String> env = env(key);
        // incompressible: gzip takes seconds, long enough to draw progress
        RunbookFixture.writeRandom(uploads.resolve("big.bin"), 128, 5);
        // `script` runs the jar on a pseudo-terminal, as a person at a shell would
        String command = String.join(" ", Jar.javaBinary(), "-jar", Jar.path().toString(), "backup", "files");
        Jar.Run onTerminal = Jar.exec(dir, env, List.of("script", "-qefc", command, "/dev/null"));
        assertThat(onTerminal.exitCode()).as(onTerminal.toString()).isZero();
        assertThat(onTerminal.stdout())
                .contains("\rbackup  ")
                .containsPattern("MiB/s")
                .contains("backed up");
    }

    /** Relative path -> SHA-256 of the content (files) or "dir", for every path below {@code root}. */
    static Map<String, String> hashes(Path root) throws Exception {
        java.util.HexFormat hex = java.util.HexFormat.of();
        Map<String, String> out = new TreeMap<>();
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                out.put(
                        root.relativize(p).toString(),
                        Files.isDirectory(p)
                                ? "dir"
                                : hex.formatHex(java.security.MessageDigest.getInstance("SHA-256")
                                        .digest(Files.readAllBytes(p))));
            }
        }
        return out;
    }

    /** Relative path -> content (files) or "dir". */
    static Map<String, String> tree(Path root) throws IOException {
        Map<String, String> out = new TreeMap<>();
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                String rel = root.relativize(p).toString();
                out.put(rel, Files.isDirectory(p) ? "dir" : Files.readString(p));
            }
        }
        return out;
    }

    @Test
    void aStoppedBackupToALocalStoreCommitsNothing() throws Exception {
        Path key = RunbookFixture.keyFile(dir);
        Map<String, String> env = env(key);
        // incompressible: gzip makes the backup take seconds
        RunbookFixture.writeRandom(uploads.resolve("big.bin"), 200, 5);
        Jar.Started backup = Jar.start(dir, env, "backup", "files");
        Path files = store.resolve("files");
        while (backup.process().isAlive() && !(Files.isDirectory(files) && hasTempFile(files))) {
            Thread.sleep(20);
        }
        assertThat(backup.process().isAlive())
                .as("the write started before the backup ended")
                .isTrue();
        backup.process().destroy(); // SIGTERM, as Kubernetes and systemd stop a job
        Jar.Run stopped = backup.await();
        assertThat(stopped.exitCode()).as(stopped.toString()).isNotZero();
        assertThat(stopped.stderr()).contains("was stopped; cleaning up (nothing is committed)");
        assertThat(stopped.stdout()).as(stopped.toString()).doesNotContain("backed up");
        Jar.Run list = Jar.run(dir, env, "list", "--json");
        assertThat(list.json().get("backups")).as(list.toString()).isEmpty();
        try (Stream<Path> left = Files.list(files)) {
            assertThat(left).as("no temporary file left").isEmpty();
        }
    }

    @Test
    void aStoppedRestoreLeavesNeitherTheTargetNorItsStagingDirectory() throws Exception {
        Path key = RunbookFixture.keyFile(dir);
        Map<String, String> env = env(key);
        RunbookFixture.writeRandom(uploads.resolve("big.bin"), 200, 7);
        Jar.Run backup = Jar.run(dir, env, "backup", "files");
        assertThat(backup.exitCode()).as(backup.toString()).isZero();
        Path parent = Files.createDirectories(dir.resolve("restores"));
        Path target = parent.resolve("uploads");
        Jar.Started restore = Jar.start(dir, env, "restore", "files", "--latest", "--target", target.toString());
        while (restore.process().isAlive() && !hasEntries(parent)) {
            Thread.sleep(10);
        }
        assertThat(restore.process().isAlive())
                .as("the extraction started before the restore ended")
                .isTrue();
        restore.process().destroy(); // SIGTERM
        Jar.Run stopped = restore.await();
        assertThat(stopped.exitCode()).as(stopped.toString()).isNotZero();
        assertThat(stopped.stdout()).as(stopped.toString()).doesNotContain("restored");
        try (Stream<Path> left = Files.list(parent)) {
            assertThat(left)
                    .as("no target and no staging directory: " + stopped)
                    .isEmpty();
        }
    }

    /**
     * Issue 11 item 6, as reported: {@code restore files --target /tmp/T --replace}, T a link another user planted in
     * a shared sticky directory to a root-only one, emptied that directory and restored into it (exit 0). And a
     * SOURCE_DIR holding the store was backed up, store and all.
     */
    @Test
    void aPlantedLinkAsTargetAndASourceHoldingTheStoreAreRefused() throws Exception {
        Path key = RunbookFixture.keyFile(dir);
        Map<String, String> env = env(key);
        assertThat(Jar.run(dir, env, "backup", "files").exitCode()).isZero();
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x")); // nobody may look in
        Path shared = Files.createDirectories(dir.resolve("shared"));
        Files.setPosixFilePermissions(shared, PosixFilePermissions.fromString("rwxrwxrwx"));
        new ProcessBuilder("chmod", "+t", shared.toString()).start().waitFor();
        Path secret = Files.createDirectories(dir.resolve("secret"));
        Files.setPosixFilePermissions(secret, PosixFilePermissions.fromString("rwx------"));
        Files.writeString(secret.resolve("keep.txt"), "root's");
        Path link = shared.resolve("T");
        boolean root = new String(
                        new ProcessBuilder("id", "-u").start().getInputStream().readAllBytes(), StandardCharsets.UTF_8)
                .trim()
                .equals("0");
        if (root) {
            assertThat(new ProcessBuilder(
                                    "runuser", "-u", "nobody", "--", "ln", "-s", secret.toString(), link.toString())
                            .inheritIO()
                            .start()
                            .waitFor())
                    .isZero();
        } else {
            Files.createSymbolicLink(link, secret);
        }
        Jar.Run restore = Jar.run(dir, env, "restore", "files", "--latest", "--target", link.toString(), "--replace");
        assertThat(restore.exitCode()).as(restore.toString()).isEqualTo(7);
        assertThat(restore.stderr()).contains("is a symbolic link", "restore into the real path " + secret);
        try (Stream<Path> left = Files.list(secret)) {
            assertThat(left.map(p -> p.getFileName().toString())).containsExactly("keep.txt");
        }

        Map<String, String> holdsStore = new HashMap<>(env);
        holdsStore.put("SOURCE_DIR", dir.toString());
        Jar.Run backup = Jar.run(dir, holdsStore, "backup", "files");
        assertThat(backup.exitCode()).as(backup.toString()).isEqualTo(2);
        assertThat(backup.stderr()).contains("overlaps the backup store", "BACKUP_DIR");
    }

    /**
     * Issue 11 item 9: a restore into a mount point swaps entries one by one. Killed (-9) in the middle of the swap,
     * the target is a mix of old and new entries; the next {@code restore files} into it (here one that is then
     * refused, without --replace) finishes the swap from the journal and says so: the target is then exactly the
     * restored tree, with nothing of the old one and no leftover.
     */
    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(strings = {"moving out", "moving in"})
    void aRestoreKilledDuringTheInPlaceSwapIsFinishedByTheNextRun(String when) throws Exception {
        Map<String, String> env = inPlaceFixture();
        Path target = mountTmpfs(dir.resolve("mnt"));
        try {
            Map<String, String> oldTree = oldContent(target);
            Map<String, String> slow = new HashMap<>(env);
            slow.put("JAVA_TOOL_OPTIONS", "-Djiffoo.test.inPlaceMovePauseMillis=150");
            Jar.Started restore =
                    Jar.start(dir, slow, "restore", "files", "--latest", "--target", target.toString(), "--replace");
            awaitSwap(restore, target, when);
            restore.process().destroyForcibly(); // SIGKILL: no shutdown hook, no clean-up
            Jar.Run killed = restore.await();
            assertThat(killed.exitCode()).as(killed.toString()).isEqualTo(137);
            Map<String, String> mixed = hashes(target);
            assertThat(mixed)
                    .as("killed mid-swap: neither tree")
                    .isNotEqualTo(oldTree)
                    .isNotEqualTo(hashes(uploads));

            Jar.Run next = Jar.run(dir, env, "restore", "files", "--latest", "--target", target.toString());
            assertThat(hashes(target))
                    .as("after the next run: exactly the restored tree; " + next)
                    .isEqualTo(hashes(uploads));
            assertThat(next.stdout()).as(next.toString()).contains("finished the interrupted restore into " + target);
            assertThat(next.exitCode())
                    .as("then refused: not empty, no --replace; " + next)
                    .isEqualTo(7);
        } finally {
            umount(target);
        }
    }

    /**
     * Issue 11 item 9: stopped (SIGTERM) once the in-place swap has begun, the launcher said "nothing is committed"
     * while --json said ok and the target was replaced. The swap is finished and the report says so, in the exit
     * code, the message and the JSON alike.
     */
    @Test
    void aRestoreStoppedDuringTheInPlaceSwapReportsWhatHappened() throws Exception {
        Map<String, String> env = inPlaceFixture();
        Path target = mountTmpfs(dir.resolve("mnt"));
        try {
            oldContent(target);
            Map<String, String> slow = new HashMap<>(env);
            slow.put("JAVA_TOOL_OPTIONS", "-Djiffoo.test.inPlaceMovePauseMillis=150");
            Jar.Started restore = Jar.start(
                    dir, slow, "restore", "files", "--latest", "--target", target.toString(), "--replace", "--json");
            awaitSwap(restore, target, "moving out");
            restore.process().destroy(); // SIGTERM
            Jar.Run stopped = restore.await();
            assertThat(stopped.stderr())
                    .as(stopped.toString())
                    .doesNotContain("nothing is committed")
                    .contains("was stopped during the commit");
            assertThat(stopped.json().get("status").asText())
                    .as(stopped.toString())
                    .isEqualTo("ok");
            assertThat(stopped.exitCode()).as(stopped.toString()).isZero();
            assertThat(hashes(target)).as("the swap was finished, as reported").isEqualTo(hashes(uploads));
        } finally {
            umount(target);
        }
    }

    /** A backup of {@code uploads} holding twelve top-level entries (one, "shared", also in the old tree). */
    private Map<String, String> inPlaceFixture() throws Exception {
        Path key = RunbookFixture.keyFile(dir);
        Map<String, String> env = env(key);
        for (int i = 0; i < 8; i++) {
            Files.writeString(uploads.resolve("new-" + i + ".txt"), "new " + i);
        }
        Files.writeString(uploads.resolve("shared"), "new content");
        Jar.Run backup = Jar.run(dir, env, "backup", "files");
        assertThat(backup.exitCode()).as(backup.toString()).isZero();
        return env;
    }

    /** Fills the target with an old tree of eleven entries; returns it. */
    private static Map<String, String> oldContent(Path target) throws Exception {
        for (int i = 0; i < 8; i++) {
            Files.createDirectories(target.resolve("old-dir-" + i));
            Files.writeString(target.resolve("old-dir-" + i).resolve("f"), "old " + i);
        }
        Files.writeString(target.resolve("shared"), "old content");
        Files.createDirectories(target.resolve("2026"));
        Files.writeString(target.resolve("2026/old.jpg"), "old photo");
        return hashes(target);
    }

    /** Waits until the in-place swap has moved three entries out of the target, or (moving in) three into it. */
    private static void awaitSwap(Jar.Started restore, Path target, String when) throws Exception {
        long deadline = System.nanoTime() + 120_000_000_000L;
        while (restore.process().isAlive() && System.nanoTime() < deadline) {
            long out = 0;
            long in = 0;
            try (Stream<Path> s = Files.list(target)) {
                for (Path p : (Iterable<Path>) s::iterator) {
                    String name = p.getFileName().toString();
                    if (name.startsWith(".jiffoo-old-")) {
                        try (Stream<Path> moved = Files.list(p)) {
                            out = moved.count();
                        }
                    } else if (name.startsWith("new-")) {
                        in++;
                    }
                }
            } catch (java.nio.file.NoSuchFileException e) {
                continue; // an entry moved while listed
            }
            if (when.equals("moving out") ? out >= 3 : in >= 3) {
                return;
            }
            Thread.sleep(5);
        }
        throw new AssertionError("the swap was not seen " + when + ": " + restore.await());
    }

    private Path mountTmpfs(Path target) throws Exception {
        Files.createDirectories(target);
        Process p = new ProcessBuilder("mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", target.toString())
                .redirectErrorStream(true)
                .start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        org.junit.jupiter.api.Assumptions.assumeTrue(
                p.waitFor() == 0, "mounting a tmpfs needs root (CI runs as root): " + out);
        return target;
    }

    private static void umount(Path target) throws Exception {
        new ProcessBuilder("umount", target.toString()).inheritIO().start().waitFor();
    }

    private static boolean hasEntries(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.findAny().isPresent();
        }
    }

    private static boolean hasTempFile(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.anyMatch(p -> p.getFileName().toString().startsWith(".tmp-"));
        }
    }
}

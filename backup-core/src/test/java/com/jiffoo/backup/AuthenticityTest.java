package com.jiffoo.backup;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.jiffoo.backup.crypto.OpenPgpTransform;
import com.jiffoo.backup.crypto.PassphraseKeyFile;
import com.jiffoo.backup.monitor.BackupMonitor;
import com.jiffoo.backup.monitor.HealthReport;
import com.jiffoo.backup.monitor.HealthStatus;
import com.jiffoo.backup.store.LocalDirectorySink;
import com.jiffoo.backup.testutil.Cli;
import com.jiffoo.backup.testutil.GeneratedSource;
import com.jiffoo.backup.testutil.GpgCli;
import com.jiffoo.backup.testutil.MemoryTarget;
import com.jiffoo.backup.testutil.TestKeys;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Someone who can write to the store but holds no key cannot plant a backup that verify, restore, list or the monitor
 * accept (issue 11). Every planted object is made with the CLIs an attacker would use — tar, sha256sum, gpg — and a
 * manifest edited as text, never with this library.
 */
class AuthenticityTest {
    private static final Instant AT = Instant.parse("2026-11-30T02:00:00Z");

    @TempDir
    Path dir;

    private Path keyFile;
    private OpenPgpTransform pgp;
    private LocalDirectorySink store;
    private Path root;

    @BeforeEach
    void setUp() {
        keyFile = TestKeys.keyFile(dir, "backup.key");
        pgp = OpenPgpTransform.builder()
                .passphrase(PassphraseKeyFile.read(keyFile))
                .build();
        root = dir.resolve("store");
        store = LocalDirectorySink.create(root);
    }

    private BackupManifest backup(OpenPgpTransform with, Instant at) {
        return BackupPipeline.builder()
                .source(new GeneratedSource("files", 200_000, at.getEpochSecond()))
                .sink(store)
                .encryption(with)
                .clock(Clock.fixed(at, ZoneOffset.UTC))
                .build()
                .run();
    }

    /**
     * Plants {@code data} as {@code files/<id>.tar.gz[.gpg]} with a sha256sum sidecar and a manifest copied from a
     * real one and edited as text: new key, id, size, digests, time, and the given transforms.
     */
    private String plant(BackupManifest real, Path data, String id, String suffix, boolean encrypted) throws Exception {
        String objectKey = "files/" + id + suffix;
        Path target = root.resolve(objectKey);
        Files.copy(data, target);
        String sha = Cli.run(
                        root.resolve("files").toFile(),
                        List.of("sha256sum", target.getFileName().toString()))
                .assertOk()
                .stdout();
        Files.writeString(root.resolve(objectKey + ".sha256"), sha);
        String hex = sha.substring(0, 64);
        String json = Files.readString(root.resolve(real.manifestKey()))
                .replace(real.objectKey(), objectKey)
                .replace(real.id(), id)
                .replace(real.objectSha256(), hex)
                .replace(real.plaintextSha256(), hex)
                .replace("\"size\" : " + real.objectSize(), "\"size\" : " + Files.size(data))
                .replace("\"size\" : " + real.plaintextSize(), "\"size\" : " + Files.size(data))
                .replace(
                        real.completedAt().toString(),
                        real.completedAt().plusSeconds(3600).toString());
        if (!encrypted) {
            json = json.replaceAll("(?s)\"transforms\" : \\[.*?\\],", "\"transforms\" : [ ],")
                    .replace("\"encrypted\" : true", "\"encrypted\" : false");
        }
        Files.writeString(root.resolve(objectKey + ".manifest.json"), json);
        return objectKey;
    }

    private Path evilTarGz() throws Exception {
        Path evil = Files.createDirectories(dir.resolve("evil"));
        Files.writeString(evil.resolve("index.php"), "<?php system($_GET['c']); ?>");
        Path tgz = dir.resolve("evil.tar.gz");
        Cli.run(dir.toFile(), List.of("tar", "czf", tgz.toString(), "-C", evil.toString(), "."))
                .assertOk();
        return tgz;
    }

    @Test
    void aPlantedPlainTarGzWithAHandWrittenManifestIsRefusedEverywhere() throws Exception {
        BackupManifest real = backup(pgp, AT);
        String planted = plant(real, evilTarGz(), "files_backup_20261130_030000", ".tar.gz", false);

        BackupTrust trust = BackupTrust.of(List.of(pgp));
        StoredBackups.Scan scan = StoredBackups.of(store, trust).scan("files");
        assertThat(scan.committed()).extracting(BackupManifest::objectKey).containsExactly(real.objectKey());
        assertThat(scan.refusedNewest())
                .extracting(StoredBackups.Refused::key)
                .containsExactly(planted + ".manifest.json");
        assertThatThrownBy(scan::latestTrusted)
                .isInstanceOf(IntegrityException.class)
                .hasMessageContaining(planted + ".manifest.json")
                .hasMessageContaining("not authenticated");

        MemoryTarget target = new MemoryTarget();
        RestorePipeline restore = RestorePipeline.builder()
                .sink(store)
                .decryption(pgp)
                .target(target)
                .build();
        assertThatThrownBy(() -> restore.restore(planted))
                .isInstanceOf(IntegrityException.class)
                .hasMessageContaining("not authenticated")
                .hasMessageContaining("allowUnauthenticated(true)");
        assertThatThrownBy(() -> restore.restoreLatest("files"))
                .isInstanceOf(IntegrityException.class)
                .hasMessageContaining(planted)
                .hasMessageContaining(real.objectKey());
        assertThat(target.committed()).isNull();
        BackupVerifier verifier =
                BackupVerifier.builder().sink(store).transforms(List.of(pgp)).build();
        assertThatThrownBy(() -> verifier.verify(planted, true)).isInstanceOf(IntegrityException.class);
        assertThatThrownBy(() -> verifier.verify(planted, false)).isInstanceOf(IntegrityException.class);

        // allowing unauthenticated backups still refuses one that is not encrypted as configured: no downgrade
        BackupTrust legacy = trust.toBuilder().allowUnauthenticated(true).build();
        assertThatThrownBy(() -> restore.toBuilder().trust(legacy).build().restore(planted))
                .isInstanceOf(IntegrityException.class)
                .hasMessageContaining("not encrypted");
        // both loosened explicitly: the operator's own choice, and the backup is marked as unauthenticated
        BackupManifest loose = StoredBackups.of(
                        store, legacy.toBuilder().allowUnencrypted(true).build())
                .manifest(planted);
        assertThat(loose.authenticity()).isEqualTo(BackupTrust.Authenticity.UNAUTHENTICATED);
        assertThat(StoredBackups.of(store, trust).manifest(real.objectKey()).authenticity())
                .isEqualTo(BackupTrust.Authenticity.AUTHENTICATED);
    }

    @Test
    void aPlantedGpgSymmetricBackupWithAForgedOrCopiedSignatureIsRefused() throws Exception {
        BackupManifest real = backup(pgp, AT);
        Path other = TestKeys.keyFile(dir, "attacker.key");
        Path gpgOut = dir.resolve("evil.tar.gz.gpg");
        try (GpgCli gpg = GpgCli.create(dir.resolve("gnupg"))) {
            gpg.encryptSymmetric(evilTarGz(), gpgOut, other).orThrow();
        }
        String planted = plant(real, gpgOut, "files_backup_20261130_030000", ".tar.gz.gpg", true);
        // the attacker copies the real backup's signature, and also tries a hand-made HMAC line
        Files.copy(root.resolve(real.signatureKey()), root.resolve(planted + ".manifest.json.sig"));
        assertThatThrownBy(() ->
                        StoredBackups.of(store, BackupTrust.of(List.of(pgp))).manifest(planted))
                .isInstanceOf(IntegrityException.class)
                .hasMessageContaining("not authentic")
                .hasMessageContaining("HMAC does not match");
        Files.writeString(
                root.resolve(planted + ".manifest.json.sig"), "jiffoo-backup-hmac-sha256-v1 " + "ab".repeat(32) + "\n");
        assertThatThrownBy(() ->
                        StoredBackups.of(store, BackupTrust.of(List.of(pgp))).manifest(planted))
                .isInstanceOf(IntegrityException.class)
                .hasMessageContaining("not authentic");
        // and in the scheme of random key files (one PBKDF2 iteration) alike
        Files.writeString(
                root.resolve(planted + ".manifest.json.sig"), "jiffoo-backup-hmac-sha256-v2 " + "ab".repeat(32) + "\n");
        assertThatThrownBy(() ->
                        StoredBackups.of(store, BackupTrust.of(List.of(pgp))).manifest(planted))
                .isInstanceOf(IntegrityException.class)
                .hasMessageContaining("not authentic")
                .hasMessageContaining("HMAC does not match");
        // a bad signature is refused even when unauthenticated backups are allowed
        assertThatThrownBy(() -> StoredBackups.of(
                                store,
                                BackupTrust.of(List.of(pgp)).toBuilder()
                                        .allowUnauthenticated(true)
                                        .build())
                        .manifest(planted))
                .isInstanceOf(IntegrityException.class);
    }

    @Test
    void aManifestEditedAfterSigningIsRefused() throws Exception {
        BackupManifest real = backup(pgp, AT);
        Path manifest = root.resolve(real.manifestKey());
        Files.writeString(
                manifest,
                Files.readString(manifest)
                        .replace(
                                real.completedAt().toString(),
                                real.completedAt().plusSeconds(86_400).toString()));
        assertThatThrownBy(() ->
                        StoredBackups.of(store, BackupTrust.of(List.of(pgp))).manifest(real.objectKey()))
                .isInstanceOf(IntegrityException.class)
                .hasMessageContaining("HMAC does not match");
    }

    /**
     * docs/security.md's checks by hand, for both kinds of key file: a random key (as keygen and {@code openssl rand
     * -base64 32} write) signs in scheme v2 (one PBKDF2 iteration), a passphrase a person chose in v1 (200,000).
     */
    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.CsvSource({
        "random,, jiffoo-backup-hmac-sha256-v2, jiffoo-backup manifest authentication v2, 1",
        "passphrase, correct horse battery staple, jiffoo-backup-hmac-sha256-v1,"
                + " jiffoo-backup manifest authentication v1, 200000"
    })
    void theHmacCanBeCheckedByHandWithOpenssl(String kind, String phrase, String tag, String salt, String iterations)
            throws Exception {
        if (phrase != null) {
            keyFile = TestKeys.keyFile(dir, "backup.key", phrase + "\n");
            pgp = OpenPgpTransform.builder()
                    .passphrase(PassphraseKeyFile.read(keyFile))
                    .build();
        }
        BackupManifest real = backup(pgp, AT);
        assertThat(Files.readString(root.resolve(real.signatureKey()))).as(kind).startsWith(tag + " ");
        String passphrase = Files.readString(keyFile).lines().findFirst().orElseThrow();
        // as docs/security.md says: the key with `openssl kdf`, then the HMAC with `openssl dgst`
        String k = Cli.run(
                        dir.toFile(),
                        List.of(
                                "openssl",
                                "kdf",
                                "-keylen",
                                "32",
                                "-kdfopt",
                                "digest:SHA256",
                                "-kdfopt",
                                "pass:" + passphrase,
                                "-kdfopt",
                                "salt:" + salt,
                                "-kdfopt",
                                "iter:" + iterations,
                                "PBKDF2"))
                .assertOk()
                .stdout()
                .strip()
                .replace(":", "");
        String mac = Cli.run(
                        dir.toFile(),
                        List.of(
                                "openssl",
                                "dgst",
                                "-sha256",
                                "-mac",
                                "HMAC",
                                "-macopt",
                                "hexkey:" + k,
                                "-r",
                                root.resolve(real.manifestKey()).toString()))
                .assertOk()
                .stdout()
                .substring(0, 64);
        assertThat(Files.readString(root.resolve(real.signatureKey()))).isEqualTo(tag + " " + mac + "\n");

        // and docs/security.md's python3 recipe, where python3 is installed
        org.junit.jupiter.api.Assumptions.assumeTrue(
                Cli.run(dir.toFile(), List.of("sh", "-c", "command -v python3")).exitCode() == 0,
                "python3 is not installed");
        String script = "import hashlib, hmac, sys\n"
                + "p = open(sys.argv[1], 'rb').read().split(b'\\n')[0]\n"
                + "tag = open(sys.argv[3]).read().split(' ')[0]\n"
                + "salt, n = {'jiffoo-backup-hmac-sha256-v1': (b'jiffoo-backup manifest authentication v1', 200000),\n"
                + "           'jiffoo-backup-hmac-sha256-v2': (b'jiffoo-backup manifest authentication v2', 1)}[tag]\n"
                + "k = hashlib.pbkdf2_hmac('sha256', p, salt, n)\n"
                + "print(tag, hmac.new(k, open(sys.argv[2], 'rb').read(), 'sha256').hexdigest())\n";
        Path py = dir.resolve("check.py");
        Files.writeString(py, script);
        assertThat(Cli.run(
                                dir.toFile(),
                                List.of(
                                        "python3",
                                        py.toString(),
                                        keyFile.toString(),
                                        root.resolve(real.manifestKey()).toString(),
                                        root.resolve(real.signatureKey()).toString()))
                        .assertOk()
                        .stdout())
                .isEqualTo(Files.readString(root.resolve(real.signatureKey())));
    }

    @Test
    void publicKeyModeSignaturesInteroperateWithGpgAndRefuseOtherSigners() throws Exception {
        assertThat(GpgCli.available()).as("needs the gpg CLI").isTrue();
        try (GpgCli gpg = GpgCli.create(dir.resolve("gnupg"))) {
            Path pass = TestKeys.keyFile(dir, "pass");
            GpgCli.Key ops = gpg.generateCurve25519Key("ops@example.com", pass);
            GpgCli.Key host = gpg.generateSigningOnlyKey("backup-host@example.com", pass);
            GpgCli.Key attacker = gpg.generateSigningOnlyKey("attacker@example.com", pass);
            Path opsPublic = gpg.exportPublicKey(ops, dir.resolve("ops.pub.asc"), true);
            Path opsSecret = gpg.exportSecretKey(ops, dir.resolve("ops.sec.asc"), true, pass);
            Path hostSecret = gpg.exportSecretKey(host, dir.resolve("host.sec.asc"), true, pass);
            Path hostPublic = gpg.exportPublicKey(host, dir.resolve("host.pub.asc"), true);
            char[] passphrase = Files.readString(pass).strip().toCharArray();

            OpenPgpTransform backupHost = OpenPgpTransform.builder()
                    .recipient(opsPublic)
                    .signingKey(hostSecret, passphrase)
                    .build();
            OpenPgpTransform restoreHost = OpenPgpTransform.builder()
                    .secretKey(opsSecret, passphrase)
                    .signer(hostPublic)
                    .build();
            BackupManifest real = backup(backupHost, AT);

            // our signature is a standard detached signature: gpg --verify checks it
            Cli.Result verified = Cli.run(
                    dir.toFile(),
                    List.of(
                            GpgCli.GPG,
                            "--homedir",
                            gpg.home().toString(),
                            "--batch",
                            "--verify",
                            root.resolve(real.signatureKey()).toString(),
                            root.resolve(real.manifestKey()).toString()));
            assertThat(verified.exitCode()).as(verified.stderr()).isZero();
            assertThat(verified.stderr()).contains("Good signature").contains("backup-host@example.com");
            MemoryTarget target = new MemoryTarget();
            RestorePipeline.builder()
                    .sink(store)
                    .decryption(restoreHost)
                    .target(target)
                    .build()
                    .restore(real.objectKey());
            assertThat(target.committed()).hasSize((int) real.plaintextSize());

            // the attacker encrypts to the public key (which is public) and plants it
            Path planted = dir.resolve("evil.tar.gz.gpg");
            gpg.encryptTo("ops@example.com", evilTarGz(), planted).orThrow();
            String key = plant(real, planted, "files_backup_20261130_030000", ".tar.gz.gpg", true);
            Path manifest = root.resolve(key + ".manifest.json");
            BackupTrust trust = BackupTrust.of(List.of(restoreHost));
            assertThatThrownBy(() -> StoredBackups.of(store, trust).manifest(key))
                    .isInstanceOf(IntegrityException.class)
                    .hasMessageContaining("no signature");

            // ... signed with the attacker's own key
            gpg.gpg(
                            "--passphrase-file",
                            pass.toString(),
                            "--local-user",
                            attacker.fingerprint(),
                            "--armor",
                            "--output",
                            manifest + ".sig",
                            "--detach-sign",
                            manifest.toString())
                    .orThrow();
            assertThatThrownBy(() -> StoredBackups.of(store, trust).manifest(key))
                    .isInstanceOf(IntegrityException.class)
                    .hasMessageContaining("not a configured signer");

            // the holder of the signing key can sign a manifest with gpg by hand, and we accept it
            Files.delete(Path.of(manifest + ".sig"));
            gpg.gpg(
                            "--passphrase-file",
                            pass.toString(),
                            "--local-user",
                            host.fingerprint(),
                            "--output",
                            manifest + ".sig",
                            "--detach-sign",
                            manifest.toString())
                    .orThrow();
            BackupManifest accepted = StoredBackups.of(store, trust).manifest(key);
            assertThat(accepted.authenticity()).isEqualTo(BackupTrust.Authenticity.AUTHENTICATED);
            assertThat(accepted.signedBy().orElseThrow()).contains(host.fingerprint());

            // a backup host without a signing key makes no backup at all (readers would refuse it)
            OpenPgpTransform unsigned =
                    OpenPgpTransform.builder().recipient(opsPublic).build();
            assertThatThrownBy(() -> backup(unsigned, AT.plusSeconds(7200)))
                    .isInstanceOf(ConfigurationException.class)
                    .hasMessageContaining("signing key");
            assertThat(store.list("files/files_backup_20261130_04")).isEmpty();
        }
    }

    @Test
    void aSignatureOfTheOtherModeIsAForeignObjectNotAConfigurationError() throws Exception {
        assertThat(GpgCli.available()).as("needs the gpg CLI").isTrue();
        try (GpgCli gpg = GpgCli.create(dir.resolve("gnupg"))) {
            Path pass = TestKeys.keyFile(dir, "pass");
            GpgCli.Key ops = gpg.generateCurve25519Key("ops@example.com", pass);
            GpgCli.Key host = gpg.generateSigningOnlyKey("backup-host@example.com", pass);
            GpgCli.Key attacker = gpg.generateSigningOnlyKey("attacker@example.com", pass);
            char[] passphrase = Files.readString(pass).strip().toCharArray();
            OpenPgpTransform publicKeyMode = OpenPgpTransform.builder()
                    .recipient(gpg.exportPublicKey(ops, dir.resolve("ops.pub.asc"), true))
                    .signingKey(gpg.exportSecretKey(host, dir.resolve("host.sec.asc"), true, pass), passphrase)
                    .build();

            // passphrase mode: the attacker replaces the HMAC line with their own gpg signature
            BackupManifest hmacSigned = backup(pgp, AT);
            Path sig = root.resolve(hmacSigned.signatureKey());
            Files.delete(sig);
            gpg.gpg(
                            "--passphrase-file",
                            pass.toString(),
                            "--local-user",
                            attacker.fingerprint(),
                            "--armor",
                            "--output",
                            sig.toString(),
                            "--detach-sign",
                            root.resolve(hmacSigned.manifestKey()).toString())
                    .orThrow();
            BackupTrust passphraseTrust = BackupTrust.of(List.of(pgp));
            assertThatThrownBy(() -> StoredBackups.of(store, passphraseTrust).manifest(hmacSigned.objectKey()))
                    .isInstanceOf(ForeignSignatureException.class)
                    .isInstanceOf(IntegrityException.class)
                    .hasMessageContaining(hmacSigned.manifestKey())
                    .hasMessageContaining("an OpenPGP signature");

            // public-key mode: the attacker writes an HMAC line with a text editor (printf)
            BackupManifest pgpSigned = backup(publicKeyMode, AT.plusSeconds(3600));
            Path sig2 = root.resolve(pgpSigned.signatureKey());
            Cli.run(
                            dir.toFile(),
                            List.of(
                                    "sh",
                                    "-c",
                                    "printf 'jiffoo-backup-hmac-sha256-v1 %s\\n' \"$(sha256sum < '"
                                            + root.resolve(pgpSigned.manifestKey()) + "' | cut -c1-64)\" > '" + sig2
                                            + "'"))
                    .assertOk();
            assertThat(Files.readString(sig2)).matches("jiffoo-backup-hmac-sha256-v1 [0-9a-f]{64}\n");
            BackupTrust publicKeyTrust = BackupTrust.of(List.of(publicKeyMode));
            BackupException e = org.junit.jupiter.api.Assertions.assertThrows(
                    BackupException.class,
                    () -> StoredBackups.of(store, publicKeyTrust).manifest(pgpSigned.objectKey()));
            assertThat(e).isInstanceOf(ForeignSignatureException.class).hasMessageContaining("an HMAC line");
            assertThat(e.code()).isEqualTo(ErrorCode.INTEGRITY);

            // the same in every store (here: the only one): this host's configuration, exit 2
            assertThat(ForeignSignatureException.ifEveryStore(List.of(e)))
                    .get()
                    .satisfies(c -> assertThat(c.code()).isEqualTo(ErrorCode.CONFIGURATION))
                    .satisfies(c -> assertThat(c.getMessage()).contains(pgpSigned.manifestKey()));
            assertThat(ForeignSignatureException.ifEveryStore(
                            List.of(e, new StorageException("down", null, "file:/elsewhere", null))))
                    .isEmpty();
        }
    }

    @Test
    void aPlantedPassedVerificationRecordDoesNotMakeADamagedBackupLookGood() throws Exception {
        BackupManifest real = backup(pgp, AT);
        String record = "{\n  \"formatVersion\" : 1,\n  \"objectKey\" : \"" + real.objectKey() + "\",\n"
                + "  \"backupId\" : \"" + real.id() + "\",\n  \"verifiedAt\" : \"2026-11-30T04:00:00Z\",\n"
                + "  \"mode\" : \"deep\",\n  \"result\" : \"passed\",\n  \"elapsedMillis\" : 5,\n"
                + "  \"host\" : \"attacker\"\n}\n";
        Files.writeString(root.resolve(real.objectKey() + ".verified-20261130T040000000Z-abcdef.json"), record);
        BackupTrust trust = BackupTrust.of(List.of(pgp));
        assertThat(StoredBackups.of(store, trust).verifications(real)).isEmpty();
        assertThat(StoredBackups.of(store).verifications(real)).hasSize(1); // trusting the store, as before

        // a record the verifier signs is believed
        BackupVerifier.builder()
                .sink(store)
                .transforms(List.of(pgp))
                .clock(Clock.fixed(AT.plusSeconds(60), ZoneOffset.UTC))
                .build()
                .verify(real.objectKey(), true);
        assertThat(StoredBackups.of(store, trust).verifications(real))
                .singleElement()
                .satisfies(r -> assertThat(r.host()).isNotEqualTo("attacker"));
    }

    @Test
    void theMonitorIsCriticalWhenTheNewestManifestCannotBeReadOrTrusted() throws Exception {
        BackupManifest older = backup(pgp, AT.minusSeconds(86_400));
        BackupManifest real = backup(pgp, AT);
        Clock now = Clock.fixed(AT.plusSeconds(3600), ZoneOffset.UTC);
        BackupMonitor monitor = BackupMonitor.builder()
                .sink(store)
                .kinds("files")
                .clock(now)
                .requireVerificationWithin(null)
                .transforms(List.of(pgp))
                .build();
        assertThat(monitor.runHealthChecks().status()).isEqualTo(HealthStatus.OK);

        // a newer manifest that is not JSON at all (a broken upload, an editor accident)
        Thread.sleep(20);
        Path garbled = root.resolve("files/files_backup_20261130_030000.bin.gpg.manifest.json");
        Files.writeString(garbled, "{ \"formatVersion\" : 1, \"id\" : ");
        HealthReport report = monitor.runHealthChecks();
        assertThat(report.status()).isEqualTo(HealthStatus.CRITICAL);
        assertThat(String.join("\n", report.summaryLines()))
                .contains("files_backup_20261130_030000.bin.gpg.manifest.json")
                .contains("cannot be trusted");
        Files.delete(garbled);

        // the previous backup with its signature removed (as backups written before signing have none): a warning
        Files.delete(root.resolve(older.signatureKey()));
        report = monitor.runHealthChecks();
        assertThat(report.status()).as(report.summaryLines().toString()).isEqualTo(HealthStatus.WARNING);
        assertThat(String.join("\n", report.summaryLines())).contains(older.manifestKey());

        // the newest one unsigned: critical
        Files.delete(root.resolve(real.signatureKey()));
        report = monitor.runHealthChecks();
        assertThat(report.status()).isEqualTo(HealthStatus.CRITICAL);
        assertThat(String.join("\n", report.summaryLines()))
                .contains(real.manifestKey())
                .contains("no signature");
    }
}

package com.jiffoo.backup.files;

import static com.jiffoo.backup.files.TestTrees.q;
import static com.jiffoo.backup.files.TestTrees.sh;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.jiffoo.backup.BackupManifest;
import com.jiffoo.backup.BackupPipeline;
import com.jiffoo.backup.BackupTrust;
import com.jiffoo.backup.BackupVerifier;
import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.DecryptionException;
import com.jiffoo.backup.IntegrityException;
import com.jiffoo.backup.RestorePipeline;
import com.jiffoo.backup.StoredObject;
import com.jiffoo.backup.crypto.OpenPgpTransform;
import com.jiffoo.backup.crypto.PassphraseKeyFile;
import com.jiffoo.backup.store.LocalDirectorySink;
import com.jiffoo.backup.testutil.GpgCli;
import com.jiffoo.backup.testutil.TestKeys;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * A directory backed up through the whole pipeline (tar, compression, OpenPGP, SHA-256, local store) and restored,
 * by the library and by the standard tools alone.
 */
class FileBackupEndToEndTest {
    @TempDir
    Path dir;

    private Path tree;
    private Path keyFile;
    private LocalDirectorySink store;
    private OpenPgpTransform pgp;
    private Map<String, String> original;

    @BeforeEach
    void setUp() throws Exception {
        tree = dir.resolve("uploads");
        TestTrees.createSampleTree(tree);
        original = TestTrees.snapshot(tree);
        keyFile = TestKeys.keyFile(dir, "backup.key");
        store = LocalDirectorySink.create(dir.resolve("store"));
        pgp = OpenPgpTransform.builder()
                .passphrase(PassphraseKeyFile.read(keyFile))
                .build();
    }

    private BackupManifest backUp(Compression compression, OpenPgpTransform encryption) {
        return BackupPipeline.builder()
                .source(DirectorySource.builder(tree).compression(compression).build())
                .encryption(encryption)
                .sink(store)
                .build()
                .run();
    }

    private RestorePipeline restoreInto(Path target, OpenPgpTransform decryption) {
        return RestorePipeline.builder()
                .sink(store)
                .decryption(decryption)
                .target(DirectoryRestoreTarget.builder(target)
                        .replaceExisting(true)
                        .build())
                .build();
    }

    @ParameterizedTest
    @EnumSource(Compression.class)
    void encryptedBackupRestoresAnIdenticalTree(Compression compression) throws Exception {
        BackupManifest m = backUp(compression, pgp);
        assertThat(m.objectKey())
                .matches("files/files_backup_\\d{8}_\\d{6}"
                        + compression.suffix().replace(".", "\\.") + "\\.gpg");
        assertThat(m.encrypted()).isTrue();
        assertThat(m.sourceFacts()).containsEntry("compression", compression.id());

        Path restored = dir.resolve("restored");
        restoreInto(restored, pgp).restore(m.objectKey());
        assertThat(TestTrees.snapshot(restored)).isEqualTo(original);
    }

    @Test
    void gpgTarAndSha256sumAloneRestoreOurBackup() throws Exception {
        BackupManifest m = backUp(Compression.GZIP, pgp);
        Path data = store.pathOf(m.objectKey());
        sh(data.getParent(), "sha256sum -c " + q(store.pathOf(m.sha256Key())));
        Path out = Files.createDirectory(dir.resolve("by-hand"));
        sh(
                dir,
                "gpg --homedir " + q(Files.createDirectories(dir.resolve("gnupg"))) + " --batch --pinentry-mode"
                        + " loopback --passphrase-file " + q(keyFile) + " -d " + q(data) + " | tar xz -C " + q(out));
        assertThat(TestTrees.snapshot(out)).isEqualTo(original);
    }

    @Test
    void publicKeyBackupIsUnreadableOnTheBackupHostAndOpensWithTheSecretKey() throws Exception {
        Path keyPass = TestKeys.keyFile(dir, "key-pass");
        try (GpgCli gpg = GpgCli.create(dir.resolve("gpg"))) {
            GpgCli.Key key = gpg.generateCurve25519Key("Backups <backup@jiffoo.test>", keyPass);
            Path publicKey = gpg.exportPublicKey(key, dir.resolve("backup-public.asc"), true);
            Path secretKey = gpg.exportSecretKey(key, dir.resolve("backup-secret.gpg"), false, keyPass);

            GpgCli.Key host = gpg.generateSigningOnlyKey("Backup host <host@jiffoo.test>", keyPass);
            Path hostSecret = gpg.exportSecretKey(host, dir.resolve("host-secret.asc"), true, keyPass);
            Path hostPublic = gpg.exportPublicKey(host, dir.resolve("host-public.asc"), true);
            OpenPgpTransform backupHost = OpenPgpTransform.builder()
                    .recipient(publicKey)
                    .signingKey(hostSecret, TestKeys.passphraseOf(keyPass).toCharArray())
                    .build();
            BackupManifest m = backUp(Compression.ZSTD, backupHost);
            assertThat(m.transforms().get(0)).containsEntry("mode", "public-key");

            Path restored = dir.resolve("restored");
            assertThatThrownBy(() -> restoreInto(restored, backupHost).restore(m.objectKey()))
                    .isInstanceOf(ConfigurationException.class)
                    .hasMessageContaining("cannot decrypt");
            assertThat(restored).doesNotExist();

            OpenPgpTransform restoreHost = OpenPgpTransform.builder()
                    .secretKey(secretKey, TestKeys.passphraseOf(keyPass).toCharArray())
                    .signer(hostPublic)
                    .build();
            restoreInto(restored, restoreHost).restore(m.objectKey());
            assertThat(TestTrees.snapshot(restored)).isEqualTo(original);

            // and gpg, holding the secret key in its keyring, opens it too
            Path plain = dir.resolve("plain.tar.zst");
            gpg.decrypt(store.pathOf(m.objectKey()), plain, keyPass).orThrow();
            Path out = Files.createDirectory(dir.resolve("by-hand"));
            sh(dir, "zstd -dc " + q(plain) + " | tar x -C " + q(out));
            assertThat(TestTrees.snapshot(out)).isEqualTo(original);
        }
    }

    @Test
    void wrongKeyFailsAndLeavesTheTargetUntouched() throws Exception {
        BackupManifest m = backUp(Compression.GZIP, pgp);
        Path target = existingTarget();
        OpenPgpTransform wrong = OpenPgpTransform.builder()
                .passphrase(PassphraseKeyFile.read(TestKeys.keyFile(dir, "other.key")))
                .build();
        // a key file that is not the backups' cannot authenticate the manifest either: refused before decrypting
        assertThatThrownBy(() -> restoreInto(target, wrong).restore(m.objectKey()))
                .isInstanceOf(IntegrityException.class)
                .hasMessageContaining("not the one the backups are made with")
                .hasMessageContaining(m.objectKey())
                .hasMessageNotContaining(TestKeys.passphraseOf(keyFile));
        assertUntouched(target);
        // authenticated (the manifest's signer is trusted), but the decryption key does not open it
        assertThatThrownBy(() -> restoreInto(target, wrong).toBuilder()
                        .trust(BackupTrust.of(List.of(pgp)))
                        .build()
                        .restore(m.objectKey()))
                .isInstanceOf(DecryptionException.class)
                .hasMessageContaining("does not open this backup")
                .hasMessageNotContaining(TestKeys.passphraseOf(keyFile));
        assertUntouched(target);
    }

    @Test
    void flippedByteMidFileIsCaughtAndTheTargetIsUntouched() throws Exception {
        BackupManifest m = backUp(Compression.GZIP, pgp);
        flipByte(store.pathOf(m.objectKey()), m.objectSize() / 2);
        Path target = existingTarget();
        assertThatThrownBy(() -> restoreInto(target, pgp).restore(m.objectKey()))
                .isInstanceOf(IntegrityException.class);
        assertUntouched(target);
        BackupVerifier verifier =
                BackupVerifier.builder().sink(store).transforms(List.of(pgp)).build();
        assertThatThrownBy(() -> verifier.verify(m.objectKey(), false)).isInstanceOf(IntegrityException.class);
        assertThatThrownBy(() -> verifier.verify(m.objectKey(), true)).isInstanceOf(IntegrityException.class);
    }

    @Test
    void flippedByteWithMatchingChecksumsIsStillCaughtByTheOpenPgpIntegrityCheck() throws Exception {
        // an attacker (or a bug) that rewrites data, sidecar and manifest consistently is stopped by the MDC
        BackupManifest m = backUp(Compression.GZIP, pgp);
        Path data = store.pathOf(m.objectKey());
        flipByte(data, m.objectSize() / 2);
        String sha = TestTrees.sha256(Files.readAllBytes(data));
        BackupManifest forged =
                m.toBuilder().object(m.objectKey(), m.objectSize(), sha).build();
        Files.write(store.pathOf(m.manifestKey()), forged.toJson());
        Files.writeString(store.pathOf(m.sha256Key()), sha + "  " + data.getFileName() + "\n");
        Path target = existingTarget();
        assertThatThrownBy(() -> restoreInto(target, pgp).restore(m.objectKey()))
                .isInstanceOf(IntegrityException.class)
                .hasMessageContaining(m.objectKey());
        assertUntouched(target);
    }

    @Test
    void truncatedBackupIsCaughtAndTheTargetIsUntouched() throws Exception {
        BackupManifest m = backUp(Compression.GZIP, pgp);
        try (RandomAccessFile f =
                new RandomAccessFile(store.pathOf(m.objectKey()).toFile(), "rw")) {
            f.setLength(m.objectSize() - 100);
        }
        Path target = existingTarget();
        assertThatThrownBy(() -> restoreInto(target, pgp).restore(m.objectKey()))
                .isInstanceOf(IntegrityException.class);
        assertUntouched(target);
    }

    @Test
    void aKeyThatCannotBeLoadedStopsTheBackupBeforeAnythingIsWritten() throws Exception {
        Path loose = TestKeys.keyFile(dir, "loose.key");
        Files.setPosixFilePermissions(loose, PosixFilePermissions.fromString("rw-r--r--"));
        assertThatThrownBy(() -> backUp(
                        Compression.GZIP,
                        OpenPgpTransform.builder()
                                .passphrase(PassphraseKeyFile.read(loose))
                                .build()))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("chmod 600");
        assertThatThrownBy(() -> backUp(
                        Compression.GZIP,
                        OpenPgpTransform.builder()
                                .passphrase(PassphraseKeyFile.read(dir.resolve("missing.key")))
                                .build()))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("missing.key");
        assertThat(store.list("")).isEmpty();
    }

    @Test
    void aFailedBackupLeavesNoVisibleObject() throws Exception {
        OpenPgpTransform decryptOnly = OpenPgpTransform.builder()
                .secretKey(Files.readAllBytes(secretKeyOfAFreshGpgKey()), "pw".toCharArray(), "k")
                .build();
        assertThatThrownBy(() -> backUp(Compression.GZIP, decryptOnly)).isInstanceOf(ConfigurationException.class);
        assertThat(store.list("")).extracting(StoredObject::key).isEmpty();
        assertThat(store.temporaryFiles()).isEmpty();
    }

    @Test
    void restoreRefusesATargetThatOverlapsTheStore() throws Exception {
        BackupManifest m = backUp(Compression.GZIP, pgp);
        for (Path bad : List.of(store.root(), dir, store.root().resolve("files/restored-here"))) {
            assertThatThrownBy(() -> restoreInto(bad, pgp).restore(m.objectKey()))
                    .as(bad.toString())
                    .isInstanceOf(ConfigurationException.class)
                    .hasMessageContaining("overlaps the backup store");
        }
        assertThat(store.list("")).hasSize(4); // data, sidecar, manifest's signature, manifest
        BackupVerifier.builder().sink(store).transforms(List.of(pgp)).build().verify(m.objectKey(), true);
    }

    /** Issue 11 item 6: a source that holds the store would back up its own growing output (and old backups). */
    @Test
    void backupRefusesASourceThatContainsOrLiesInsideTheStore() throws Exception {
        Path inside = Files.createDirectories(store.root().resolve("files/nested"));
        Files.writeString(inside.resolve("a.txt"), "a");
        for (Path bad : List.of(dir, store.root(), inside)) {
            assertThatThrownBy(() -> BackupPipeline.builder()
                            .source(DirectorySource.builder(bad)
                                    .compression(Compression.GZIP)
                                    .build())
                            .encryption(pgp)
                            .sink(store)
                            .build()
                            .run())
                    .as(bad.toString())
                    .isInstanceOf(ConfigurationException.class)
                    .hasMessageContaining("overlaps the backup store")
                    .hasMessageContaining("Back up a directory outside the store");
        }
        assertThat(store.list("")).extracting(StoredObject::key).containsExactly("files/nested/a.txt");
        assertThat(store.temporaryFiles()).isEmpty();
    }

    @Test
    void aTreeWithLinksPointingOutsideIsRestorableWhenAllowed() throws Exception {
        Files.createSymbolicLink(tree.resolve("shared"), Path.of("/srv/shared/uploads"));
        Files.createSymbolicLink(tree.resolve("up"), Path.of("../elsewhere"));
        Map<String, String> withLinks = TestTrees.snapshot(tree);
        BackupManifest m = backUp(Compression.GZIP, pgp);
        assertThat(m.sourceFacts()).containsEntry("symlinksOutsideTree", 2L);

        Path strict = dir.resolve("strict");
        assertThatThrownBy(() -> restoreInto(strict, pgp).restore(m.objectKey()))
                .isInstanceOf(com.jiffoo.backup.RestoreException.class)
                .hasMessageContaining("allowSymlinksOutsideTarget(true)");
        assertThat(strict).doesNotExist();

        Path restored = dir.resolve("restored");
        RestorePipeline.builder()
                .sink(store)
                .decryption(pgp)
                .target(DirectoryRestoreTarget.builder(restored)
                        .allowSymlinksOutsideTarget(true)
                        .build())
                .build()
                .restore(m.objectKey());
        assertThat(TestTrees.snapshot(restored)).isEqualTo(withLinks);
    }

    private Path secretKeyOfAFreshGpgKey() throws Exception {
        Path pass = TestKeys.keyFile(dir, "pw", "pw\n");
        try (GpgCli gpg = GpgCli.create(dir.resolve("gpg2"))) {
            GpgCli.Key key = gpg.generateRsaKey("Other <other@jiffoo.test>", pass);
            return gpg.exportSecretKey(key, dir.resolve("other-secret.gpg"), false, pass);
        }
    }

    private Path existingTarget() throws Exception {
        Path target = dir.resolve("live");
        Files.createDirectories(target);
        Files.writeString(target.resolve("keep.txt"), "old content");
        return target;
    }

    private void assertUntouched(Path target) throws Exception {
        assertThat(TestTrees.list(target)).containsExactly("keep.txt");
        assertThat(Files.readString(target.resolve("keep.txt"))).isEqualTo("old content");
        assertThat(TestTrees.list(target.getParent())).noneMatch(n -> n.startsWith(".live."));
    }

    private static void flipByte(Path file, long offset) throws Exception {
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.seek(offset);
            int b = f.read();
            f.seek(offset);
            f.write(b ^ 0x40);
        }
    }
}

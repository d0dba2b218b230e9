package com.jiffoo.backup.cli;

import com.jiffoo.backup.BackupTrust;
import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.crypto.EncryptionSetup;
import com.jiffoo.backup.crypto.OpenPgpTransform;
import java.nio.file.Path;
import java.util.Optional;

/**
 * The OpenPGP transform the settings describe. Backups are encrypted with the passphrase of
 * {@code ENCRYPTION_KEY_FILE} (the runbook's key file) or to the public key(s) in {@code ENCRYPTION_PUBLIC_KEY_FILE};
 * restores and deep verifications decrypt with {@code ENCRYPTION_KEY_FILE} and/or the secret key in
 * {@code ENCRYPTION_SECRET_KEY_FILE} (unlocked with the first line of {@code ENCRYPTION_SECRET_KEY_PASSPHRASE_FILE},
 * when the key has a passphrase). Error messages name the setting; no key material is ever printed.
 *
 * <p>Authentication (DESIGN promise 8): passphrase mode signs and checks manifests with the key file; public-key
 * mode signs with {@code ENCRYPTION_SIGNING_KEY_FILE} (unlocked with {@code ENCRYPTION_SIGNING_KEY_PASSPHRASE_FILE})
 * and checks against {@code ENCRYPTION_SIGNER_PUBLIC_KEY_FILE} (comma-separated files). {@link #trust} is what
 * every command that reads the store accepts; {@code --allow-unauthenticated} / {@code --allow-unencrypted}
 * ({@code ALLOW_UNAUTHENTICATED}, {@code ALLOW_UNENCRYPTED}) loosen it explicitly.
 *
 * <p>The files are loaded by the library's {@link EncryptionSetup} (the Spring Boot starter uses it too); this class
 * maps the settings onto it and keeps the launcher's rules on which settings must be set.
 */
final class Encryption {
    static final String NO_KEY = "ENCRYPTION_KEY_FILE is not set: set ENCRYPTION_KEY_FILE=/etc/jiffoo/backup.key"
            + " (create one with `java -jar jiffoo-backup.jar keygen /etc/jiffoo/backup.key`), or pass --key-file";

    private Encryption() {}

    /** The key files of the settings, each named by its setting in errors; ALLOW_* are read by the trust methods. */
    static EncryptionSetup.Builder setup(Settings s) {
        EncryptionSetup.Builder b = EncryptionSetup.builder()
                .settingName(EncryptionSetup.Setting.KEY_FILE, "ENCRYPTION_KEY_FILE")
                .settingName(EncryptionSetup.Setting.PUBLIC_KEY_FILE, "ENCRYPTION_PUBLIC_KEY_FILE")
                .settingName(EncryptionSetup.Setting.SECRET_KEY_FILE, "ENCRYPTION_SECRET_KEY_FILE")
                .settingName(
                        EncryptionSetup.Setting.SECRET_KEY_PASSPHRASE_FILE, "ENCRYPTION_SECRET_KEY_PASSPHRASE_FILE")
                .settingName(EncryptionSetup.Setting.SIGNING_KEY_FILE, "ENCRYPTION_SIGNING_KEY_FILE")
                .settingName(
                        EncryptionSetup.Setting.SIGNING_KEY_PASSPHRASE_FILE, "ENCRYPTION_SIGNING_KEY_PASSPHRASE_FILE")
                .settingName(EncryptionSetup.Setting.SIGNER_PUBLIC_KEY_FILES, "ENCRYPTION_SIGNER_PUBLIC_KEY_FILE")
                .unauthenticatedOption("pass --allow-unauthenticated");
        s.get("ENCRYPTION_KEY_FILE").ifPresent(f -> b.keyFile(Path.of(f)));
        s.get("ENCRYPTION_PUBLIC_KEY_FILE").ifPresent(f -> b.publicKeyFile(Path.of(f)));
        s.get("ENCRYPTION_SECRET_KEY_FILE").ifPresent(f -> b.secretKeyFile(Path.of(f)));
        s.get("ENCRYPTION_SECRET_KEY_PASSPHRASE_FILE").ifPresent(f -> b.secretKeyPassphraseFile(Path.of(f)));
        s.get("ENCRYPTION_SIGNING_KEY_FILE").ifPresent(f -> b.signingKeyFile(Path.of(f)));
        s.get("ENCRYPTION_SIGNING_KEY_PASSPHRASE_FILE").ifPresent(f -> b.signingKeyPassphraseFile(Path.of(f)));
        s.get("ENCRYPTION_SIGNER_PUBLIC_KEY_FILE").ifPresent(files -> {
            for (String f : files.split(",")) {
                if (!f.isBlank()) {
                    b.signerPublicKeyFile(Path.of(f.trim()));
                }
            }
        });
        return b;
    }

    /** The transform that encrypts new backups. */
    static OpenPgpTransform forBackup(Settings s) {
        Optional<String> keyFile = s.get("ENCRYPTION_KEY_FILE");
        Optional<String> publicKey = s.get("ENCRYPTION_PUBLIC_KEY_FILE");
        if (keyFile.isPresent() && publicKey.isPresent()) {
            throw new ConfigurationException("ENCRYPTION_KEY_FILE and ENCRYPTION_PUBLIC_KEY_FILE are both set: a backup"
                    + " is encrypted either with the key file's passphrase or to a public key; unset one.");
        }
        if (keyFile.isEmpty() && publicKey.isEmpty()) {
            throw new ConfigurationException(NO_KEY + "; or ENCRYPTION_PUBLIC_KEY_FILE for public-key mode.");
        }
        return setup(s).build().forBackup();
    }

    /** The transform that decrypts backups, from whichever keys are configured. */
    static OpenPgpTransform forRestore(Settings s) {
        if (s.get("ENCRYPTION_KEY_FILE").isEmpty()
                && s.get("ENCRYPTION_SECRET_KEY_FILE").isEmpty()) {
            throw new ConfigurationException(
                    NO_KEY + "; or ENCRYPTION_SECRET_KEY_FILE for backups made to a public" + " key.");
        }
        return setup(s).build().forRestore();
    }

    /**
     * What the commands that read the store accept as a backup: backups authenticated with the configured key file
     * or by a configured signer, and encrypted; loosened only by {@code --allow-unauthenticated} and
     * {@code --allow-unencrypted}. Needs no decryption key in public-key mode (the signers' public keys suffice).
     *
     * @throws ConfigurationException when no key material is configured at all: nothing could tell a planted
     *                                backup from a real one
     */
    static BackupTrust trust(Settings s) {
        return setup(s).allowUnauthenticated(on(s, "ALLOW_UNAUTHENTICATED"))
                .allowUnencrypted(on(s, "ALLOW_UNENCRYPTED"))
                .build()
                .trust();
    }

    /** {@link #trust} for readers that also decrypt with {@code pgp} (restore, deep verification). */
    static BackupTrust trust(Settings s, OpenPgpTransform pgp) {
        return setup(s).allowUnauthenticated(on(s, "ALLOW_UNAUTHENTICATED"))
                .allowUnencrypted(on(s, "ALLOW_UNENCRYPTED"))
                .build()
                .trust(pgp);
    }

    private static boolean on(Settings s, String name) {
        return s.bool(name).orElse(false);
    }
}

package com.jiffoo.backup.cli;

import com.jiffoo.backup.BackupTrust;
import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.crypto.OpenPgpTransform;
import com.jiffoo.backup.crypto.PassphraseKeyFile;
import java.nio.file.Path;
import java.util.List;
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
 */
final class Encryption {
    static final String NO_KEY = "ENCRYPTION_KEY_FILE is not set: set ENCRYPTION_KEY_FILE=/etc/jiffoo/backup.key"
            + " (create one with `java -jar jiffoo-backup.jar keygen /etc/jiffoo/backup.key`), or pass --key-file";

    private Encryption() {}

    /** The transform that encrypts new backups. */
    static OpenPgpTransform forBackup(Settings s) {
        OpenPgpTransform.Builder b = OpenPgpTransform.builder();
        Optional<String> keyFile = s.get("ENCRYPTION_KEY_FILE");
        Optional<String> publicKey = s.get("ENCRYPTION_PUBLIC_KEY_FILE");
        if (keyFile.isPresent() && publicKey.isPresent()) {
            throw new ConfigurationException("ENCRYPTION_KEY_FILE and ENCRYPTION_PUBLIC_KEY_FILE are both set: a backup"
                    + " is encrypted either with the key file's passphrase or to a public key; unset one.");
        }
        if (publicKey.isPresent()) {
            named("ENCRYPTION_PUBLIC_KEY_FILE", () -> b.recipient(Path.of(publicKey.get())));
            signing(s, b);
        } else {
            b.passphrase(keyFile(
                    s,
                    keyFile.orElseThrow(() -> new ConfigurationException(
                            NO_KEY + "; or ENCRYPTION_PUBLIC_KEY_FILE for public-key mode."))));
        }
        return b.build();
    }

    /** The transform that decrypts backups, from whichever keys are configured. */
    static OpenPgpTransform forRestore(Settings s) {
        OpenPgpTransform.Builder b = OpenPgpTransform.builder();
        Optional<String> keyFile = s.get("ENCRYPTION_KEY_FILE");
        Optional<String> secretKey = s.get("ENCRYPTION_SECRET_KEY_FILE");
        if (keyFile.isEmpty() && secretKey.isEmpty()) {
            throw new ConfigurationException(
                    NO_KEY + "; or ENCRYPTION_SECRET_KEY_FILE for backups made to a public" + " key.");
        }
        keyFile.ifPresent(f -> b.decryptionPassphrase(keyFile(s, f)));
        if (secretKey.isPresent()) {
            char[] pass = s.get("ENCRYPTION_SECRET_KEY_PASSPHRASE_FILE")
                    .map(f -> named("ENCRYPTION_SECRET_KEY_PASSPHRASE_FILE", () -> PassphraseKeyFile.read(Path.of(f)))
                            .passphrase())
                    .orElse(new char[0]);
            named("ENCRYPTION_SECRET_KEY_FILE", () -> b.secretKey(Path.of(secretKey.get()), pass));
            java.util.Arrays.fill(pass, '\0');
        }
        signers(s, b);
        signing(s, b);
        return b.build();
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
        OpenPgpTransform.Builder b = OpenPgpTransform.builder();
        s.get("ENCRYPTION_KEY_FILE").ifPresent(f -> b.decryptionPassphrase(keyFile(s, f)));
        signers(s, b);
        signing(s, b);
        boolean allowUnauthenticated = on(s, "ALLOW_UNAUTHENTICATED");
        BackupTrust.Builder trust;
        try {
            trust = BackupTrust.of(List.of(b.build())).toBuilder();
        } catch (ConfigurationException e) {
            if (!allowUnauthenticated) {
                throw new ConfigurationException(
                        "No key is configured to tell real backups from planted ones: set"
                                + " ENCRYPTION_KEY_FILE (passphrase mode) or ENCRYPTION_SIGNER_PUBLIC_KEY_FILE (public-key"
                                + " mode: the backup host's signing public key, not secret), or pass --allow-unauthenticated"
                                + " to trust whatever the store holds.",
                        e);
            }
            trust = BackupTrust.builder();
        }
        return trust.allowUnauthenticated(allowUnauthenticated)
                .allowUnencrypted(on(s, "ALLOW_UNENCRYPTED"))
                .build();
    }

    /** {@link #trust} for readers that also decrypt with {@code pgp} (restore, deep verification). */
    static BackupTrust trust(Settings s, OpenPgpTransform pgp) {
        return BackupTrust.of(List.of(pgp)).toBuilder()
                .allowUnauthenticated(on(s, "ALLOW_UNAUTHENTICATED"))
                .allowUnencrypted(on(s, "ALLOW_UNENCRYPTED"))
                .build();
    }

    private static boolean on(Settings s, String name) {
        return s.bool(name).orElse(false);
    }

    /** The signers' public keys of ENCRYPTION_SIGNER_PUBLIC_KEY_FILE (comma-separated files). */
    private static void signers(Settings s, OpenPgpTransform.Builder b) {
        s.get("ENCRYPTION_SIGNER_PUBLIC_KEY_FILE").ifPresent(files -> {
            for (String f : files.split(",")) {
                if (!f.isBlank()) {
                    named("ENCRYPTION_SIGNER_PUBLIC_KEY_FILE", () -> b.signer(Path.of(f.trim())));
                }
            }
        });
    }

    /** The signing key of ENCRYPTION_SIGNING_KEY_FILE, unlocked with ENCRYPTION_SIGNING_KEY_PASSPHRASE_FILE. */
    private static void signing(Settings s, OpenPgpTransform.Builder b) {
        Optional<String> file = s.get("ENCRYPTION_SIGNING_KEY_FILE");
        if (file.isEmpty()) {
            return;
        }
        char[] pass = s.get("ENCRYPTION_SIGNING_KEY_PASSPHRASE_FILE")
                .map(f -> named("ENCRYPTION_SIGNING_KEY_PASSPHRASE_FILE", () -> PassphraseKeyFile.read(Path.of(f)))
                        .passphrase())
                .orElse(new char[0]);
        try {
            named("ENCRYPTION_SIGNING_KEY_FILE", () -> b.signingKey(Path.of(file.get()), pass));
        } finally {
            java.util.Arrays.fill(pass, '\0');
        }
    }

    private static PassphraseKeyFile keyFile(Settings s, String path) {
        return named("ENCRYPTION_KEY_FILE", () -> PassphraseKeyFile.read(Path.of(path)));
    }

    /** Runs {@code step}; a configuration error gets the setting's name in front. */
    private static <T> T named(String name, java.util.function.Supplier<T> step) {
        try {
            return step.get();
        } catch (ConfigurationException e) {
            throw new ConfigurationException(name + ": " + e.getMessage(), e);
        }
    }
}

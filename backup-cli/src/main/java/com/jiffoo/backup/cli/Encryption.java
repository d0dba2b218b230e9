package com.jiffoo.backup.cli;

import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.crypto.OpenPgpTransform;
import com.jiffoo.backup.crypto.PassphraseKeyFile;

import java.nio.file.Path;
import java.util.Optional;

/**
 * The OpenPGP transform the settings describe. Backups are encrypted with the passphrase of
 * {@code ENCRYPTION_KEY_FILE} (the runbook's key file) or to the public key(s) in {@code ENCRYPTION_PUBLIC_KEY_FILE};
 * restores and deep verifications decrypt with {@code ENCRYPTION_KEY_FILE} and/or the secret key in
 * {@code ENCRYPTION_SECRET_KEY_FILE} (unlocked with the first line of {@code ENCRYPTION_SECRET_KEY_PASSPHRASE_FILE},
 * when the key has a passphrase). Error messages name the setting; no key material is ever printed.
 */
final class Encryption {
    static final String NO_KEY = "ENCRYPTION_KEY_FILE is not set: set ENCRYPTION_KEY_FILE=/etc/jiffoo/backup.key"
            + " (create one with `java -jar jiffoo-backup.jar keygen /etc/jiffoo/backup.key`), or pass --key-file";

    private Encryption() {
    }

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
        } else {
            b.passphrase(keyFile(s, keyFile.orElseThrow(() -> new ConfigurationException(NO_KEY
                    + "; or ENCRYPTION_PUBLIC_KEY_FILE for public-key mode."))));
        }
        return b.build();
    }

    /** The transform that decrypts backups, from whichever keys are configured. */
    static OpenPgpTransform forRestore(Settings s) {
        OpenPgpTransform.Builder b = OpenPgpTransform.builder();
        Optional<String> keyFile = s.get("ENCRYPTION_KEY_FILE");
        Optional<String> secretKey = s.get("ENCRYPTION_SECRET_KEY_FILE");
        if (keyFile.isEmpty() && secretKey.isEmpty()) {
            throw new ConfigurationException(NO_KEY + "; or ENCRYPTION_SECRET_KEY_FILE for backups made to a public"
                    + " key.");
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
        return b.build();
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

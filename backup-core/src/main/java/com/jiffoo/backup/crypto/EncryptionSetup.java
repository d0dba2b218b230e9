package com.jiffoo.backup.crypto;

import com.jiffoo.backup.BackupTrust;
import com.jiffoo.backup.ConfigurationException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Supplier;

/**
 * The key files an application or launcher is configured with, turned into the {@link OpenPgpTransform}s and the
 * {@link BackupTrust} it needs: the transform that writes backups, the one that reads them, and what a stored
 * backup must be to be read. The launcher and the Spring Boot starter both build their encryption here, so both
 * read the same files the same way; each names its own settings ({@link #settingName}), and every error about a
 * file names the setting it came from ({@code ENCRYPTION_KEY_FILE: ...}). No key material is ever put in a message.
 *
 * <p>Which files must be set is the caller's rule (the launcher refuses a key file and a public key together, the
 * starter allows both); this class loads what is set.
 *
 * <pre>{@code
 * EncryptionSetup keys = EncryptionSetup.builder()
 *         .keyFile(Path.of("/etc/jiffoo/backup.key"))
 *         .settingName(EncryptionSetup.Setting.KEY_FILE, "BACKUP_KEY")
 *         .build();
 * OpenPgpTransform pgp = keys.forBackup();
 * BackupTrust trust = keys.trust();
 * }</pre>
 */
public final class EncryptionSetup {
    /** One configured file; {@link Builder#settingName} gives it the name its errors carry. */
    public enum Setting {
        /** The passphrase key file (passphrase mode): encrypts, decrypts, signs and checks manifests. */
        KEY_FILE,
        /** A recipient's public key (public-key mode): backups are encrypted to it. */
        PUBLIC_KEY_FILE,
        /** The secret key that decrypts public-key backups. */
        SECRET_KEY_FILE,
        /** A file whose first line unlocks {@link #SECRET_KEY_FILE}. */
        SECRET_KEY_PASSPHRASE_FILE,
        /** The backup host's OpenPGP signing key (public-key mode). */
        SIGNING_KEY_FILE,
        /** A file whose first line unlocks {@link #SIGNING_KEY_FILE}. */
        SIGNING_KEY_PASSPHRASE_FILE,
        /** The signers' public keys that manifests are checked against (public-key mode). */
        SIGNER_PUBLIC_KEY_FILES
    }

    private final Path keyFile;
    private final Path publicKeyFile;
    private final Path secretKeyFile;
    private final Path secretKeyPassphraseFile;
    private final Path signingKeyFile;
    private final Path signingKeyPassphraseFile;
    private final List<Path> signers;
    private final Map<Setting, String> names;
    private final boolean allowUnauthenticated;
    private final boolean allowUnencrypted;
    private final String unauthenticatedOption;

    private EncryptionSetup(Builder b) {
        this.keyFile = b.keyFile;
        this.publicKeyFile = b.publicKeyFile;
        this.secretKeyFile = b.secretKeyFile;
        this.secretKeyPassphraseFile = b.secretKeyPassphraseFile;
        this.signingKeyFile = b.signingKeyFile;
        this.signingKeyPassphraseFile = b.signingKeyPassphraseFile;
        this.signers = List.copyOf(b.signers);
        this.names = new EnumMap<>(b.names);
        this.allowUnauthenticated = b.allowUnauthenticated;
        this.allowUnencrypted = b.allowUnencrypted;
        this.unauthenticatedOption = b.unauthenticatedOption;
    }

    /** A new builder; nothing is set. */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * The transform that encrypts new backups: to the public key (signed with the signing key, if set) and/or with
     * the key file's passphrase.
     *
     * @throws ConfigurationException naming the setting of a file that cannot be read or is not a key
     */
    public OpenPgpTransform forBackup() {
        OpenPgpTransform.Builder b = OpenPgpTransform.builder();
        if (publicKeyFile != null) {
            named(Setting.PUBLIC_KEY_FILE, () -> b.recipient(publicKeyFile));
            signing(b);
        }
        if (keyFile != null) {
            b.passphrase(keyFile());
        }
        return b.build();
    }

    /**
     * The transform that decrypts backups (restores, deep verifications) with whichever keys are set: the key
     * file, the secret key; it also checks the signers' signatures and signs with the signing key.
     *
     * @throws ConfigurationException naming the setting of a file that cannot be read or is not a key
     */
    public OpenPgpTransform forRestore() {
        OpenPgpTransform.Builder b = OpenPgpTransform.builder();
        if (keyFile != null) {
            b.decryptionPassphrase(keyFile());
        }
        if (secretKeyFile != null) {
            char[] pass = passphrase(Setting.SECRET_KEY_PASSPHRASE_FILE, secretKeyPassphraseFile);
            try {
                named(Setting.SECRET_KEY_FILE, () -> b.secretKey(secretKeyFile, pass));
            } finally {
                Arrays.fill(pass, '\0');
            }
        }
        signers(b);
        signing(b);
        return b.build();
    }

    /**
     * One transform with every key that is set: it encrypts (passphrase and/or recipient), decrypts (key file,
     * secret key), signs and checks. What an embedding application that both writes and reads backups uses.
     *
     * @throws ConfigurationException naming the setting of a file that cannot be read or is not a key
     */
    public OpenPgpTransform forBackupAndRestore() {
        OpenPgpTransform.Builder b = OpenPgpTransform.builder();
        if (keyFile != null) {
            b.passphrase(keyFile());
        }
        if (publicKeyFile != null) {
            named(Setting.PUBLIC_KEY_FILE, () -> b.recipient(publicKeyFile));
        }
        if (secretKeyFile != null) {
            char[] pass = passphrase(Setting.SECRET_KEY_PASSPHRASE_FILE, secretKeyPassphraseFile);
            try {
                named(Setting.SECRET_KEY_FILE, () -> b.secretKey(secretKeyFile, pass));
            } finally {
                Arrays.fill(pass, '\0');
            }
        }
        signing(b);
        signers(b);
        return b.build();
    }

    /**
     * The keys that tell real backups from planted ones, without any decryption key in public-key mode: the key
     * file's passphrase, the signers' public keys, the signing key.
     *
     * @throws ConfigurationException naming the setting of a file that cannot be read or is not a key, or when no
     *                                key is set at all
     */
    public OpenPgpTransform forChecking() {
        return checkingKeys().build();
    }

    private OpenPgpTransform.Builder checkingKeys() {
        OpenPgpTransform.Builder b = OpenPgpTransform.builder();
        if (keyFile != null) {
            b.decryptionPassphrase(keyFile());
        }
        signers(b);
        signing(b);
        return b;
    }

    /**
     * What the readers of the store accept: backups authenticated by {@link #forChecking()}'s keys and encrypted,
     * loosened only by {@link Builder#allowUnauthenticated} and {@link Builder#allowUnencrypted}.
     *
     * @throws ConfigurationException when no key is set and unauthenticated backups are not allowed (the message
     *                                names the key settings and {@link Builder#unauthenticatedOption})
     */
    public BackupTrust trust() {
        OpenPgpTransform.Builder keys = checkingKeys(); // a file that cannot be read fails here, named
        BackupTrust.Builder trust;
        try {
            trust = BackupTrust.of(List.of(keys.build())).toBuilder();
        } catch (ConfigurationException e) {
            if (!allowUnauthenticated) {
                throw new ConfigurationException(
                        "No key is configured to tell real backups from planted ones: set "
                                + settingName(Setting.KEY_FILE)
                                + " (passphrase mode) or " + settingName(Setting.SIGNER_PUBLIC_KEY_FILES)
                                + " (public-key mode: the backup host's signing public key, not secret), or "
                                + unauthenticatedOption + " to trust whatever the store holds.",
                        e);
            }
            trust = BackupTrust.builder();
        }
        return trust.allowUnauthenticated(allowUnauthenticated)
                .allowUnencrypted(allowUnencrypted)
                .build();
    }

    /** {@link #trust()} for readers that also decrypt with {@code pgp} (restores, deep verifications). */
    public BackupTrust trust(OpenPgpTransform pgp) {
        Objects.requireNonNull(pgp, "pgp");
        return BackupTrust.of(List.of(pgp)).toBuilder()
                .allowUnauthenticated(allowUnauthenticated)
                .allowUnencrypted(allowUnencrypted)
                .build();
    }

    /** Whether unauthenticated backups are accepted ({@link Builder#allowUnauthenticated}). */
    public boolean allowsUnauthenticated() {
        return allowUnauthenticated;
    }

    /** The name errors give {@code setting}: the one set with {@link Builder#settingName}, else the enum's name. */
    public String settingName(Setting setting) {
        return names.getOrDefault(setting, setting.name());
    }

    private PassphraseKeyFile keyFile() {
        return named(Setting.KEY_FILE, () -> PassphraseKeyFile.read(keyFile));
    }

    private void signers(OpenPgpTransform.Builder b) {
        for (Path s : signers) {
            named(Setting.SIGNER_PUBLIC_KEY_FILES, () -> b.signer(s));
        }
    }

    private void signing(OpenPgpTransform.Builder b) {
        if (signingKeyFile == null) {
            return;
        }
        char[] pass = passphrase(Setting.SIGNING_KEY_PASSPHRASE_FILE, signingKeyPassphraseFile);
        try {
            named(Setting.SIGNING_KEY_FILE, () -> b.signingKey(signingKeyFile, pass));
        } finally {
            Arrays.fill(pass, '\0');
        }
    }

    private char[] passphrase(Setting setting, Path file) {
        return file == null
                ? new char[0]
                : named(setting, () -> PassphraseKeyFile.read(file)).passphrase();
    }

    /** Runs {@code step}; a configuration error gets the setting's name in front. */
    private <T> T named(Setting setting, Supplier<T> step) {
        try {
            return step.get();
        } catch (ConfigurationException e) {
            throw new ConfigurationException(settingName(setting) + ": " + e.getMessage(), e);
        }
    }

    /** Builds an {@link EncryptionSetup}. Not thread-safe. Files are read by the setup's methods, not here. */
    public static final class Builder {
        private Path keyFile;
        private Path publicKeyFile;
        private Path secretKeyFile;
        private Path secretKeyPassphraseFile;
        private Path signingKeyFile;
        private Path signingKeyPassphraseFile;
        private final List<Path> signers = new ArrayList<>();
        private final Map<Setting, String> names = new EnumMap<>(Setting.class);
        private boolean allowUnauthenticated;
        private boolean allowUnencrypted;
        private String unauthenticatedOption = "allow unauthenticated backups";

        private Builder() {}

        /** The passphrase key file (the runbook's {@code /etc/jiffoo/backup.key}); {@code null} unsets it. */
        public Builder keyFile(Path file) {
            this.keyFile = file;
            return this;
        }

        /** The recipient's public key that backups are encrypted to; {@code null} unsets it. */
        public Builder publicKeyFile(Path file) {
            this.publicKeyFile = file;
            return this;
        }

        /** The secret key that decrypts public-key backups; {@code null} unsets it. */
        public Builder secretKeyFile(Path file) {
            this.secretKeyFile = file;
            return this;
        }

        /** A file whose first line unlocks the secret key; {@code null}: the key has no passphrase. */
        public Builder secretKeyPassphraseFile(Path file) {
            this.secretKeyPassphraseFile = file;
            return this;
        }

        /** The OpenPGP key that signs manifests in public-key mode; {@code null} unsets it. */
        public Builder signingKeyFile(Path file) {
            this.signingKeyFile = file;
            return this;
        }

        /** A file whose first line unlocks the signing key; {@code null}: the key has no passphrase. */
        public Builder signingKeyPassphraseFile(Path file) {
            this.signingKeyPassphraseFile = file;
            return this;
        }

        /** Adds a signer's public key that manifests are checked against (repeatable). */
        public Builder signerPublicKeyFile(Path file) {
            signers.add(Objects.requireNonNull(file, "file"));
            return this;
        }

        /** The name of {@code setting} in the caller's configuration, put in front of its errors. */
        public Builder settingName(Setting setting, String name) {
            names.put(Objects.requireNonNull(setting, "setting"), Objects.requireNonNull(name, "name"));
            return this;
        }

        /** Accept backups that no configured key authenticates ({@link #trust()}); off by default. */
        public Builder allowUnauthenticated(boolean allow) {
            this.allowUnauthenticated = allow;
            return this;
        }

        /** Accept unencrypted backups ({@link #trust()}); off by default. */
        public Builder allowUnencrypted(boolean allow) {
            this.allowUnencrypted = allow;
            return this;
        }

        /**
         * How the caller's users allow unauthenticated backups, for {@link #trust()}'s error: e.g. {@code pass
         * --allow-unauthenticated}; by default {@code allow unauthenticated backups}.
         */
        public Builder unauthenticatedOption(String text) {
            this.unauthenticatedOption = Objects.requireNonNull(text, "text");
            return this;
        }

        /** The setup; reads no file yet. */
        public EncryptionSetup build() {
            return new EncryptionSetup(this);
        }
    }
}

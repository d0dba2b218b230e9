package com.jiffoo.backup;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * What a reader of a store accepts as a backup (DESIGN promise 8: nothing in the store is trusted without the key).
 * With key material configured, a manifest is accepted only when its signature object
 * ({@code X.manifest.json.sig}) checks out with the {@link Authenticator}, and only when the backup is encrypted as
 * configured; which transforms decode it then comes from the configuration and that authenticated manifest, never
 * from an unauthenticated file.
 *
 * <pre>{@code
 * BackupTrust trust = BackupTrust.of(List.of(pgp));                  // what RestorePipeline derives by itself
 * BackupTrust legacy = trust.toBuilder().allowUnauthenticated(true).build(); // backups written before signing
 * }</pre>
 *
 * <p>Immutable and thread-safe.
 */
public final class BackupTrust {
    /**
     * Trusts what the store says: for stores written with no key at all ({@code BackupPipeline.unencrypted()}).
     * Anyone who can write to such a store can plant a backup.
     */
    public static final BackupTrust STORE = new BackupTrust(new Builder());

    /** How a manifest was accepted. */
    public enum Authenticity {
        /** Its signature checked out with the configured keys. */
        AUTHENTICATED,
        /** It has no signature and was accepted only because unauthenticated backups are allowed explicitly. */
        UNAUTHENTICATED,
        /** No key is configured, so nothing was checked ({@link #STORE}). */
        NOT_CHECKED
    }

    private final Authenticator authenticator;
    private final boolean requireEncryption;
    private final boolean allowUnauthenticated;
    private final boolean allowUnencrypted;

    private BackupTrust(Builder b) {
        this.authenticator = b.authenticator;
        this.requireEncryption = b.requireEncryption;
        this.allowUnauthenticated = b.allowUnauthenticated;
        this.allowUnencrypted = b.allowUnencrypted;
    }

    /**
     * The trust a reader with these transforms has: when one of them encrypts, backups must be encrypted and
     * authenticated (by the first transform that {@linkplain Transform#authenticator() authenticates}); with none,
     * {@link #STORE}.
     */
    public static BackupTrust of(List<? extends Transform> configured) {
        Builder b = new Builder();
        for (Transform t : configured) {
            if (t.encrypts()) {
                b.requireEncryption = true;
            }
            if (b.authenticator == null) {
                b.authenticator = t.authenticator().orElse(null);
            }
        }
        return b.build();
    }

    /** A new builder: nothing required until set. */
    public static Builder builder() {
        return new Builder();
    }

    /** A builder holding this trust's settings. */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.authenticator = authenticator;
        b.requireEncryption = requireEncryption;
        b.allowUnauthenticated = allowUnauthenticated;
        b.allowUnencrypted = allowUnencrypted;
        return b;
    }

    /** The authenticator that checks signatures (and signs verification records), if any. */
    public Optional<Authenticator> authenticator() {
        return Optional.ofNullable(authenticator);
    }

    /** True when manifests are checked at all (a key is configured). */
    public boolean checks() {
        return authenticator != null || requireEncryption;
    }

    /** True when a manifest without a valid signature is refused. */
    public boolean requiresAuthentication() {
        return checks() && !allowUnauthenticated;
    }

    /**
     * Checks a parsed manifest against its signature object.
     *
     * @param m         the manifest, parsed from {@code json}
     * @param json      the manifest's stored bytes, exactly as read
     * @param signature the signature object's bytes, {@code null} when there is none
     * @param location  the store, for messages
     * @return the manifest, marked with how it was accepted ({@link BackupManifest#authenticity()})
     * @throws IntegrityException     when it is not authenticated (and that is not allowed), its signature does not
     *                                check out, or it is not encrypted as configured (and that is not allowed)
     * @throws ConfigurationException when it cannot be checked with the configured keys
     */
    public BackupManifest check(BackupManifest m, byte[] json, byte[] signature, String location) {
        Objects.requireNonNull(m, "m");
        if (!checks()) {
            return m.withAuthenticity(Authenticity.NOT_CHECKED, null);
        }
        BackupManifest result;
        if (signature != null && authenticator != null) {
            // a bad signature is never allowed
            result = m.withAuthenticity(
                    Authenticity.AUTHENTICATED, authenticator.verify(json, signature, m.manifestKey()));
        } else if (allowUnauthenticated) {
            result = m.withAuthenticity(Authenticity.UNAUTHENTICATED, null);
        } else if (signature == null) {
            throw new IntegrityException(
                    "The backup " + m.objectKey() + " in " + location + " is not authenticated:"
                            + " its manifest has no signature (" + m.signatureKey() + "). It"
                            + " was written before backups were signed, or planted by someone who"
                            + " can write to the store. Restore a signed backup; if you know this one is yours, allow"
                            + " unauthenticated backups explicitly (allowUnauthenticated(true)).",
                    m.objectKey(),
                    location,
                    null);
        } else {
            throw new ConfigurationException(
                    "The backup " + m.objectKey() + " is signed, but the configured"
                            + " encryption cannot check signatures; configure its key file or signer public key.",
                    m.objectKey(),
                    location,
                    null);
        }
        if (requireEncryption && !m.encrypted() && !allowUnencrypted) {
            throw new IntegrityException(
                    "The backup " + m.objectKey() + " in " + location + " is not encrypted,"
                            + " although encryption is configured here; a backup that is not encrypted as configured is"
                            + " refused (it may have been planted). If it is yours, allow it explicitly"
                            + " (allowUnencrypted(true)).",
                    m.objectKey(),
                    location,
                    null);
        }
        return result;
    }

    /** A description for reports; never a secret. */
    public Map<String, Object> describe() {
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("authentication", authenticator == null ? "none" : authenticator.describe());
        d.put("requireEncryption", requireEncryption);
        d.put("allowUnauthenticated", allowUnauthenticated);
        d.put("allowUnencrypted", allowUnencrypted);
        return d;
    }

    @Override
    public String toString() {
        return "BackupTrust" + describe();
    }

    /** Builds a {@link BackupTrust}. Not thread-safe. */
    public static final class Builder {
        private Authenticator authenticator;
        private boolean requireEncryption;
        private boolean allowUnauthenticated;
        private boolean allowUnencrypted;

        private Builder() {}

        /** Checks manifests with this authenticator (null: none). */
        public Builder authenticator(Authenticator a) {
            this.authenticator = a;
            return this;
        }

        /** Refuses backups that are not encrypted (unless {@link #allowUnencrypted}). */
        public Builder requireEncryption(boolean v) {
            this.requireEncryption = v;
            return this;
        }

        /**
         * Accepts manifests without a signature (backups written before signing), reported as
         * {@link Authenticity#UNAUTHENTICATED}. A signature that does not check out is refused all the same.
         */
        public Builder allowUnauthenticated(boolean v) {
            this.allowUnauthenticated = v;
            return this;
        }

        /** Accepts backups that are not encrypted although encryption is configured. */
        public Builder allowUnencrypted(boolean v) {
            this.allowUnencrypted = v;
            return this;
        }

        /** Builds it. */
        public BackupTrust build() {
            return new BackupTrust(this);
        }
    }
}

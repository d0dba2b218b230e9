package com.jiffoo.backup;

import java.util.Map;

/**
 * Proves that a small object in the store (a backup's manifest, a verification record) was written by someone who
 * holds the key material, so that someone who can only write to the store cannot plant a backup (DESIGN promise 8).
 *
 * <p>Two kinds, both made by {@link com.jiffoo.backup.crypto.OpenPgpTransform#authenticator()}:
 * <ul>
 *   <li><b>Passphrase mode</b>: an HMAC-SHA256 keyed with material derived from the key file's passphrase
 *       (PBKDF2-HMAC-SHA256: one iteration for a random key file, 200,000 for a passphrase a person chose); anyone
 *       holding the key file can check it, e.g. with {@code python3} or {@code openssl} (docs/security.md).</li>
 *   <li><b>Public-key mode</b>: a detached OpenPGP signature by the backup host's signing key, checked against the
 *       configured signers' public keys; {@code gpg --verify X.manifest.json.sig X.manifest.json} checks it by
 *       hand.</li>
 * </ul>
 * The signature of a manifest is stored beside it
 * ({@link com.jiffoo.backup.store.StoreLayout#signatureKey}), written before the manifest (which stays the commit marker).
 *
 * <p>Implementations are immutable and thread-safe and never show key material in messages.
 */
public interface Authenticator {

    /** True when {@link #sign} works here (a key file's passphrase, or a signing key, is configured). */
    boolean canSign();

    /**
     * Signs {@code content}.
     *
     * @return the signature object's bytes (an HMAC line, or an ASCII-armored OpenPGP signature)
     * @throws ConfigurationException when no signing material is configured; the message names the setting
     */
    byte[] sign(byte[] content);

    /**
     * Checks that {@code signature} authenticates {@code content}.
     *
     * @param key names the signed object in messages
     * @return who signed, for reports: {@code "key file /etc/jiffoo/backup.key"}, {@code "OpenPGP key FPR <uid>"}
     * @throws IntegrityException     when the signature is malformed, does not match, or was made by a key that is
     *                                not configured as a signer
     * @throws ConfigurationException when the signature is of a kind this authenticator has no key for
     */
    String verify(byte[] content, byte[] signature, String key);

    /**
     * Starts deriving key material in the background (the HMAC key of a passphrase a person chose costs a PBKDF2 of
     * 200,000 iterations), so that the first {@link #sign} or {@link #verify} does not wait for it. Optional and
     * idempotent; the pipelines call it when they start.
     */
    default void prepare() {}

    /** A description for reports (mode, key ids, fingerprints); never a secret. */
    Map<String, Object> describe();
}

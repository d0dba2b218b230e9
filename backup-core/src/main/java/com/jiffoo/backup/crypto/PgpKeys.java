package com.jiffoo.backup.crypto;

import com.jiffoo.backup.ConfigurationException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import org.bouncycastle.bcpg.PublicKeyAlgorithmTags;
import org.bouncycastle.bcpg.sig.KeyFlags;
import org.bouncycastle.openpgp.PGPException;
import org.bouncycastle.openpgp.PGPPrivateKey;
import org.bouncycastle.openpgp.PGPPublicKey;
import org.bouncycastle.openpgp.PGPPublicKeyRing;
import org.bouncycastle.openpgp.PGPPublicKeyRingCollection;
import org.bouncycastle.openpgp.PGPSecretKey;
import org.bouncycastle.openpgp.PGPSecretKeyRing;
import org.bouncycastle.openpgp.PGPSecretKeyRingCollection;
import org.bouncycastle.openpgp.PGPSignature;
import org.bouncycastle.openpgp.PGPSignatureSubpacketVector;
import org.bouncycastle.openpgp.PGPUtil;
import org.bouncycastle.openpgp.operator.bc.BcPBESecretKeyDecryptorBuilder;
import org.bouncycastle.openpgp.operator.bc.BcPGPDigestCalculatorProvider;
import org.bouncycastle.openpgp.operator.jcajce.JcaKeyFingerprintCalculator;

/** Loading and checking OpenPGP key files as gpg exports them. Package-private helper of {@link OpenPgpTransform}. */
final class PgpKeys {

    private PgpKeys() {}

    /** A recipient's encryption (sub)key chosen from its key ring. */
    record Recipient(
            PGPPublicKey encryptionKey, PGPPublicKey primaryKey, String userId, Instant expires, String source) {
        String keyId() {
            return keyIdHex(encryptionKey.getKeyID());
        }

        String fingerprint() {
            return hex(encryptionKey.getFingerprint());
        }

        String primaryFingerprint() {
            return hex(primaryKey.getFingerprint());
        }
    }

    /** An unlocked secret decryption (sub)key. */
    record SecretKey(long keyId, PGPPrivateKey privateKey, String source) {
        String label() {
            return keyIdHex(keyId) + " (from " + source + ")";
        }
    }

    static String keyIdHex(long keyId) {
        return String.format("%016X", keyId);
    }

    static String hex(byte[] bytes) {
        StringBuilder sb = new StringBuilder(bytes.length * 2);
        for (byte b : bytes) {
            sb.append(String.format(Locale.ROOT, "%02X", b & 0xff));
        }
        return sb.toString();
    }

    static String algorithmName(PGPPublicKey key) {
        switch (key.getAlgorithm()) {
            case PublicKeyAlgorithmTags.RSA_GENERAL:
            case PublicKeyAlgorithmTags.RSA_ENCRYPT:
                return "RSA-" + key.getBitStrength();
            case PublicKeyAlgorithmTags.ECDH:
                return "ECDH";
            case PublicKeyAlgorithmTags.X25519:
                return "X25519";
            case PublicKeyAlgorithmTags.ELGAMAL_ENCRYPT:
            case PublicKeyAlgorithmTags.ELGAMAL_GENERAL:
                return "ElGamal-" + key.getBitStrength();
            default:
                return "algorithm-" + key.getAlgorithm();
        }
    }

    static byte[] readFile(Path file, String what) {
        try {
            return Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new ConfigurationException(
                    what + " " + file.toAbsolutePath() + " does not exist; fix the path "
                            + "(export a key with `gpg --export --armor KEYID > FILE`)",
                    e);
        } catch (IOException e) {
            throw new ConfigurationException(
                    what + " " + file.toAbsolutePath() + " cannot be read: " + e.getMessage(), e);
        }
    }

    /** The public key rings in {@code data} (armored or binary), or a configuration error naming {@code source}. */
    private static PGPPublicKeyRingCollection publicRings(byte[] data, String source) {
        try (InputStream in = PGPUtil.getDecoderStream(new java.io.ByteArrayInputStream(data))) {
            return new PGPPublicKeyRingCollection(in, new JcaKeyFingerprintCalculator());
        } catch (IOException | PGPException | RuntimeException e) {
            throw new ConfigurationException(
                    source + " is not an OpenPGP public key (as `gpg --export [--armor] " + "KEYID` writes it): "
                            + e.getMessage(),
                    e);
        }
    }

    /** The secret key rings in {@code data} (armored or binary), or a configuration error naming {@code source}. */
    private static PGPSecretKeyRingCollection secretRings(byte[] data, String source) {
        try (InputStream in = PGPUtil.getDecoderStream(new java.io.ByteArrayInputStream(data))) {
            return new PGPSecretKeyRingCollection(in, new JcaKeyFingerprintCalculator());
        } catch (IOException | PGPException | RuntimeException e) {
            throw new ConfigurationException(
                    source + " is not an OpenPGP secret key (as `keygen --openpgp` or "
                            + "`gpg --export-secret-keys [--armor] KEYID` writes it): " + e.getMessage(),
                    e);
        }
    }

    /** Parses every public key ring in {@code data} and picks each ring's encryption key. */
    static List<Recipient> recipients(byte[] data, String source, Instant now) {
        PGPPublicKeyRingCollection rings = publicRings(data, source);
        List<Recipient> result = new ArrayList<>();
        for (PGPPublicKeyRing ring : rings) {
            result.add(recipient(ring, source, now));
        }
        if (result.isEmpty()) {
            throw new ConfigurationException(source + " holds no OpenPGP public key; export one with "
                    + "`gpg --export --armor KEYID > FILE`"
                    + (looksSecret(data)
                            ? " (it seems to hold a secret key: "
                                    + "a secret key is for decryption, give it as a secret key instead)"
                            : ""));
        }
        return result;
    }

    /** True when the data looks like a secret key: an armor header saying so, or a first packet of tag 5. */
    private static boolean looksSecret(byte[] data) {
        String head = new String(data, 0, Math.min(data.length, 64), java.nio.charset.StandardCharsets.ISO_8859_1);
        if (head.contains("PRIVATE KEY")) {
            return true;
        }
        if (data.length == 0 || (data[0] & 0x80) == 0) {
            return false;
        }
        int tag = (data[0] & 0x40) != 0 ? data[0] & 0x3f : (data[0] & 0x3c) >> 2;
        return tag == 5;
    }

    private static Recipient recipient(PGPPublicKeyRing ring, String source, Instant now) {
        PGPPublicKey primary = ring.getPublicKey();
        String uid = firstUserId(primary);
        String who = "key " + keyIdHex(primary.getKeyID()) + (uid.isEmpty() ? "" : " <" + uid + ">") + " in " + source;
        if (primary.hasRevocation()) {
            throw new ConfigurationException(who + " is revoked; get the recipient's current public key");
        }
        Instant primaryExpiry = expiry(primary);
        if (primaryExpiry != null && !now.isBefore(primaryExpiry)) {
            throw new ConfigurationException(who + " expired on " + primaryExpiry + "; ask its owner to extend it "
                    + "(`gpg --quick-set-expire FPR ...`) and export it again");
        }
        PGPPublicKey best = null;
        Instant bestExpiry = null;
        List<String> rejected = new ArrayList<>();
        for (PGPPublicKey k : ring) {
            if (!canEncrypt(k)) {
                continue;
            }
            String sub = keyIdHex(k.getKeyID());
            if (!k.isMasterKey() && k.hasRevocation()) {
                rejected.add(sub + " revoked");
                continue;
            }
            Instant exp = k.isMasterKey() ? primaryExpiry : expiry(k);
            if (exp != null && !now.isBefore(exp)) {
                rejected.add(sub + " expired " + exp);
                continue;
            }
            if (best == null || k.getCreationTime().after(best.getCreationTime())) {
                best = k;
                bestExpiry = exp;
            }
        }
        if (best == null) {
            throw new ConfigurationException(who + " has no usable encryption subkey"
                    + (rejected.isEmpty() ? "" : " (" + String.join(", ", rejected) + ")")
                    + "; add one with `gpg --quick-add-key FPR cv25519 encr` (or rsa3072) and export the key again");
        }
        Instant expires = bestExpiry == null
                ? primaryExpiry
                : primaryExpiry == null || bestExpiry.isBefore(primaryExpiry) ? bestExpiry : primaryExpiry;
        return new Recipient(best, primary, uid, expires, source);
    }

    private static String firstUserId(PGPPublicKey primary) {
        Iterator<String> ids = primary.getUserIDs();
        return ids.hasNext() ? ids.next() : "";
    }

    private static Instant expiry(PGPPublicKey key) {
        long secs = key.getValidSeconds();
        return secs <= 0 ? null : key.getCreationTime().toInstant().plusSeconds(secs);
    }

    /** True when the key's algorithm can encrypt and its self-signature's key flags (if any) allow it. */
    static boolean canEncrypt(PGPPublicKey key) {
        if (!key.isEncryptionKey()) {
            return false;
        }
        int flags = keyFlags(key);
        return flags == 0 || (flags & (KeyFlags.ENCRYPT_COMMS | KeyFlags.ENCRYPT_STORAGE)) != 0;
    }

    private static int keyFlags(PGPPublicKey key) {
        Iterator<PGPSignature> sigs =
                key.isMasterKey() ? key.getSignatures() : key.getSignaturesOfType(PGPSignature.SUBKEY_BINDING);
        PGPSignature latest = null;
        while (sigs.hasNext()) {
            PGPSignature s = sigs.next();
            if (key.isMasterKey() && s.getKeyID() != key.getKeyID()) {
                continue;
            }
            PGPSignatureSubpacketVector h = s.getHashedSubPackets();
            if (h == null || h.getKeyFlags() == 0) {
                continue;
            }
            if (latest == null || s.getCreationTime().after(latest.getCreationTime())) {
                latest = s;
            }
        }
        return latest == null ? 0 : latest.getHashedSubPackets().getKeyFlags();
    }

    /** Parses every secret key ring in {@code data} and unlocks its decryption-capable keys. */
    static List<SecretKey> secretKeys(byte[] data, char[] keyPassphrase, String source) {
        PGPSecretKeyRingCollection rings = secretRings(data, source);
        List<SecretKey> result = new ArrayList<>();
        List<String> skipped = new ArrayList<>();
        for (PGPSecretKeyRing ring : rings) {
            for (PGPSecretKey sk : ring) {
                if (!sk.getPublicKey().isEncryptionKey()) {
                    continue;
                }
                String id = keyIdHex(sk.getKeyID());
                if (sk.isPrivateKeyEmpty()) {
                    skipped.add(id + " (secret part not exported: a stub or smartcard key)");
                    continue;
                }
                PGPPrivateKey priv;
                try {
                    priv = sk.extractPrivateKey(new BcPBESecretKeyDecryptorBuilder(new BcPGPDigestCalculatorProvider())
                            .build(keyPassphrase));
                } catch (PGPException | RuntimeException e) {
                    throw new ConfigurationException(
                            "the passphrase given for " + source + " does not unlock its " + "secret key " + id
                                    + "; give the passphrase the key was exported with",
                            e);
                }
                if (priv == null) {
                    skipped.add(id + " (no secret part)");
                    continue;
                }
                result.add(new SecretKey(sk.getKeyID(), priv, source));
            }
        }
        if (result.isEmpty()) {
            throw new ConfigurationException(source + " holds no usable secret decryption key"
                    + (skipped.isEmpty() ? "" : " (" + String.join(", ", skipped) + ")")
                    + (rings.size() == 0 && data.length > 0
                            ? " (is it a public key? decryption needs the secret "
                                    + "key: `gpg --export-secret-keys --armor KEYID > FILE`)"
                            : "")
                    + "; export it with `gpg --export-secret-keys --armor KEYID > FILE`");
        }
        return result;
    }

    /** A trusted signer's signing-capable (sub)key, from a public key file. */
    record Signer(PGPPublicKey key, String fingerprint, String userId, String source) {}

    /** An unlocked secret signing (sub)key and its public part. */
    record SigningKey(
            PGPPrivateKey privateKey, PGPPublicKey publicKey, String fingerprint, String userId, String source) {
        Signer asSigner() {
            return new Signer(publicKey, fingerprint, userId, source);
        }
    }

    /** True when the key's algorithm can sign and its self-signature's key flags (if any) allow signing data. */
    static boolean canSign(PGPPublicKey key) {
        switch (key.getAlgorithm()) {
            case PublicKeyAlgorithmTags.RSA_GENERAL:
            case PublicKeyAlgorithmTags.RSA_SIGN:
            case PublicKeyAlgorithmTags.DSA:
            case PublicKeyAlgorithmTags.ECDSA:
            case PublicKeyAlgorithmTags.EDDSA_LEGACY:
            case PublicKeyAlgorithmTags.Ed25519:
            case PublicKeyAlgorithmTags.Ed448:
                break;
            default:
                return false;
        }
        int flags = keyFlags(key);
        return flags == 0 ? key.isMasterKey() : (flags & KeyFlags.SIGN_DATA) != 0;
    }

    /**
     * Parses every public key ring in {@code data} and keeps each ring's signing-capable keys (primary and
     * subkeys), skipping revoked ones.
     */
    static List<Signer> signers(byte[] data, String source) {
        PGPPublicKeyRingCollection rings = publicRings(data, source);
        List<Signer> result = new ArrayList<>();
        for (PGPPublicKeyRing ring : rings) {
            PGPPublicKey primary = ring.getPublicKey();
            if (primary.hasRevocation()) {
                continue;
            }
            String fpr = hex(primary.getFingerprint());
            String uid = firstUserId(primary);
            for (PGPPublicKey k : ring) {
                if (canSign(k) && (k.isMasterKey() || !k.hasRevocation())) {
                    result.add(new Signer(k, fpr, uid, source));
                }
            }
        }
        if (result.isEmpty()) {
            throw new ConfigurationException(source + " holds no usable OpenPGP signing key; give the public key"
                    + " of the backup host's signing key (`keygen --openpgp` writes one, or `gpg --export --armor"
                    + " KEYID > FILE`)"
                    + (looksSecret(data) ? " (it seems to hold a secret key: give the public" + " key here)" : ""));
        }
        return result;
    }

    /** Parses the secret key ring(s) in {@code data} and unlocks the newest signing-capable key. */
    static SigningKey signingKey(byte[] data, char[] keyPassphrase, String source) {
        PGPSecretKeyRingCollection rings = secretRings(data, source);
        PGPSecretKey best = null;
        PGPPublicKey bestPrimary = null;
        for (PGPSecretKeyRing ring : rings) {
            for (PGPSecretKey sk : ring) {
                PGPPublicKey pk = sk.getPublicKey();
                if (sk.isPrivateKeyEmpty() || !canSign(pk) || (!pk.isMasterKey() && pk.hasRevocation())) {
                    continue;
                }
                if (best == null
                        || pk.getCreationTime().after(best.getPublicKey().getCreationTime())) {
                    best = sk;
                    bestPrimary = ring.getPublicKey();
                }
            }
        }
        if (best == null) {
            throw new ConfigurationException(source + " holds no usable OpenPGP signing key; create one with"
                    + " `keygen --openpgp --public signer-public.asc --secret signer-secret.asc`");
        }
        PGPPrivateKey priv;
        try {
            priv = best.extractPrivateKey(
                    new BcPBESecretKeyDecryptorBuilder(new BcPGPDigestCalculatorProvider()).build(keyPassphrase));
        } catch (PGPException | RuntimeException e) {
            throw new ConfigurationException(
                    "the passphrase given for " + source + " does not unlock its signing" + " key "
                            + keyIdHex(best.getKeyID()) + "; give the passphrase the key was made with",
                    e);
        }
        if (priv == null) {
            throw new ConfigurationException(
                    source + " has no secret part for its signing key " + keyIdHex(best.getKeyID()));
        }
        return new SigningKey(
                priv, best.getPublicKey(), hex(bestPrimary.getFingerprint()), firstUserId(bestPrimary), source);
    }
}

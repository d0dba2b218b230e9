package com.jiffoo.backup.crypto;

import com.jiffoo.backup.Authenticator;
import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.ForeignSignatureException;
import com.jiffoo.backup.IntegrityException;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.bouncycastle.bcpg.ArmoredOutputStream;
import org.bouncycastle.bcpg.HashAlgorithmTags;
import org.bouncycastle.openpgp.PGPException;
import org.bouncycastle.openpgp.PGPSignature;
import org.bouncycastle.openpgp.PGPSignatureGenerator;
import org.bouncycastle.openpgp.PGPSignatureList;
import org.bouncycastle.openpgp.PGPSignatureSubpacketGenerator;
import org.bouncycastle.openpgp.PGPUtil;
import org.bouncycastle.openpgp.jcajce.JcaPGPObjectFactory;
import org.bouncycastle.openpgp.operator.bc.BcPGPContentSignerBuilder;
import org.bouncycastle.openpgp.operator.bc.BcPGPContentVerifierBuilderProvider;

/**
 * The {@link Authenticator} of an {@link OpenPgpTransform}: HMAC-SHA256 with material derived from the key files'
 * passphrases, and OpenPGP detached signatures by a signing key, checked against the configured signers.
 *
 * <p>HMAC: {@code K = PBKDF2-HMAC-SHA256(passphrase as UTF-8, salt "jiffoo-backup manifest authentication v1",
 * 200000 iterations, 32 bytes)}; the signature object is the line {@code jiffoo-backup-hmac-sha256-v1 <hex>} with
 * {@code <hex> = HMAC-SHA256(K, content)}. Every configured passphrase (the encryption one and those kept for
 * decryption after a rotation) is tried when checking; the encryption passphrase signs.
 *
 * <p>OpenPGP: a binary-document (type 0x00) signature, SHA-256, ASCII-armored, as {@code gpg --detach-sign
 * --armor} makes it; {@code gpg --verify} checks it and this class checks gpg's.
 */
final class PgpAuthenticator implements Authenticator {
    /** First word of an HMAC signature object. */
    static final String HMAC_TAG = "jiffoo-backup-hmac-sha256-v1";
    /** PBKDF2 salt of the HMAC key; documented for checks by hand. */
    static final String HMAC_SALT = "jiffoo-backup manifest authentication v1";
    /** PBKDF2 iterations of the HMAC key; documented for checks by hand. */
    static final int HMAC_ITERATIONS = 200_000;

    private static final int MAX_SIGNATURE_BYTES = 64 * 1024;

    private final OpenPgpTransform.PassphraseEntry signingPassphrase;
    private final List<OpenPgpTransform.PassphraseEntry> passphrases;
    private final PgpKeys.SigningKey signingKey;
    private final List<PgpKeys.Signer> signers;
    private final Map<OpenPgpTransform.PassphraseEntry, CompletableFuture<byte[]>> derived = new ConcurrentHashMap<>();

    PgpAuthenticator(
            OpenPgpTransform.PassphraseEntry signingPassphrase,
            List<OpenPgpTransform.PassphraseEntry> passphrases,
            PgpKeys.SigningKey signingKey,
            List<PgpKeys.Signer> signers) {
        this.signingPassphrase = signingPassphrase;
        this.passphrases = List.copyOf(passphrases);
        this.signingKey = signingKey;
        List<PgpKeys.Signer> all = new ArrayList<>(signers);
        if (signingKey != null) {
            all.add(signingKey.asSigner());
        }
        this.signers = List.copyOf(all);
    }

    /**
     * Derives the key the HMACs most likely need ahead: the signing key file's, else the first key file's (further
     * ones, rotated out, are derived when a signature needs them). Nothing when an OpenPGP key signs. A thread that
     * cannot be started leaves the derivation to the first use.
     */
    @Override
    public void prepare() {
        OpenPgpTransform.PassphraseEntry first = signingKey != null
                ? null
                : signingPassphrase != null ? signingPassphrase : passphrases.isEmpty() ? null : passphrases.get(0);
        if (first == null) {
            return;
        }
        CompletableFuture<byte[]> key = new CompletableFuture<>();
        if (derived.putIfAbsent(first, key) != null) {
            return;
        }
        Thread t = new Thread(
                () -> {
                    try {
                        key.complete(derive(first));
                    } catch (RuntimeException | Error x) {
                        key.completeExceptionally(x);
                    }
                },
                "jiffoo-backup-hmac-key");
        t.setDaemon(true);
        try {
            t.start();
        } catch (OutOfMemoryError | RuntimeException e) {
            derived.remove(first, key);
        }
    }

    @Override
    public boolean canSign() {
        return signingKey != null || signingPassphrase != null;
    }

    @Override
    public byte[] sign(byte[] content) {
        if (signingKey != null) {
            return openPgpSignature(content);
        }
        if (signingPassphrase != null) {
            return (HMAC_TAG + " " + HexFormat.of().formatHex(hmac(signingPassphrase, content)) + "\n")
                    .getBytes(StandardCharsets.US_ASCII);
        }
        throw new ConfigurationException("Backups in public-key mode must be signed, and no signing key is"
                + " configured: give the backup host an OpenPGP signing key (signingKey(...)) and its public key to"
                + " the hosts that verify and restore (signer(...)).");
    }

    @Override
    public String verify(byte[] content, byte[] signature, String key) {
        if (signature.length > MAX_SIGNATURE_BYTES) {
            throw bad(key, "its signature object is larger than " + MAX_SIGNATURE_BYTES + " bytes");
        }
        String text = new String(signature, StandardCharsets.US_ASCII);
        if (text.startsWith(HMAC_TAG + " ")) {
            return verifyHmac(content, text, key);
        }
        return verifyOpenPgp(content, signature, key);
    }

    private String verifyHmac(byte[] content, String text, String key) {
        String hex = text.substring(HMAC_TAG.length() + 1).strip();
        if (!hex.matches("[0-9a-f]{64}")) {
            throw bad(key, "its HMAC signature is not 64 lower-case hex digits");
        }
        if (passphrases.isEmpty()) {
            if (!signers.isEmpty()) {
                throw foreign(key, "an HMAC line (passphrase mode)", "OpenPGP signatures (public-key mode)");
            }
            throw new ConfigurationException("The object " + key + " is authenticated with a key file's passphrase,"
                    + " and no key file is configured here: configure the key file the backups are made with"
                    + " (passphrase(...)) to check it.");
        }
        byte[] given = HexFormat.of().parseHex(hex);
        for (OpenPgpTransform.PassphraseEntry p : passphrases) {
            if (MessageDigest.isEqual(given, hmac(p, content))) {
                return p.label();
            }
        }
        throw bad(
                key,
                "its HMAC does not match the configured key file"
                        + (passphrases.size() > 1
                                ? "s (" + passphrases.size() + " tried)"
                                : " (" + passphrases.get(0).label() + ")")
                        + ". Either this"
                        + " host's key file is not the one the backups are made with (compare them), or the object was"
                        + " changed or written by someone without the key file");
    }

    private String verifyOpenPgp(byte[] content, byte[] signature, String key) {
        PGPSignature sig = parse(signature, key);
        if (sig.getSignatureType() != PGPSignature.BINARY_DOCUMENT) {
            throw bad(
                    key,
                    "its OpenPGP signature is of type " + sig.getSignatureType()
                            + ", not a signature of a binary document (type 0, as `gpg --detach-sign` makes)");
        }
        if (signers.isEmpty()) {
            if (!passphrases.isEmpty()) {
                throw foreign(key, "an OpenPGP signature (public-key mode)", "HMACs of key files (passphrase mode)");
            }
            throw new ConfigurationException("The object " + key + " is signed with OpenPGP key "
                    + PgpKeys.keyIdHex(sig.getKeyID()) + ", and no signer's public key is configured here: add the"
                    + " backup host's signing public key (signer(...)).");
        }
        for (PgpKeys.Signer s : signers) {
            if (s.key().getKeyID() != sig.getKeyID()) {
                continue;
            }
            try {
                sig.init(new BcPGPContentVerifierBuilderProvider(), s.key());
                sig.update(content);
                if (sig.verify()) {
                    return "OpenPGP key " + s.fingerprint() + (s.userId().isEmpty() ? "" : " <" + s.userId() + ">");
                }
            } catch (PGPException | RuntimeException e) {
                throw bad(key, "its OpenPGP signature cannot be checked (" + e.getMessage() + ")");
            }
            throw bad(
                    key,
                    "its OpenPGP signature by key " + s.fingerprint() + " does not match: it was changed"
                            + " after it was signed");
        }
        throw bad(
                key,
                "it is signed by OpenPGP key " + PgpKeys.keyIdHex(sig.getKeyID()) + ", which is not a"
                        + " configured signer (" + signers.size()
                        + " configured); if that key is yours, add its public key"
                        + " (signer(...))");
    }

    private static PGPSignature parse(byte[] signature, String key) {
        try (InputStream in = PGPUtil.getDecoderStream(new ByteArrayInputStream(signature))) {
            Object o = new JcaPGPObjectFactory(in).nextObject();
            if (o instanceof PGPSignatureList list && list.size() == 1) {
                return list.get(0);
            }
            throw bad(key, "its signature object is neither an HMAC line nor one OpenPGP signature");
        } catch (IOException | RuntimeException e) {
            if (e instanceof IntegrityException ie) {
                throw ie;
            }
            throw bad(
                    key,
                    "its signature object is neither an HMAC line nor an OpenPGP signature (" + e.getMessage() + ")");
        }
    }

    private byte[] openPgpSignature(byte[] content) {
        try {
            PGPSignatureGenerator gen = new PGPSignatureGenerator(
                    new BcPGPContentSignerBuilder(signingKey.publicKey().getAlgorithm(), HashAlgorithmTags.SHA256),
                    signingKey.publicKey());
            gen.init(PGPSignature.BINARY_DOCUMENT, signingKey.privateKey());
            PGPSignatureSubpacketGenerator hashed = new PGPSignatureSubpacketGenerator();
            hashed.setSignatureCreationTime(true, new java.util.Date());
            hashed.setIssuerFingerprint(false, signingKey.publicKey());
            gen.setHashedSubpackets(hashed.generate());
            PGPSignatureSubpacketGenerator unhashed = new PGPSignatureSubpacketGenerator();
            unhashed.setIssuerKeyID(false, signingKey.publicKey().getKeyID());
            gen.setUnhashedSubpackets(unhashed.generate());
            gen.update(content);
            PGPSignature sig = gen.generate();
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            try (ArmoredOutputStream armor =
                    ArmoredOutputStream.builder().clearHeaders().build(bytes)) {
                sig.encode(armor);
            }
            return bytes.toByteArray();
        } catch (PGPException | IOException e) {
            throw new IllegalStateException(
                    "cannot sign with OpenPGP key " + signingKey.fingerprint() + ": " + e.getMessage(), e);
        }
    }

    private byte[] hmac(OpenPgpTransform.PassphraseEntry p, byte[] content) {
        byte[] k;
        try {
            k = derived.computeIfAbsent(p, e -> CompletableFuture.completedFuture(derive(e)))
                    .join();
        } catch (CompletionException e) {
            throw e.getCause() instanceof RuntimeException r ? r : new IllegalStateException(e.getCause());
        }
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(k, "HmacSHA256"));
            return mac.doFinal(content);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HMAC-SHA256 is not available: " + e.getMessage(), e);
        }
    }

    /**
     * PBKDF2-HMAC-SHA256 (RFC 8018) of the passphrase as UTF-8, fixed salt, 32 bytes: the same bytes as the JDK's
     * {@code PBKDF2WithHmacSHA256} (a test compares them), in half its hashing. The JDK re-hashes HMAC's inner and
     * outer pad blocks for every iteration; here they are hashed once, so each of the 200,000 iterations costs two
     * compressions instead of four ({@link Pbkdf2Sha256}).
     */
    static byte[] derive(OpenPgpTransform.PassphraseEntry p) {
        char[] chars = p.passphrase();
        java.nio.ByteBuffer utf8 = StandardCharsets.UTF_8.encode(java.nio.CharBuffer.wrap(chars));
        byte[] password = new byte[utf8.remaining()];
        utf8.get(password);
        java.util.Arrays.fill(utf8.array(), (byte) 0);
        try {
            return pbkdf2HmacSha256(password, HMAC_SALT.getBytes(StandardCharsets.US_ASCII), HMAC_ITERATIONS);
        } finally {
            java.util.Arrays.fill(password, (byte) 0);
        }
    }

    /** One 32-byte block of PBKDF2-HMAC-SHA256 ({@link Pbkdf2Sha256}). */
    static byte[] pbkdf2HmacSha256(byte[] password, byte[] salt, int iterations) {
        return Pbkdf2Sha256.derive(password, salt, iterations);
    }

    /**
     * A signature of the mode this host's keys do not check: this host's key material decides the mode, so in one
     * store it is a foreign (planted or replaced) object, and {@link ForeignSignatureException#ifEveryStore} makes it
     * a configuration error when every store holds it so.
     */
    private static ForeignSignatureException foreign(String key, String found, String expected) {
        return new ForeignSignatureException(
                "The object " + key + " is not authentic: it carries " + found + ", while this host's keys check "
                        + expected + " only. Someone who can write to the store may have planted or replaced it; do"
                        + " not restore it. If every store holds it so, this host's key configuration is not the one"
                        + " the backups are made with. See docs/security.md.",
                key,
                found,
                expected);
    }

    private static IntegrityException bad(String key, String why) {
        return new IntegrityException(
                "The object " + key + " is not authentic: " + why + ". Someone who can write"
                        + " to the store may have planted or changed it; do not restore it. See docs/security.md.",
                key,
                null,
                null);
    }

    @Override
    public Map<String, Object> describe() {
        Map<String, Object> d = new LinkedHashMap<>();
        d.put(
                "signs",
                signingKey != null
                        ? "openpgp " + signingKey.fingerprint()
                        : signingPassphrase != null ? "hmac-sha256 (" + signingPassphrase.label() + ")" : "no");
        d.put("keyFiles", passphrases.size());
        d.put(
                "signers",
                signers.stream().map(PgpKeys.Signer::fingerprint).distinct().toList());
        return d;
    }

    @Override
    public String toString() {
        return "PgpAuthenticator" + describe();
    }
}

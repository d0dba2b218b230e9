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
 * <p>HMAC, in one of two schemes ({@link HmacScheme}): the signature object is the line {@code TAG <hex>} with
 * {@code <hex> = HMAC-SHA256(K, content)} and
 * <ul>
 *   <li>{@code jiffoo-backup-hmac-sha256-v1}: {@code K = PBKDF2-HMAC-SHA256(passphrase as UTF-8, salt "jiffoo-backup
 *       manifest authentication v1", 200000 iterations, 32 bytes)}, for passphrases a person chose, where the
 *       stretching slows guessing;
 *   <li>{@code jiffoo-backup-hmac-sha256-v2}: the same with salt {@code "jiffoo-backup manifest authentication v2"}
 *       and 1 iteration, for {@linkplain OpenPgpTransform#randomKey random keys} (as {@code keygen} writes them),
 *       which 256 random bits protect and stretching cannot: it would only cost every run ~0.1 s of CPU.
 * </ul>
 * The encryption passphrase signs, in its scheme. Every configured passphrase (the encryption one and those kept for
 * decryption after a rotation) is tried when checking, in the scheme the signature names; a v2 signature is checked
 * only with random keys (no passphrase a person chose ever makes one).
 *
 * <p>OpenPGP: a binary-document (type 0x00) signature, SHA-256, ASCII-armored, as {@code gpg --detach-sign
 * --armor} makes it; {@code gpg --verify} checks it and this class checks gpg's.
 */
final class PgpAuthenticator implements Authenticator {
    /** First word of a v1 HMAC signature object (a passphrase a person chose). */
    static final String HMAC_TAG = "jiffoo-backup-hmac-sha256-v1";
    /** PBKDF2 salt of the v1 HMAC key; documented for checks by hand. */
    static final String HMAC_SALT = "jiffoo-backup manifest authentication v1";
    /** PBKDF2 iterations of the v1 HMAC key; documented for checks by hand. */
    static final int HMAC_ITERATIONS = 200_000;

    /** How the HMAC key is derived from a key file's passphrase, named by the signature line's first word. */
    enum HmacScheme {
        /** A passphrase a person chose: 200,000 PBKDF2 iterations slow guessing. */
        V1(HMAC_TAG, HMAC_SALT, HMAC_ITERATIONS),
        /** A random key (256 bits): one PBKDF2 iteration, i.e. {@code HMAC-SHA256(key, salt || 00000001)}. */
        V2("jiffoo-backup-hmac-sha256-v2", "jiffoo-backup manifest authentication v2", 1);

        final String tag;
        final String salt;
        final int iterations;

        HmacScheme(String tag, String salt, int iterations) {
            this.tag = tag;
            this.salt = salt;
            this.iterations = iterations;
        }

        /** The scheme a passphrase signs with: v2 for a random key, else v1. */
        static HmacScheme of(OpenPgpTransform.PassphraseEntry p) {
            return OpenPgpTransform.randomKey(p.passphrase()) ? V2 : V1;
        }
    }

    /** One derived key: a passphrase in a scheme. */
    private record Derivation(OpenPgpTransform.PassphraseEntry passphrase, HmacScheme scheme) {
        // written out: see PassphraseEntry
        @Override
        public boolean equals(Object o) {
            return o instanceof Derivation d && d.passphrase.equals(passphrase) && d.scheme == scheme;
        }

        @Override
        public int hashCode() {
            return 31 * passphrase.hashCode() + scheme.hashCode();
        }
    }

    private static final int MAX_SIGNATURE_BYTES = 64 * 1024;

    private final OpenPgpTransform.PassphraseEntry signingPassphrase;
    private final List<OpenPgpTransform.PassphraseEntry> passphrases;
    private final PgpKeys.SigningKey signingKey;
    private final List<PgpKeys.Signer> signers;
    private final Map<Derivation, CompletableFuture<byte[]>> derived = new ConcurrentHashMap<>();
    /** Each key file's scheme, decided once: a manifest check must not re-decode every key file. */
    private final Map<OpenPgpTransform.PassphraseEntry, HmacScheme> schemes = new java.util.HashMap<>();

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
        for (OpenPgpTransform.PassphraseEntry p : this.passphrases) {
            schemes.put(p, HmacScheme.of(p));
        }
        if (signingPassphrase != null) {
            schemes.computeIfAbsent(signingPassphrase, HmacScheme::of);
        }
    }

    /**
     * Derives the key the HMACs most likely need ahead: the signing key file's, else the first key file's (further
     * ones, rotated out, are derived when a signature needs them). Nothing when an OpenPGP key signs, or when that key
     * file is a random key (its v2 key costs one HMAC). A thread that cannot be started leaves the derivation to the
     * first use.
     */
    @Override
    public void prepare() {
        OpenPgpTransform.PassphraseEntry first = signingKey != null
                ? null
                : signingPassphrase != null ? signingPassphrase : passphrases.isEmpty() ? null : passphrases.get(0);
        if (first == null || schemes.get(first) != HmacScheme.V1) {
            return;
        }
        Derivation d = new Derivation(first, HmacScheme.V1);
        CompletableFuture<byte[]> key = new CompletableFuture<>();
        if (derived.putIfAbsent(d, key) != null) {
            return;
        }
        Thread t = new Thread(
                () -> {
                    try {
                        key.complete(derive(d));
                    } catch (RuntimeException | Error x) {
                        key.completeExceptionally(x);
                    }
                },
                "jiffoo-backup-hmac-key");
        t.setDaemon(true);
        try {
            t.start();
        } catch (OutOfMemoryError | RuntimeException e) {
            derived.remove(d, key);
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
            HmacScheme scheme = schemes.get(signingPassphrase);
            return (scheme.tag + " " + HexFormat.of().formatHex(hmac(signingPassphrase, scheme, content)) + "\n")
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
        for (HmacScheme scheme : HmacScheme.values()) {
            if (text.startsWith(scheme.tag + " ")) {
                return verifyHmac(content, text, scheme, key);
            }
        }
        return verifyOpenPgp(content, signature, key);
    }

    private String verifyHmac(byte[] content, String text, HmacScheme scheme, String key) {
        String hex = text.substring(scheme.tag.length() + 1).strip();
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
        int tried = 0;
        for (OpenPgpTransform.PassphraseEntry p : passphrases) {
            // a v2 line is made only with a random key: a passphrase a person chose is never tried against one
            if (scheme == HmacScheme.V2 && schemes.get(p) != HmacScheme.V2) {
                continue;
            }
            tried++;
            if (MessageDigest.isEqual(given, hmac(p, scheme, content))) {
                return p.label();
            }
        }
        if (tried == 0) {
            throw bad(
                    key,
                    "its HMAC line (" + scheme.tag + ") is one only a random key file (as `keygen` writes) makes,"
                            + " and the configured key file"
                            + (passphrases.size() > 1 ? "s are passphrases" : " is a passphrase")
                            + " a person chose. Either this host's key file is not the one the backups are made with"
                            + " (compare them), or the object was written by someone without the key file");
        }
        throw bad(
                key,
                "its HMAC does not match the configured key file"
                        + (passphrases.size() > 1
                                ? "s (" + tried + " tried"
                                        + (tried < passphrases.size()
                                                ? " of " + passphrases.size() + ": a " + scheme.tag
                                                        + " line is checked with random key files only"
                                                : "")
                                        + ")"
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

    private byte[] hmac(OpenPgpTransform.PassphraseEntry p, HmacScheme scheme, byte[] content) {
        byte[] k;
        try {
            k = derived.computeIfAbsent(new Derivation(p, scheme), d -> CompletableFuture.completedFuture(derive(d)))
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
     * PBKDF2-HMAC-SHA256 (RFC 8018) of the passphrase as UTF-8 with the scheme's salt and iterations, 32 bytes: the
     * same bytes as the JDK's {@code PBKDF2WithHmacSHA256} (a test compares them), in half its hashing and without
     * allocating. The JDK re-hashes HMAC's inner and outer pad blocks for every iteration; here their SHA-256 states
     * are computed once, and each of v1's 200,000 iterations is two SHA-256 compressions of one padded 32-byte block,
     * in {@code int}s ({@link #compress}). Cloning a {@code MessageDigest} per iteration instead made 190 MB of garbage,
     * which grew a short-lived JVM's heap and its page faults (docs/benchmarks.md, issue 17).
     */
    private static byte[] derive(Derivation d) {
        char[] chars = d.passphrase().passphrase();
        java.nio.ByteBuffer utf8 = StandardCharsets.UTF_8.encode(java.nio.CharBuffer.wrap(chars));
        byte[] password = new byte[utf8.remaining()];
        utf8.get(password);
        java.util.Arrays.fill(utf8.array(), (byte) 0);
        try {
            return pbkdf2HmacSha256(
                    password, d.scheme().salt.getBytes(StandardCharsets.US_ASCII), d.scheme().iterations);
        } finally {
            java.util.Arrays.fill(password, (byte) 0);
        }
    }

    /** One 32-byte block of PBKDF2-HMAC-SHA256 with the pads' hash states computed once. */
    static byte[] pbkdf2HmacSha256(byte[] password, byte[] salt, int iterations) {
        byte[] key;
        MessageDigest inner;
        MessageDigest outer;
        try {
            key = password.length > 64 ? MessageDigest.getInstance("SHA-256").digest(password) : password;
            inner = MessageDigest.getInstance("SHA-256");
            outer = MessageDigest.getInstance("SHA-256");
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("SHA-256 is not available: " + e.getMessage(), e);
        }
        byte[] pad = new byte[64];
        int[] w = new int[64];
        int[] innerState = new int[8];
        int[] outerState = new int[8];
        int[] u = new int[8];
        int[] t = new int[8];
        byte[] first = new byte[32];
        try {
            for (int i = 0; i < 64; i++) {
                pad[i] = (byte) ((i < key.length ? key[i] : 0) ^ 0x36);
            }
            inner.update(pad);
            Sha256Block.compress(Sha256Block.initial(), Sha256Block.words(pad, w), innerState);
            for (int i = 0; i < 64; i++) {
                pad[i] = (byte) ((i < key.length ? key[i] : 0) ^ 0x5c);
            }
            outer.update(pad);
            Sha256Block.compress(Sha256Block.initial(), Sha256Block.words(pad, w), outerState);
            // U1 = HMAC(salt || INT(1)), of any salt's length, through the digests
            inner.update(salt);
            inner.update(new byte[] {0, 0, 0, 1});
            inner.digest(first, 0, 32);
            outer.update(first);
            outer.digest(first, 0, 32);
            for (int i = 0; i < 8; i++) {
                u[i] = (first[4 * i] & 0xFF) << 24
                        | (first[4 * i + 1] & 0xFF) << 16
                        | (first[4 * i + 2] & 0xFF) << 8
                        | first[4 * i + 3] & 0xFF;
                t[i] = u[i];
            }
            // U2..Un: each HMAC of a 32-byte U is one block after each pad's state
            for (int n = 1; n < iterations; n++) {
                Sha256Block.padded32(u, w);
                Sha256Block.compress(innerState, w, u);
                Sha256Block.padded32(u, w);
                Sha256Block.compress(outerState, w, u);
                for (int i = 0; i < 8; i++) {
                    t[i] ^= u[i];
                }
            }
            byte[] out = new byte[32];
            for (int i = 0; i < 8; i++) {
                out[4 * i] = (byte) (t[i] >>> 24);
                out[4 * i + 1] = (byte) (t[i] >>> 16);
                out[4 * i + 2] = (byte) (t[i] >>> 8);
                out[4 * i + 3] = (byte) t[i];
            }
            return out;
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("SHA-256 failed: " + e.getMessage(), e);
        } finally {
            java.util.Arrays.fill(pad, (byte) 0);
            java.util.Arrays.fill(first, (byte) 0);
            java.util.Arrays.fill(w, 0);
            java.util.Arrays.fill(innerState, 0);
            java.util.Arrays.fill(outerState, 0);
            java.util.Arrays.fill(u, 0);
            java.util.Arrays.fill(t, 0);
        }
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

package com.jiffoo.backup.crypto;

import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.Transform;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.bouncycastle.bcpg.HashAlgorithmTags;
import org.bouncycastle.bcpg.SymmetricKeyAlgorithmTags;
import org.bouncycastle.openpgp.PGPEncryptedDataGenerator;
import org.bouncycastle.openpgp.PGPException;
import org.bouncycastle.openpgp.PGPLiteralData;
import org.bouncycastle.openpgp.PGPLiteralDataGenerator;
import org.bouncycastle.openpgp.operator.bc.BcPublicKeyKeyEncryptionMethodGenerator;
import org.bouncycastle.openpgp.operator.jcajce.JcaPGPDigestCalculatorProviderBuilder;
import org.bouncycastle.openpgp.operator.jcajce.JcePBEKeyEncryptionMethodGenerator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * OpenPGP encryption of backups, readable by GnuPG 2.2 and later: what {@link #encode} writes decrypts with
 * {@code gpg --batch --pinentry-mode loopback --passphrase-file backup.key -d FILE} (passphrase mode) or plain
 * {@code gpg -d FILE} with a recipient's secret key (public-key mode), and {@link #decode} reads what
 * {@code gpg --symmetric --cipher-algo AES256} and {@code gpg -e -r RECIPIENT} write.
 *
 * <p>Format written: one AES-256 symmetrically encrypted, integrity-protected data packet (SEIPD version 1: CFB with
 * an MDC, the newest kind gpg 2.2 reads) holding one binary literal data packet, in 64 KiB partial-length chunks,
 * and no compression packet (backups are compressed before this stage). Passphrase mode derives the key with
 * iterated and salted S2K, SHA-256, count byte {@code 0xFF} (65,011,712 bytes hashed) for a passphrase a person chose
 * and {@code 0x60} (65,536 bytes) for a random key as {@code keygen} writes it. Public-key mode encrypts the
 * session key to each recipient's encryption subkey (RSA, or ECDH on Curve25519 as gpg makes it).
 *
 * <p>Decryption accepts any number of passphrases and secret keys, so old backups stay readable after a key
 * rotation: each file's session-key packets are matched against the key ids of the secret keys, and passphrases
 * are tried in turn. {@link #decode} checks the key before returning, so a wrong key fails with a
 * {@link com.jiffoo.backup.DecryptionException} before any plaintext is read; the stream it returns checks the
 * MDC when it reaches the end and throws an {@link com.jiffoo.backup.IntegrityException} from {@code read} instead
 * of returning {@code -1} if the data was changed or truncated.
 *
 * <p>Immutable and thread-safe; {@link #toString()} and {@link #describe()} never show a secret.
 *
 * <pre>{@code
 * // the backup host: passphrase mode, or public keys only (it cannot read its own backups)
 * OpenPgpTransform pgp = OpenPgpTransform.builder()
 *         .passphrase(PassphraseKeyFile.read(Path.of("/etc/jiffoo/backup.key")))
 *         .build();
 * OpenPgpTransform toOps = OpenPgpTransform.builder().recipient(Path.of("ops-public.asc")).build();
 *
 * // the restore host, after a key rotation
 * OpenPgpTransform reader = OpenPgpTransform.builder()
 *         .passphrase(PassphraseKeyFile.read(Path.of("backup.key")))
 *         .decryptionPassphrase(PassphraseKeyFile.read(Path.of("backup-2025.key")))
 *         .secretKey(Path.of("ops-secret.asc"), opsKeyPassphrase)
 *         .build();
 * try (InputStream plain = reader.decode(Files.newInputStream(backup))) {
 *     plain.transferTo(target);
 * }
 * }</pre>
 */
public final class OpenPgpTransform implements Transform {
    private static final Logger LOG = LoggerFactory.getLogger(OpenPgpTransform.class);

    /**
     * The S2K iteration count byte written for a passphrase a person chose: 0xFF, the largest, 65,011,712 bytes hashed
     * (about 0.1-0.3 s per message), which slows guessing.
     */
    public static final int S2K_COUNT_BYTE = 0xFF;

    /**
     * The S2K iteration count byte written for a random key (32 random bytes in base64, as {@code keygen} and
     * {@code openssl rand -base64 32} write): 0x60, 65,536 bytes hashed. A 256-bit random key cannot be guessed, so
     * stretching it adds no protection, while hashing 64 MiB per message costs more than compressing and encrypting a
     * 16 MiB WAL segment. Each message still has its own random salt, so its own key.
     */
    public static final int RANDOM_KEY_S2K_COUNT_BYTE = 0x60;

    static final int BUFFER_SIZE = 1 << 16;

    private final PassphraseEntry encryptionPassphrase;
    private final List<PassphraseEntry> decryptionPassphrases;
    private final List<PgpKeys.Recipient> recipients;
    private final List<PgpKeys.SecretKey> secretKeys;
    private final Clock clock;
    private final SecureRandom random;
    private final Builder builderState;
    private final PgpAuthenticator authenticator;

    /** A passphrase and where it came from (a key file path or a caller-given label), never printed itself. */
    record PassphraseEntry(char[] passphrase, String label) {
        @Override
        public String toString() {
            return label;
        }

        // Written out, with the record's own meaning (the same array, the same label): the generated methods link a
        // method handle on first use, ~10 ms of every command line's start (docs/benchmarks.md).
        @Override
        @SuppressWarnings("ReferenceEquality")
        public boolean equals(Object o) {
            return o instanceof PassphraseEntry p && p.passphrase == passphrase && p.label.equals(label);
        }

        @Override
        public int hashCode() {
            return 31 * System.identityHashCode(passphrase) + label.hashCode();
        }
    }

    private OpenPgpTransform(Builder b) {
        this.encryptionPassphrase = b.encryptionPassphrase;
        List<PassphraseEntry> dec = new ArrayList<>();
        if (b.encryptionPassphrase != null) {
            dec.add(b.encryptionPassphrase);
        }
        dec.addAll(b.decryptionPassphrases);
        this.decryptionPassphrases = Collections.unmodifiableList(dec);
        this.recipients = List.copyOf(b.recipients);
        this.secretKeys = List.copyOf(b.secretKeys);
        this.clock = b.clock;
        this.random = new SecureRandom();
        this.builderState = b.copy();
        this.authenticator = new PgpAuthenticator(dec.isEmpty() ? null : dec.get(0), dec, b.signingKey, b.signers);
    }

    /**
     * Authenticates manifests and verification records with this transform's keys: passphrase mode signs with an
     * HMAC keyed from the encryption passphrase (and checks with every configured passphrase); public-key mode signs
     * with the {@linkplain Builder#signingKey(Path, char[]) signing key} and checks against the
     * {@linkplain Builder#signer(Path) signers} (the signing key's own public part included). Always present: an
     * encrypting stage never accepts unauthenticated backups by itself.
     */
    @Override
    public java.util.Optional<com.jiffoo.backup.Authenticator> authenticator() {
        return java.util.Optional.of(authenticator);
    }

    /** A new builder. */
    public static Builder builder() {
        return new Builder();
    }

    /** A builder holding this transform's keys and settings. */
    public Builder toBuilder() {
        return builderState.copy();
    }

    /** {@code .gpg} */
    @Override
    public String suffix() {
        return ".gpg";
    }

    /** True: this stage encrypts. */
    @Override
    public boolean encrypts() {
        return true;
    }

    /** True when {@link #encode} can be used: a passphrase or at least one recipient is configured. */
    public boolean canEncrypt() {
        return encryptionPassphrase != null || !recipients.isEmpty();
    }

    /** True when {@link #decode} can be used: at least one passphrase or secret key is configured. */
    public boolean canDecrypt() {
        return !decryptionPassphrases.isEmpty() || !secretKeys.isEmpty();
    }

    /**
     * Wraps {@code out} so that bytes written to the result reach it encrypted. Closing the result writes the MDC
     * and closes {@code out}. Memory use is constant (one 64 KiB buffer per layer).
     *
     * <pre>{@code
     * try (OutputStream enc = pgp.encode(Files.newOutputStream(Path.of("x.tar.gz.gpg")))) {
     *     source.writeTo(enc);
     * }
     * }</pre>
     *
     * @throws ConfigurationException when the transform has no passphrase or recipient, or a recipient key has
     *                                expired since it was configured
     */
    @Override
    public OutputStream encode(OutputStream out) throws IOException {
        Objects.requireNonNull(out, "out");
        if (!canEncrypt()) {
            throw new ConfigurationException("this OpenPGP transform has no encryption key: it was built with "
                    + "decryption keys only; set a passphrase key file or a recipient's public key to write backups");
        }
        Instant now = clock.instant();
        for (PgpKeys.Recipient r : recipients) {
            if (r.expires() != null && !now.isBefore(r.expires())) {
                throw new ConfigurationException(
                        "recipient key " + r.keyId() + " (" + r.userId() + ") from " + r.source() + " expired on "
                                + r.expires() + "; ask its owner to extend it and export it again");
            }
        }
        PGPEncryptedDataGenerator gen = new PGPEncryptedDataGenerator(
                PgpDataCiphers.encryptorBuilder(SymmetricKeyAlgorithmTags.AES_256, random));
        try {
            if (encryptionPassphrase != null) {
                gen.addMethod(new JcePBEKeyEncryptionMethodGenerator(
                                encryptionPassphrase.passphrase(),
                                new JcaPGPDigestCalculatorProviderBuilder()
                                        .build()
                                        .get(HashAlgorithmTags.SHA256),
                                s2kCountByte(encryptionPassphrase.passphrase()))
                        .setSecureRandom(random));
            }
            for (PgpKeys.Recipient r : recipients) {
                gen.addMethod(new BcPublicKeyKeyEncryptionMethodGenerator(r.encryptionKey()).setSecureRandom(random));
            }
            OutputStream encrypted = gen.open(out, new byte[BUFFER_SIZE]);
            PGPLiteralDataGenerator lit = new PGPLiteralDataGenerator();
            OutputStream literal =
                    lit.open(encrypted, PGPLiteralData.BINARY, "", PGPLiteralData.NOW, new byte[BUFFER_SIZE]);
            LOG.debug(
                    "encrypting with AES-256 ({}{} recipient(s))",
                    encryptionPassphrase != null ? "passphrase " + encryptionPassphrase.label() + ", " : "",
                    recipients.size());
            return new EncodingStream(literal, lit, gen, out);
        } catch (PGPException e) {
            throw new IOException("cannot start OpenPGP encryption: " + e.getMessage(), e);
        }
    }

    /**
     * Wraps {@code in} (an OpenPGP message) so that reading the result gives the plaintext. Before returning it
     * reads the message's header and finds the key that opens it, so a wrong key fails here. The result throws an
     * {@link com.jiffoo.backup.IntegrityException} from {@code read} when the data is damaged or truncated, and
     * returns {@code -1} only once the MDC checked out. Closing it (at any point) closes {@code in}; when this
     * method throws, {@code in} is left open for the caller to close.
     *
     * <pre>{@code
     * try (InputStream plain = pgp.decode(Files.newInputStream(Path.of("x.tar.gz.gpg")))) {
     *     plain.transferTo(out);
     * }
     * }</pre>
     *
     * @throws ConfigurationException when the transform holds no passphrase or secret key
     * @throws com.jiffoo.backup.DecryptionException when no configured key opens the message
     * @throws com.jiffoo.backup.IntegrityException when the input is not an OpenPGP encrypted message, is not
     *                                              integrity protected, or is damaged or truncated in its header
     */
    @Override
    public InputStream decode(InputStream in) throws IOException {
        Objects.requireNonNull(in, "in");
        if (!canDecrypt()) {
            throw new ConfigurationException("this OpenPGP transform holds only public keys and cannot decrypt; "
                    + "reading a backup needs a secret key (`gpg --export-secret-keys`) or the passphrase key file "
                    + "it was encrypted with");
        }
        return PgpDecoder.open(in, decryptionPassphrases, secretKeys);
    }

    /**
     * The description for the manifest: {@code type=openpgp}, {@code encrypts=true}, {@code mode}
     * ({@code passphrase}, {@code public-key}, or {@code passphrase+public-key}), {@code cipher=AES-256},
     * {@code integrity=MDC}, {@code packet=SEIPDv1}, {@code compression=none}, the S2K parameters in passphrase
     * mode, and the recipients' key ids and fingerprints in public-key mode. Never a secret.
     */
    @Override
    public Map<String, Object> describe() {
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("type", "openpgp");
        d.put("encrypts", true);
        String mode = encryptionPassphrase != null && !recipients.isEmpty()
                ? "passphrase+public-key"
                : encryptionPassphrase != null ? "passphrase" : recipients.isEmpty() ? "none" : "public-key";
        d.put("mode", mode);
        d.put("cipher", "AES-256");
        d.put("integrity", "MDC");
        d.put("packet", "SEIPDv1");
        d.put("compression", "none");
        if (encryptionPassphrase != null) {
            Map<String, Object> s2k = new LinkedHashMap<>();
            s2k.put("mode", "iterated-salted");
            s2k.put("hash", "SHA-256");
            int countByte = s2kCountByte(encryptionPassphrase.passphrase());
            s2k.put("countByte", countByte);
            s2k.put("iterations", s2kBytes(countByte));
            s2k.put("key", countByte == S2K_COUNT_BYTE ? "passphrase" : "random");
            d.put("s2k", s2k);
        }
        if (!recipients.isEmpty()) {
            List<Map<String, Object>> rs = new ArrayList<>();
            for (PgpKeys.Recipient r : recipients) {
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("keyId", r.keyId());
                m.put("fingerprint", r.fingerprint());
                m.put("primaryFingerprint", r.primaryFingerprint());
                m.put("algorithm", PgpKeys.algorithmName(r.encryptionKey()));
                if (!r.userId().isEmpty()) {
                    m.put("userId", r.userId());
                }
                rs.add(Collections.unmodifiableMap(m));
            }
            d.put("recipients", Collections.unmodifiableList(rs));
        }
        return Collections.unmodifiableMap(d);
    }

    /**
     * The count byte for this passphrase: {@link #RANDOM_KEY_S2K_COUNT_BYTE} for a {@linkplain #randomKey random key},
     * else {@link #S2K_COUNT_BYTE}.
     */
    static int s2kCountByte(char[] passphrase) {
        return randomKey(passphrase) ? RANDOM_KEY_S2K_COUNT_BYTE : S2K_COUNT_BYTE;
    }

    /**
     * Whether this passphrase is a random key, which stretching cannot protect further: the standard base64 (with
     * padding) of exactly 32 bytes among which at least 20 differ (random bytes have about 30; fewer than 20 happens
     * once in about 10^8 keys and only costs the slower derivation) and which are not UTF-8 text (the base64 of a
     * typed phrase is). {@code keygen} and {@code openssl rand -base64 32} write such keys.
     */
    static boolean randomKey(char[] passphrase) {
        if (passphrase.length != 44 || passphrase[43] != '=' || passphrase[42] == '=') {
            return false;
        }
        byte[] ascii = new byte[44];
        byte[] decoded = null;
        try {
            for (int i = 0; i < 44; i++) {
                if (passphrase[i] > 0x7f) {
                    return false;
                }
                ascii[i] = (byte) passphrase[i];
            }
            decoded = java.util.Base64.getDecoder().decode(ascii);
            if (decoded.length != 32) {
                return false;
            }
            boolean[] seen = new boolean[256];
            int distinct = 0;
            for (byte b : decoded) {
                if (!seen[b & 0xff]) {
                    seen[b & 0xff] = true;
                    distinct++;
                }
            }
            return distinct >= 20 && !utf8Text(decoded);
        } catch (IllegalArgumentException e) {
            return false;
        } finally {
            java.util.Arrays.fill(ascii, (byte) 0);
            if (decoded != null) {
                java.util.Arrays.fill(decoded, (byte) 0);
            }
        }
    }

    /**
     * Whether the bytes are UTF-8 text: the base64 of a phrase a person typed ({@code echo -n "…" | base64}) is, random
     * bytes almost never are (the chance that 32 random bytes form valid UTF-8 is far below 10^-6).
     */
    private static boolean utf8Text(byte[] bytes) {
        try {
            java.nio.charset.StandardCharsets.UTF_8
                    .newDecoder()
                    .onMalformedInput(java.nio.charset.CodingErrorAction.REPORT)
                    .onUnmappableCharacter(java.nio.charset.CodingErrorAction.REPORT)
                    .decode(java.nio.ByteBuffer.wrap(bytes));
            return true;
        } catch (java.nio.charset.CharacterCodingException e) {
            return false;
        }
    }

    /** The number of bytes hashed for an S2K count byte (RFC 4880 3.7.1.3). */
    static long s2kBytes(int countByte) {
        return (16L + (countByte & 15)) << ((countByte >> 4) + 6);
    }

    /** Shows the configuration without secrets. */
    @Override
    public String toString() {
        return "OpenPgpTransform{" + describe().get("mode") + ", recipients="
                + recipients.stream().map(PgpKeys.Recipient::keyId).toList() + ", decryptionPassphrases="
                + decryptionPassphrases
                + ", secretKeys="
                + secretKeys.stream().map(k -> PgpKeys.keyIdHex(k.keyId())).toList() + "}";
    }

    /** Literal -> encrypted -> out; close finishes each layer and closes {@code out}, keeping the first error. */
    private static final class EncodingStream extends OutputStream {
        private final OutputStream literal;
        private final PGPLiteralDataGenerator lit;
        private final PGPEncryptedDataGenerator gen;
        private final OutputStream out;
        private boolean closed;

        EncodingStream(
                OutputStream literal, PGPLiteralDataGenerator lit, PGPEncryptedDataGenerator gen, OutputStream out) {
            this.literal = literal;
            this.lit = lit;
            this.gen = gen;
            this.out = out;
        }

        @Override
        public void write(int b) throws IOException {
            ensureOpen();
            literal.write(b);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            ensureOpen();
            literal.write(b, off, len);
        }

        @Override
        public void flush() throws IOException {
            ensureOpen();
            literal.flush();
        }

        private void ensureOpen() throws IOException {
            if (closed) {
                throw new IOException("stream closed");
            }
        }

        @Override
        public void close() throws IOException {
            if (closed) {
                return;
            }
            closed = true;
            IOException first = null;
            try {
                lit.close();
            } catch (IOException e) {
                first = e;
            }
            try {
                gen.close();
            } catch (IOException e) {
                first = first == null ? e : addSuppressed(first, e);
            }
            try {
                out.close();
            } catch (IOException e) {
                first = first == null ? e : addSuppressed(first, e);
            }
            if (first != null) {
                throw first;
            }
        }

        private static IOException addSuppressed(IOException first, IOException next) {
            first.addSuppressed(next);
            return first;
        }
    }

    /**
     * Builds an {@link OpenPgpTransform}. Setters check their arguments at once (a key file is read and its keys
     * checked when it is added). Not thread-safe.
     */
    public static final class Builder {
        private PassphraseEntry encryptionPassphrase;
        private final List<PassphraseEntry> decryptionPassphrases = new ArrayList<>();
        private final List<PgpKeys.Recipient> recipients = new ArrayList<>();
        private final List<PgpKeys.SecretKey> secretKeys = new ArrayList<>();
        private final List<PgpKeys.Signer> signers = new ArrayList<>();
        private PgpKeys.SigningKey signingKey;
        private Clock clock = Clock.systemUTC();

        private Builder() {}

        private Builder copy() {
            Builder b = new Builder();
            b.encryptionPassphrase = encryptionPassphrase;
            b.decryptionPassphrases.addAll(decryptionPassphrases);
            b.recipients.addAll(recipients);
            b.secretKeys.addAll(secretKeys);
            b.signers.addAll(signers);
            b.signingKey = signingKey;
            b.clock = clock;
            return b;
        }

        /**
         * Encrypts with the passphrase of a key file (replacing any earlier one); it also decrypts.
         *
         * <pre>{@code builder.passphrase(PassphraseKeyFile.read(Path.of("backup.key")))}</pre>
         */
        public Builder passphrase(PassphraseKeyFile keyFile) {
            Objects.requireNonNull(keyFile, "keyFile");
            this.encryptionPassphrase = new PassphraseEntry(keyFile.passphrase(), "key file " + keyFile.path());
            return this;
        }

        /**
         * Encrypts with a passphrase (copied; replacing any earlier one); it also decrypts.
         *
         * <pre>{@code builder.passphrase(secretChars, "vault secret backup/key")}</pre>
         *
         * @param passphrase the passphrase, not empty
         * @param label      names the passphrase in messages (never the passphrase itself), e.g. where it came from
         */
        public Builder passphrase(char[] passphrase, String label) {
            this.encryptionPassphrase = entry(passphrase, label);
            return this;
        }

        /** Adds a passphrase key file for decryption only (e.g. the key of before a rotation). */
        public Builder decryptionPassphrase(PassphraseKeyFile keyFile) {
            Objects.requireNonNull(keyFile, "keyFile");
            decryptionPassphrases.add(new PassphraseEntry(keyFile.passphrase(), "key file " + keyFile.path()));
            return this;
        }

        /** Adds a passphrase (copied) for decryption only; {@code label} names it in messages. */
        public Builder decryptionPassphrase(char[] passphrase, String label) {
            decryptionPassphrases.add(entry(passphrase, label));
            return this;
        }

        private static PassphraseEntry entry(char[] passphrase, String label) {
            Objects.requireNonNull(passphrase, "passphrase");
            Objects.requireNonNull(label, "label");
            if (passphrase.length == 0) {
                throw new IllegalArgumentException("passphrase is empty");
            }
            return new PassphraseEntry(passphrase.clone(), label);
        }

        /**
         * Encrypts to the public key(s) in a file as {@code gpg --export [--armor] KEYID} writes it. Each key
         * ring's newest valid encryption subkey is used.
         *
         * <pre>{@code builder.recipient(Path.of("ops-public.asc"))}</pre>
         *
         * @throws ConfigurationException when the file is missing or unreadable, holds no public key, or a key is
         *                                revoked, expired or has no encryption subkey
         */
        public Builder recipient(Path publicKeyFile) {
            Objects.requireNonNull(publicKeyFile, "publicKeyFile");
            byte[] data = PgpKeys.readFile(publicKeyFile, "public key file");
            recipients.addAll(
                    PgpKeys.recipients(data, "public key file " + publicKeyFile.toAbsolutePath(), clock.instant()));
            return this;
        }

        /** Like {@link #recipient(Path)}, from the key's bytes (armored or binary); {@code label} names it. */
        public Builder recipient(byte[] publicKey, String label) {
            Objects.requireNonNull(publicKey, "publicKey");
            Objects.requireNonNull(label, "label");
            recipients.addAll(PgpKeys.recipients(publicKey, label, clock.instant()));
            return this;
        }

        /**
         * Adds the secret key(s) in a file, as {@code gpg --export-secret-keys [--armor] KEYID} writes it, for
         * decryption. The keys are unlocked now with {@code keyPassphrase} (copied, then not kept).
         *
         * <pre>{@code builder.secretKey(Path.of("ops-secret.asc"), PassphraseKeyFile.read(Path.of("ops.pass")).passphrase())}</pre>
         *
         * @throws ConfigurationException when the file is missing, holds no secret decryption key, or the passphrase
         *                                does not unlock it
         */
        public Builder secretKey(Path secretKeyFile, char[] keyPassphrase) {
            return fromSecretFile(
                    secretKeyFile,
                    "secret key file",
                    data -> secretKey(data, keyPassphrase, "secret key file " + secretKeyFile.toAbsolutePath()));
        }

        /** Reads a secret key file, hands its bytes to {@code use}, and wipes them whatever happens. */
        private Builder fromSecretFile(Path file, String what, java.util.function.Function<byte[], Builder> use) {
            Objects.requireNonNull(file, what);
            byte[] data = PgpKeys.readFile(file, what);
            try {
                return use.apply(data);
            } finally {
                Arrays.fill(data, (byte) 0);
            }
        }

        /** Like {@link #secretKey(Path, char[])}, from the key's bytes; {@code label} names it in messages. */
        public Builder secretKey(byte[] secretKey, char[] keyPassphrase, String label) {
            Objects.requireNonNull(secretKey, "secretKey");
            Objects.requireNonNull(keyPassphrase, "keyPassphrase");
            Objects.requireNonNull(label, "label");
            secretKeys.addAll(PgpKeys.secretKeys(secretKey, keyPassphrase, label));
            return this;
        }

        /**
         * Signs manifests and verification records with the OpenPGP secret signing key in a file (as
         * {@code keygen --openpgp} or {@code gpg --export-secret-keys [--armor] KEYID} writes it), unlocked now with
         * {@code keyPassphrase} (copied, then not kept). Public-key mode needs one on the backup host: the public
         * encryption key is public, so only a signature proves who made a backup. Replaces an earlier one; its
         * public part is also a trusted {@linkplain #signer(Path) signer}.
         *
         * @throws ConfigurationException when the file is missing, holds no signing key, or the passphrase does not
         *                                unlock it
         */
        public Builder signingKey(Path secretKeyFile, char[] keyPassphrase) {
            return fromSecretFile(
                    secretKeyFile,
                    "signing key file",
                    data -> signingKey(data, keyPassphrase, "signing key file " + secretKeyFile.toAbsolutePath()));
        }

        /** Like {@link #signingKey(Path, char[])}, from the key's bytes; {@code label} names it in messages. */
        public Builder signingKey(byte[] secretKey, char[] keyPassphrase, String label) {
            Objects.requireNonNull(secretKey, "secretKey");
            Objects.requireNonNull(keyPassphrase, "keyPassphrase");
            Objects.requireNonNull(label, "label");
            this.signingKey = PgpKeys.signingKey(secretKey, keyPassphrase, label);
            return this;
        }

        /**
         * Trusts the OpenPGP public key(s) in a file as signers of backups: a backup signed by any of them is
         * accepted, one signed by another key is refused. Give the backup host's signing public key to every host
         * that verifies, restores, prunes or monitors in public-key mode.
         *
         * @throws ConfigurationException when the file is missing or holds no signing-capable public key
         */
        public Builder signer(Path publicKeyFile) {
            Objects.requireNonNull(publicKeyFile, "publicKeyFile");
            byte[] data = PgpKeys.readFile(publicKeyFile, "signer public key file");
            return signer(data, "signer public key file " + publicKeyFile.toAbsolutePath());
        }

        /** Like {@link #signer(Path)}, from the key's bytes (armored or binary); {@code label} names it. */
        public Builder signer(byte[] publicKey, String label) {
            Objects.requireNonNull(publicKey, "publicKey");
            Objects.requireNonNull(label, "label");
            signers.addAll(PgpKeys.signers(publicKey, label));
            return this;
        }

        /**
         * The clock against which key expiry is checked, when a recipient is added and again at each
         * {@link OpenPgpTransform#encode}. Set it before adding recipients. Default: {@link Clock#systemUTC()}.
         */
        public Builder clock(Clock clock) {
            this.clock = Objects.requireNonNull(clock, "clock");
            return this;
        }

        /**
         * Builds the transform.
         *
         * @throws ConfigurationException when no key at all is configured
         */
        public OpenPgpTransform build() {
            if (encryptionPassphrase == null
                    && decryptionPassphrases.isEmpty()
                    && recipients.isEmpty()
                    && secretKeys.isEmpty()
                    && signers.isEmpty()
                    && signingKey == null) {
                throw new ConfigurationException("the OpenPGP transform has no key: set a passphrase key file "
                        + "(e.g. `openssl rand -base64 32 > backup.key && chmod 600 backup.key`) or a recipient's "
                        + "public key");
            }
            return new OpenPgpTransform(this);
        }
    }
}

package com.jiffoo.backup.cli;

import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.crypto.OpenPgpTransform;
import com.jiffoo.backup.crypto.PassphraseKeyFile;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyPairGenerator;
import java.security.SecureRandom;
import java.util.Date;
import java.util.Map;
import org.bouncycastle.bcpg.ArmoredOutputStream;
import org.bouncycastle.bcpg.HashAlgorithmTags;
import org.bouncycastle.bcpg.PublicKeyAlgorithmTags;
import org.bouncycastle.bcpg.PublicKeyPacket;
import org.bouncycastle.bcpg.SymmetricKeyAlgorithmTags;
import org.bouncycastle.bcpg.sig.Features;
import org.bouncycastle.bcpg.sig.KeyFlags;
import org.bouncycastle.jce.provider.BouncyCastleProvider;
import org.bouncycastle.openpgp.PGPException;
import org.bouncycastle.openpgp.PGPKeyPair;
import org.bouncycastle.openpgp.PGPKeyRingGenerator;
import org.bouncycastle.openpgp.PGPSignature;
import org.bouncycastle.openpgp.PGPSignatureSubpacketGenerator;
import org.bouncycastle.openpgp.operator.PBESecretKeyEncryptor;
import org.bouncycastle.openpgp.operator.PGPDigestCalculator;
import org.bouncycastle.openpgp.operator.jcajce.JcaPGPContentSignerBuilder;
import org.bouncycastle.openpgp.operator.jcajce.JcaPGPDigestCalculatorProviderBuilder;
import org.bouncycastle.openpgp.operator.jcajce.JcaPGPKeyPair;
import org.bouncycastle.openpgp.operator.jcajce.JcePBESecretKeyEncryptorBuilder;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code keygen}: a passphrase key file, or an OpenPGP key pair for public-key mode. */
@Command(
        name = "keygen",
        mixinStandardHelpOptions = true,
        sortOptions = false,
        description = {
            "Creates a passphrase key file, or an OpenPGP key pair.",
            "Default: a passphrase key file FILE (default ENCRYPTION_KEY_FILE) with mode 0600"
                    + " holding 32 random bytes in base64, like `openssl rand -base64 32`; gpg --passphrase-file reads it.",
            "--openpgp: an RSA-3072 OpenPGP key pair for public-key mode: --public FILE goes to the backup host"
                    + " (ENCRYPTION_PUBLIC_KEY_FILE), --secret FILE (0600) stays offline for restores"
                    + " (ENCRYPTION_SECRET_KEY_FILE), protected with the first line of --passphrase-file when given.",
            "Existing files are never overwritten. Keep a copy of every key away from the backups."
        },
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {" 0:created", " 2:the file exists, or bad option", " 1:internal error"})
final class KeygenCommand extends CliCommand {
    @Parameters(
            arity = "0..1",
            paramLabel = "FILE",
            description = "The key file to create; default" + " ENCRYPTION_KEY_FILE.")
    Path file;

    @Option(names = "--openpgp", description = "Create an OpenPGP key pair instead.")
    boolean openpgp;

    @Option(names = "--public", paramLabel = "FILE", description = "With --openpgp: where the public key goes.")
    Path publicFile;

    @Option(names = "--secret", paramLabel = "FILE", description = "With --openpgp: where the secret key goes (0600).")
    Path secretFile;

    @Option(
            names = "--uid",
            paramLabel = "USER_ID",
            description = "With --openpgp: the key's user id.",
            defaultValue = "Jiffoo backups <backups@localhost>")
    String uid;

    @Option(
            names = "--passphrase-file",
            paramLabel = "FILE",
            description = "With --openpgp: protect the secret key"
                    + " with this file's first line (a 0600 file, e.g. made by `keygen`). Without it the secret key is"
                    + " unprotected: keep it offline.")
    Path passphraseFile;

    @Override
    void run(Map<String, Object> summary) throws Exception {
        if (!openpgp) {
            Path target = file != null
                    ? file
                    : Path.of(settings.require(
                            "ENCRYPTION_KEY_FILE",
                            "give the key file to"
                                    + " create, e.g. `keygen /etc/jiffoo/backup.key`, or set ENCRYPTION_KEY_FILE"));
            PassphraseKeyFile key = PassphraseKeyFile.generate(target);
            summary.put("keyFile", key.path().toAbsolutePath().toString());
            say("created " + key.path().toAbsolutePath() + " (mode 0600). Keep a copy of it away from the backups:"
                    + " without it no backup can be read.");
            return;
        }
        if (publicFile == null || secretFile == null || file != null) {
            throw new ConfigurationException(
                    "keygen --openpgp needs --public FILE and --secret FILE (and no FILE" + " argument).");
        }
        for (Path p : new Path[] {publicFile, secretFile}) {
            if (Files.exists(p)) {
                throw new ConfigurationException(
                        p.toAbsolutePath() + " already exists; refusing to overwrite a key"
                                + " (backups made with it could no longer be read). Remove it yourself or choose another path.");
            }
        }
        char[] pass = passphraseFile == null
                ? new char[0]
                : PassphraseKeyFile.read(passphraseFile).passphrase();
        PGPKeyRingGenerator gen = generate(uid, pass);
        java.util.Arrays.fill(pass, '\0');
        write(secretFile, armored(gen.generateSecretKeyRing()::encode), true);
        write(publicFile, armored(gen.generatePublicKeyRing()::encode), false);
        // proves the public key is usable for encryption as the backup host will use it
        OpenPgpTransform check =
                OpenPgpTransform.builder().recipient(publicFile).build();
        summary.put("publicKeyFile", publicFile.toAbsolutePath().toString());
        summary.put("secretKeyFile", secretFile.toAbsolutePath().toString());
        summary.put("fingerprint", fingerprint(gen));
        say("created " + publicFile.toAbsolutePath() + " (public: ENCRYPTION_PUBLIC_KEY_FILE on the backup host)");
        say("created " + secretFile.toAbsolutePath() + " (secret, 0600: ENCRYPTION_SECRET_KEY_FILE for restores; keep"
                + " it offline)" + (passphraseFile == null ? " — not passphrase-protected" : ""));
        say("fingerprint " + fingerprint(gen) + " " + check.describe().getOrDefault("mode", ""));
    }

    private static String fingerprint(PGPKeyRingGenerator gen) {
        return java.util.HexFormat.of()
                .withUpperCase()
                .formatHex(gen.generatePublicKeyRing().getPublicKey().getFingerprint());
    }

    /** An RSA-3072 certify/sign primary key and an RSA-3072 encryption subkey, as gpg makes them. */
    private static PGPKeyRingGenerator generate(String uid, char[] pass) throws GeneralSecurityException, PGPException {
        BouncyCastleProvider bc = new BouncyCastleProvider();
        KeyPairGenerator kpg = KeyPairGenerator.getInstance("RSA", bc);
        kpg.initialize(3072, new SecureRandom());
        Date now = new Date();
        PGPKeyPair primary = new JcaPGPKeyPair(
                PublicKeyPacket.VERSION_4, PublicKeyAlgorithmTags.RSA_GENERAL, kpg.generateKeyPair(), now);
        PGPKeyPair sub = new JcaPGPKeyPair(
                PublicKeyPacket.VERSION_4, PublicKeyAlgorithmTags.RSA_GENERAL, kpg.generateKeyPair(), now);

        PGPSignatureSubpacketGenerator primaryPackets = new PGPSignatureSubpacketGenerator();
        primaryPackets.setKeyFlags(true, KeyFlags.CERTIFY_OTHER | KeyFlags.SIGN_DATA);
        primaryPackets.setPreferredSymmetricAlgorithms(
                false, new int[] {SymmetricKeyAlgorithmTags.AES_256, SymmetricKeyAlgorithmTags.AES_128});
        primaryPackets.setPreferredHashAlgorithms(
                false, new int[] {HashAlgorithmTags.SHA256, HashAlgorithmTags.SHA512});
        primaryPackets.setFeature(false, Features.FEATURE_MODIFICATION_DETECTION);
        PGPSignatureSubpacketGenerator subPackets = new PGPSignatureSubpacketGenerator();
        subPackets.setKeyFlags(true, KeyFlags.ENCRYPT_COMMS | KeyFlags.ENCRYPT_STORAGE);

        PGPDigestCalculator sha1 = new JcaPGPDigestCalculatorProviderBuilder()
                .setProvider(bc)
                .build()
                .get(HashAlgorithmTags.SHA1);
        PGPDigestCalculator sha256 = new JcaPGPDigestCalculatorProviderBuilder()
                .setProvider(bc)
                .build()
                .get(HashAlgorithmTags.SHA256);
        PBESecretKeyEncryptor encryptor = pass.length == 0
                ? null
                : new JcePBESecretKeyEncryptorBuilder(SymmetricKeyAlgorithmTags.AES_256, sha256, 0xFF)
                        .setProvider(bc)
                        .build(pass);
        PGPKeyRingGenerator gen = new PGPKeyRingGenerator(
                PGPSignature.POSITIVE_CERTIFICATION,
                primary,
                uid,
                sha1,
                primaryPackets.generate(),
                null,
                new JcaPGPContentSignerBuilder(primary.getPublicKey().getAlgorithm(), HashAlgorithmTags.SHA256)
                        .setProvider(bc),
                encryptor);
        gen.addSubKey(sub, subPackets.generate(), null);
        return gen;
    }

    /** What {@code encoder} writes, ASCII-armored. */
    private static byte[] armored(IoConsumer<OutputStream> encoder) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ArmoredOutputStream armor = ArmoredOutputStream.builder().build(bytes)) {
            encoder.accept(armor);
        }
        return bytes.toByteArray();
    }

    /** Creates {@code file} (never overwriting), mode 0600 from the start when {@code secret}. */
    private static void write(Path file, byte[] content, boolean secret) throws IOException {
        try {
            if (secret) {
                Files.createFile(
                        file, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
                Files.write(file, content, StandardOpenOption.TRUNCATE_EXISTING);
            } else {
                Files.write(file, content, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
            }
        } catch (FileAlreadyExistsException e) {
            throw new ConfigurationException(
                    file.toAbsolutePath() + " already exists; refusing to overwrite a key.", e);
        }
    }

    /** A consumer that may throw {@link IOException}. */
    @FunctionalInterface
    private interface IoConsumer<T> {
        void accept(T t) throws IOException;
    }
}

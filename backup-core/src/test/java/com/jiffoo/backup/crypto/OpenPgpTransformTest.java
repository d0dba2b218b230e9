package com.jiffoo.backup.crypto;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.DecryptionException;
import com.jiffoo.backup.IntegrityException;
import com.jiffoo.backup.testutil.GpgCli;
import com.jiffoo.backup.testutil.TestKeys;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.bouncycastle.bcpg.HashAlgorithmTags;
import org.bouncycastle.bcpg.SymmetricKeyAlgorithmTags;
import org.bouncycastle.openpgp.PGPEncryptedDataGenerator;
import org.bouncycastle.openpgp.PGPLiteralData;
import org.bouncycastle.openpgp.PGPLiteralDataGenerator;
import org.bouncycastle.openpgp.operator.bc.BcPGPDataEncryptorBuilder;
import org.bouncycastle.openpgp.operator.jcajce.JcaPGPDigestCalculatorProviderBuilder;
import org.bouncycastle.openpgp.operator.jcajce.JcePBEKeyEncryptionMethodGenerator;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

@SuppressWarnings("unchecked")
class OpenPgpTransformTest {

    @TempDir
    static Path dir;

    static GpgCli gpg;
    static Path keyFile;
    static Path otherKeyFile;
    static Path keyPassFile;
    static String keyPass;
    static GpgCli.Key rsa;
    static GpgCli.Key cv25519;
    static GpgCli.Key stranger;

    @BeforeAll
    static void setUp() {
        assertThat(GpgCli.available())
                .as("the gpg CLI is the interop referee: install it (apt-get install gnupg)")
                .isTrue();
        gpg = GpgCli.create(dir);
        keyFile = TestKeys.keyFile(dir, "backup.key");
        otherKeyFile = TestKeys.keyFile(dir, "other.key");
        keyPassFile = TestKeys.keyFile(dir, "keypass");
        keyPass = TestKeys.passphraseOf(keyPassFile);
        rsa = gpg.generateRsaKey("rsa@example.com", keyPassFile);
        cv25519 = gpg.generateCurve25519Key("cv@example.com", keyPassFile);
        stranger = gpg.generateCurve25519Key("stranger@example.com", keyPassFile);
    }

    @AfterAll
    static void tearDown() {
        if (gpg != null) {
            gpg.close();
        }
    }

    static OpenPgpTransform passphraseTransform(Path key) {
        return OpenPgpTransform.builder()
                .passphrase(PassphraseKeyFile.read(key))
                .build();
    }

    static Path publicKey(GpgCli.Key key, boolean armor) {
        return gpg.exportPublicKey(key, dir.resolve(key.keyId() + (armor ? ".pub.asc" : ".pub.gpg")), armor);
    }

    static Path secretKey(GpgCli.Key key, boolean armor) {
        return gpg.exportSecretKey(
                key, dir.resolve(key.keyId() + (armor ? ".sec.asc" : ".sec.gpg")), armor, keyPassFile);
    }

    static OpenPgpTransform publicKeyTransform(GpgCli.Key key, boolean armor) {
        return OpenPgpTransform.builder().recipient(publicKey(key, armor)).build();
    }

    static OpenPgpTransform secretKeyTransform(GpgCli.Key key, boolean armor) {
        return OpenPgpTransform.builder()
                .secretKey(secretKey(key, armor), keyPass.toCharArray())
                .build();
    }

    static String encryptionKeyId(GpgCli.Key key) {
        return (String) ((List<Map<String, Object>>)
                        publicKeyTransform(key, true).describe().get("recipients"))
                .get(0)
                .get("keyId");
    }

    static byte[] encode(OpenPgpTransform t, byte[] data) throws IOException {
        ByteArrayOutputStream bos = new ByteArrayOutputStream();
        try (OutputStream out = t.encode(bos)) {
            out.write(data);
        }
        return bos.toByteArray();
    }

    static byte[] decode(OpenPgpTransform t, byte[] encrypted) throws IOException {
        try (InputStream in = t.decode(new ByteArrayInputStream(encrypted))) {
            return in.readAllBytes();
        }
    }

    static Path write(String name, byte[] data) throws IOException {
        return Files.write(dir.resolve(name), data);
    }

    static void assertNoSecretIn(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            String m = String.valueOf(t.getMessage());
            assertThat(m)
                    .doesNotContain(TestKeys.passphraseOf(keyFile))
                    .doesNotContain(TestKeys.passphraseOf(otherKeyFile))
                    .doesNotContain(keyPass);
        }
    }

    @Nested
    class RoundTrip {

        @ParameterizedTest
        @ValueSource(ints = {0, 1, 3 * 1024 * 1024 + 17})
        void passphraseModeRoundTripsRandomData(int size) throws IOException {
            byte[] data = TestKeys.randomBytes(size, size);
            OpenPgpTransform t = passphraseTransform(keyFile);
            byte[] enc = encode(t, data);
            assertThat(decode(t, enc)).isEqualTo(data);
        }

        @ParameterizedTest
        @ValueSource(ints = {0, 1, 3 * 1024 * 1024 + 17})
        void publicKeyModeRoundTripsRandomDataForRsaAndCurve25519(int size) throws IOException {
            byte[] data = TestKeys.randomBytes(size, size + 1);
            for (GpgCli.Key key : List.of(rsa, cv25519)) {
                byte[] enc = encode(publicKeyTransform(key, true), data);
                assertThat(decode(secretKeyTransform(key, false), enc))
                        .as(key.userId())
                        .isEqualTo(data);
            }
        }

        @Test
        void severalDecryptionKeysOpenFilesMadeWithEachAfterRotation() throws IOException {
            byte[] data = TestKeys.randomBytes(10_000, 7);
            byte[] oldFile = encode(passphraseTransform(otherKeyFile), data);
            byte[] newFile = encode(passphraseTransform(keyFile), data);
            byte[] rsaFile = encode(publicKeyTransform(rsa, false), data);
            byte[] cvFile = encode(publicKeyTransform(cv25519, false), data);

            OpenPgpTransform reader = OpenPgpTransform.builder()
                    .passphrase(PassphraseKeyFile.read(keyFile))
                    .decryptionPassphrase(PassphraseKeyFile.read(otherKeyFile))
                    .secretKey(secretKey(rsa, true), keyPass.toCharArray())
                    .secretKey(secretKey(cv25519, true), keyPass.toCharArray())
                    .build();
            for (byte[] file : List.of(oldFile, newFile, rsaFile, cvFile)) {
                assertThat(decode(reader, file)).isEqualTo(data);
            }
        }

        @Test
        void fileForSeveralRecipientsOpensWithEachSecretKey() throws IOException {
            byte[] data = TestKeys.randomBytes(5000, 8);
            OpenPgpTransform writer = OpenPgpTransform.builder()
                    .recipient(publicKey(rsa, true))
                    .recipient(publicKey(cv25519, false))
                    .passphrase(PassphraseKeyFile.read(keyFile))
                    .build();
            byte[] enc = encode(writer, data);
            assertThat(decode(secretKeyTransform(rsa, true), enc)).isEqualTo(data);
            assertThat(decode(secretKeyTransform(cv25519, true), enc)).isEqualTo(data);
            assertThat(decode(passphraseTransform(keyFile), enc)).isEqualTo(data);
        }

        @Test
        void publicKeysOnlyTransformEncodesButCannotDecode() throws IOException {
            OpenPgpTransform hostSide = publicKeyTransform(cv25519, true);
            byte[] enc = encode(hostSide, "db dump".getBytes(StandardCharsets.UTF_8));
            assertThat(hostSide.canEncrypt()).isTrue();
            assertThat(hostSide.canDecrypt()).isFalse();
            assertThatThrownBy(() -> hostSide.decode(new ByteArrayInputStream(enc)))
                    .isInstanceOf(ConfigurationException.class)
                    .hasMessageContaining("only public keys")
                    .hasMessageContaining("secret key");
        }

        @Test
        void decryptionOnlyTransformCannotEncode() {
            OpenPgpTransform reader = OpenPgpTransform.builder()
                    .decryptionPassphrase(PassphraseKeyFile.read(keyFile))
                    .build();
            assertThatThrownBy(() -> reader.encode(new ByteArrayOutputStream()))
                    .isInstanceOf(ConfigurationException.class)
                    .hasMessageContaining("no encryption key");
        }

        @Test
        void closingTheDecodeStreamEarlyDoesNotThrowAndClosesTheInput() throws IOException {
            byte[] enc = encode(passphraseTransform(keyFile), TestKeys.randomBytes(500_000, 3));
            boolean[] closed = {false};
            InputStream in = new ByteArrayInputStream(enc) {
                @Override
                public void close() {
                    closed[0] = true;
                }
            };
            InputStream dec = passphraseTransform(keyFile).decode(in);
            assertThat(dec.readNBytes(1000)).hasSize(1000);
            dec.close();
            dec.close();
            assertThat(closed[0]).isTrue();
        }

        @Test
        void closingTheEncodeStreamClosesTheOutputAndIsIdempotent() throws IOException {
            boolean[] closed = {false};
            ByteArrayOutputStream bos = new ByteArrayOutputStream() {
                @Override
                public void close() {
                    closed[0] = true;
                }
            };
            OutputStream out = passphraseTransform(keyFile).encode(bos);
            out.write(1);
            out.close();
            out.close();
            assertThat(closed[0]).isTrue();
            assertThatThrownBy(() -> out.write(2)).isInstanceOf(IOException.class);
        }

        @Test
        void streams200MiBWithConstantMemory() throws Exception {
            long size = 200L << 20;
            Path file = dir.resolve("big.gpg");
            OpenPgpTransform t = passphraseTransform(keyFile);
            MessageDigest inDigest = MessageDigest.getInstance("SHA-256");
            long start = System.nanoTime();
            try (InputStream src = new DigestInputStream(TestKeys.randomStream(size, 99), inDigest);
                    OutputStream out = t.encode(Files.newOutputStream(file))) {
                src.transferTo(out);
            }
            long encoded = System.nanoTime();
            MessageDigest outDigest = MessageDigest.getInstance("SHA-256");
            long read;
            try (InputStream in = new DigestInputStream(t.decode(Files.newInputStream(file)), outDigest)) {
                read = in.transferTo(OutputStream.nullOutputStream());
            }
            long decoded = System.nanoTime();
            Files.delete(file);
            assertThat(read).isEqualTo(size);
            assertThat(outDigest.digest()).isEqualTo(inDigest.digest());
            System.out.printf(
                    "200 MiB: encode %d ms, decode %d ms%n",
                    (encoded - start) / 1_000_000, (decoded - encoded) / 1_000_000);
        }
    }

    @Nested
    class GpgInterop {

        @Test
        void ourPassphraseOutputDecryptsWithGpgPassphraseFile() throws IOException {
            byte[] data = TestKeys.randomBytes(300_000, 11);
            Path enc = write("ours-sym.gpg", encode(passphraseTransform(keyFile), data));
            Path out = dir.resolve("ours-sym.out");
            gpg.decrypt(enc, out, keyFile).orThrow();
            assertThat(Files.readAllBytes(out)).isEqualTo(data);
        }

        @ParameterizedTest
        @ValueSource(
                strings = {
                    "default-compression",
                    "--compress-algo=none",
                    "--compress-algo=zlib",
                    "--compress-algo=bzip2",
                    "--armor"
                })
        void gpgSymmetricOutputDecodes(String option) throws IOException {
            byte[] data = TestKeys.randomBytes(200_000, 12);
            Arrays.fill(data, 0, 100_000, (byte) 'a'); // compressible half
            Path plain = write("gpg-sym.in", data);
            Path enc = dir.resolve("gpg-sym.gpg");
            String[] extra = option.startsWith("--") ? new String[] {option} : new String[0];
            gpg.encryptSymmetric(plain, enc, keyFile, extra).orThrow();
            assertThat(decode(passphraseTransform(keyFile), Files.readAllBytes(enc)))
                    .isEqualTo(data);
        }

        @Test
        void gpgSymmetricFilesMadeWithOldAndNewKeyFilesDecodeWithBothConfigured() throws IOException {
            byte[] data = TestKeys.randomBytes(150_000, 17);
            Path plain = write("gpg-rot.in", data);
            OpenPgpTransform reader = OpenPgpTransform.builder()
                    .passphrase(PassphraseKeyFile.read(keyFile))
                    .decryptionPassphrase(PassphraseKeyFile.read(otherKeyFile))
                    .build();
            for (Path key : List.of(otherKeyFile, keyFile)) {
                Path enc = dir.resolve("gpg-rot.gpg");
                gpg.encryptSymmetric(plain, enc, key, "--compress-algo", "none").orThrow();
                assertThat(decode(reader, Files.readAllBytes(enc)))
                        .as(key.toString())
                        .isEqualTo(data);
            }
        }

        @ParameterizedTest
        @ValueSource(booleans = {true, false})
        void ourPublicKeyOutputDecryptsWithGpgForRsaAndCurve25519(boolean armoredKey) throws IOException {
            byte[] data = TestKeys.randomBytes(100_000, 13);
            for (GpgCli.Key key : List.of(rsa, cv25519)) {
                Path enc = write("ours-pk.gpg", encode(publicKeyTransform(key, armoredKey), data));
                Path out = dir.resolve("ours-pk.out");
                GpgCli.Result r = gpg.decrypt(enc, out, keyPassFile).orThrow();
                assertThat(Files.readAllBytes(out)).as(key.userId()).isEqualTo(data);
                assertThat(r.stderr()).contains(encryptionKeyId(key));
            }
        }

        @ParameterizedTest
        @ValueSource(booleans = {true, false})
        void gpgPublicKeyOutputDecodesWithExportedSecretKey(boolean armoredKey) throws IOException {
            byte[] data = TestKeys.randomBytes(100_000, 14);
            Path plain = write("gpg-pk.in", data);
            for (GpgCli.Key key : List.of(rsa, cv25519)) {
                Path enc = dir.resolve("gpg-pk.gpg");
                gpg.encryptTo(key.fingerprint(), plain, enc).orThrow();
                assertThat(decode(secretKeyTransform(key, armoredKey), Files.readAllBytes(enc)))
                        .as(key.userId())
                        .isEqualTo(data);
            }
        }

        @ParameterizedTest
        @ValueSource(ints = {15, 16, 17, 65_535, 65_536, 65_537, 2 * 1024 * 1024 + 13})
        void ourOutputWrittenInIrregularPiecesDecryptsWithGpg(int size) throws IOException {
            // writes of 1 byte, parts of a block, whole blocks and more than one 8 KiB cipher call, in turn
            byte[] data = TestKeys.randomBytes(size, size + 2);
            ByteArrayOutputStream bos = new ByteArrayOutputStream();
            try (OutputStream out = passphraseTransform(keyFile).encode(bos)) {
                int[] pieces = {1, 7, 16, 33, 8192, 20_000, 3};
                for (int off = 0, i = 0; off < size; i++) {
                    int n = Math.min(pieces[i % pieces.length], size - off);
                    if (n == 1) {
                        out.write(data[off]);
                    } else {
                        out.write(data, off, n);
                    }
                    off += n;
                }
            }
            Path enc = write("ours-pieces-" + size + ".gpg", bos.toByteArray());
            Path out = dir.resolve("ours-pieces-" + size + ".out");
            gpg.decrypt(enc, out, keyFile).orThrow();
            assertThat(Files.readAllBytes(out)).isEqualTo(data);
        }

        @Test
        void gpgOutputReadInIrregularPiecesDecodes() throws IOException {
            byte[] data = TestKeys.randomBytes(3 * 1024 * 1024 + 5, 21);
            Path plain = write("gpg-pieces.in", data);
            Path enc = dir.resolve("gpg-pieces.gpg");
            gpg.encryptSymmetric(plain, enc, keyFile, "--compress-algo=none").orThrow();
            ByteArrayOutputStream got = new ByteArrayOutputStream();
            try (InputStream in = passphraseTransform(keyFile).decode(Files.newInputStream(enc))) {
                int[] pieces = {1, 15, 16, 100_000, 17, 8192};
                byte[] buf = new byte[100_000];
                for (int i = 0; ; i++) {
                    int n = in.read(buf, 0, pieces[i % pieces.length]);
                    if (n < 0) {
                        break;
                    }
                    got.write(buf, 0, n);
                }
            }
            assertThat(got.toByteArray()).isEqualTo(data);
        }

        @Test
        void aPassphraseAPersonChoseGetsTheStrongestS2kAndGpgDecryptsIt() throws IOException {
            Path chosen = TestKeys.keyFile(dir, "chosen.key", "correct horse battery staple, twice over\n");
            Path enc = write("ours-chosen.gpg", encode(passphraseTransform(chosen), TestKeys.randomBytes(70_000, 17)));
            assertThat(gpg.listPackets(enc, chosen).orThrow().out())
                    .containsPattern(":symkey enc packet: version 4, cipher 9, (aead 0,)?s2k 3, hash 8")
                    .containsPattern("count 65011712 \\(255\\)");
            // a base64 line of 32 bytes with few distinct values is no random key either
            Path patterned = TestKeys.keyFile(
                    dir, "patterned.key", java.util.Base64.getEncoder().encodeToString(new byte[32]) + "\n");
            Path enc2 = write("ours-patterned.gpg", encode(passphraseTransform(patterned), new byte[10]));
            assertThat(gpg.listPackets(enc2, patterned).orThrow().out()).containsPattern("count 65011712 \\(255\\)");
            assertThat((Map<String, Object>)
                            passphraseTransform(patterned).describe().get("s2k"))
                    .containsEntry("key", "passphrase")
                    .containsEntry("countByte", 255);
            // nor the base64 of a 32-character phrase a person typed (echo -n "…" | base64): UTF-8 text, many distinct
            Path typed = TestKeys.keyFile(
                    dir,
                    "typed.key",
                    java.util.Base64.getEncoder()
                                    .encodeToString("Tr0ub4dor&3 horse, battery; st@p"
                                            .getBytes(java.nio.charset.StandardCharsets.UTF_8))
                            + "\n");
            assertThat(java.util.Base64.getDecoder().decode(TestKeys.passphraseOf(typed)))
                    .hasSize(32);
            assertThat((Map<String, Object>)
                            passphraseTransform(typed).describe().get("s2k"))
                    .containsEntry("key", "passphrase")
                    .containsEntry("countByte", 255);
        }

        @Test
        void passphraseOutputIsSeipdWithMdcAes256AndS2kWithoutCompression() throws IOException {
            // larger than the 64 KiB buffer: written in partial-length chunks ("length: unknown")
            Path enc = write("ours-list.gpg", encode(passphraseTransform(keyFile), TestKeys.randomBytes(200_000, 15)));
            String packets = gpg.listPackets(enc, keyFile).orThrow().out();
            assertThat(packets)
                    .containsPattern(":symkey enc packet: version 4, cipher 9, (aead 0,)?s2k 3, hash 8")
                    // a random key (32 random bytes in base64, as keygen writes): 65,536 bytes hashed, not 64 MiB
                    .containsPattern("count 65536 \\(96\\)")
                    .containsPattern("tag=18 .*\\n:encrypted data packet:\\s+length: unknown\\s+mdc_method: 2")
                    .contains(":literal data packet:")
                    .doesNotContain("compressed packet");
            assertThat(gpg.gpg("--passphrase-file", keyFile.toString(), "-v", "-o", "/dev/null", "-d", enc.toString())
                            .orThrow()
                            .stderr())
                    .contains("AES256");
        }

        @Test
        void publicKeyOutputIsSeipdWithMdcAndPkeskToTheEncryptionSubkey() throws IOException {
            Path enc = write(
                    "ours-pk-list.gpg", encode(publicKeyTransform(cv25519, true), TestKeys.randomBytes(1000, 16)));
            GpgCli.Result r = gpg.listPackets(enc, keyPassFile).orThrow();
            assertThat(r.out())
                    .contains(":pubkey enc packet: version 3, algo 18, keyid " + encryptionKeyId(cv25519))
                    .contains("mdc_method: 2")
                    .doesNotContain("compressed packet");
            assertThat(gpg.gpg(
                                    "--passphrase-file",
                                    keyPassFile.toString(),
                                    "-v",
                                    "-o",
                                    "/dev/null",
                                    "-d",
                                    enc.toString())
                            .orThrow()
                            .stderr())
                    .contains("AES256");
        }
    }

    @Nested
    class BadInputs {

        @Test
        void wrongPassphraseIsDecryptionExceptionNamingTheKeyFile() throws IOException {
            byte[] enc = encode(passphraseTransform(keyFile), TestKeys.randomBytes(1000, 20));
            assertThatThrownBy(() -> passphraseTransform(otherKeyFile).decode(new ByteArrayInputStream(enc)))
                    .isInstanceOf(DecryptionException.class)
                    .hasMessageContaining("the key file " + otherKeyFile + " does not open this backup")
                    .satisfies(OpenPgpTransformTest::assertNoSecretIn);
        }

        @Test
        void wrongPassphraseForGpgSymmetricFileIsDecryptionException() throws IOException {
            Path enc = dir.resolve("gpg-wrong.gpg");
            gpg.encryptSymmetric(write("gpg-wrong.in", new byte[1000]), enc, keyFile)
                    .orThrow();
            byte[] bytes = Files.readAllBytes(enc);
            assertThatThrownBy(() -> decode(passphraseTransform(otherKeyFile), bytes))
                    .isInstanceOf(DecryptionException.class)
                    .hasMessageContaining("the key file " + otherKeyFile + " does not open this backup")
                    .satisfies(OpenPgpTransformTest::assertNoSecretIn);
        }

        @Test
        void wrongSecretKeyListsTheFilesAndTheConfiguredKeyIds() throws IOException {
            byte[] enc = encode(publicKeyTransform(rsa, true), TestKeys.randomBytes(1000, 21));
            OpenPgpTransform strangerReader = secretKeyTransform(stranger, true);
            String rsaEncryptionKeyId = encryptionKeyId(rsa);
            String strangerKeyId = encryptionKeyId(stranger);
            assertThatThrownBy(() -> strangerReader.decode(new ByteArrayInputStream(enc)))
                    .isInstanceOf(DecryptionException.class)
                    .hasMessageContaining(rsaEncryptionKeyId)
                    .hasMessageContaining(strangerKeyId)
                    .satisfies(OpenPgpTransformTest::assertNoSecretIn);
        }

        @Test
        void passphraseFileOpenedWithOnlyASecretKeySaysSo() throws IOException {
            byte[] enc = encode(passphraseTransform(keyFile), TestKeys.randomBytes(100, 22));
            assertThatThrownBy(() -> secretKeyTransform(rsa, true).decode(new ByteArrayInputStream(enc)))
                    .isInstanceOf(DecryptionException.class)
                    .hasMessageContaining("encrypted with a passphrase");
        }

        @Test
        void flippedByteMidFileIsIntegrityExceptionAtTheEnd() throws IOException {
            byte[] data = TestKeys.randomBytes(300_000, 23);
            for (OpenPgpTransform t : List.of(passphraseTransform(keyFile), secretKeyTransform(cv25519, true))) {
                OpenPgpTransform writer = t.canEncrypt() ? t : publicKeyTransform(cv25519, true);
                byte[] enc = encode(writer, data);
                enc[enc.length / 2] ^= 0x01;
                InputStream in = t.decode(new ByteArrayInputStream(enc));
                assertThatThrownBy(() -> in.transferTo(OutputStream.nullOutputStream()))
                        .isInstanceOf(IntegrityException.class)
                        .hasMessageContaining("integrity check (MDC)")
                        .satisfies(OpenPgpTransformTest::assertNoSecretIn);
                // and it keeps failing rather than reporting a clean end
                assertThatThrownBy(in::read).isInstanceOf(IntegrityException.class);
            }
        }

        @Test
        void flippedByteInGpgCompressedFileIsIntegrityException() throws IOException {
            byte[] data = new byte[200_000];
            Arrays.fill(data, (byte) 'z');
            System.arraycopy(TestKeys.randomBytes(100_000, 24), 0, data, 0, 100_000);
            Path enc = dir.resolve("gpg-flip.gpg");
            gpg.encryptSymmetric(write("gpg-flip.in", data), enc, keyFile).orThrow();
            byte[] bytes = Files.readAllBytes(enc);
            bytes[bytes.length / 2] ^= 0x40;
            assertThatThrownBy(() -> decode(passphraseTransform(keyFile), bytes))
                    .isInstanceOf(IntegrityException.class);
        }

        @Test
        void truncatedFileIsIntegrityExceptionSayingTruncated() throws IOException {
            byte[] enc = encode(passphraseTransform(keyFile), TestKeys.randomBytes(200_000, 25));
            for (int cut : new int[] {
                enc.length - 1, enc.length - 10, enc.length - 22, enc.length - 30, enc.length / 2, 65_536 + 60, 100, 60
            }) {
                byte[] truncated = Arrays.copyOf(enc, cut);
                assertThatThrownBy(() -> decode(passphraseTransform(keyFile), truncated))
                        .as("cut at %d of %d", cut, enc.length)
                        .isInstanceOf(IntegrityException.class)
                        .hasMessageContaining("truncated");
            }
        }

        @Test
        void randomBytesAreNotAnOpenPgpFile() {
            for (long seed = 0; seed < 20; seed++) {
                byte[] junk = TestKeys.randomBytes(4096, seed);
                assertThatThrownBy(() -> decode(passphraseTransform(keyFile), junk))
                        .as("seed %d", seed)
                        .isInstanceOfAny(IntegrityException.class, DecryptionException.class)
                        .hasMessageContaining("OpenPGP");
            }
            assertThatThrownBy(() -> decode(passphraseTransform(keyFile), "hello, plain text".getBytes()))
                    .isInstanceOf(IntegrityException.class)
                    .hasMessageContaining("not an OpenPGP file");
        }

        @Test
        void emptyInputIsIntegrityException() {
            assertThatThrownBy(() -> decode(passphraseTransform(keyFile), new byte[0]))
                    .isInstanceOf(IntegrityException.class)
                    .hasMessageContaining("empty");
        }

        @Test
        void messageWithoutMdcIsRefused() throws Exception {
            ByteArrayOutputStream bos = new ByteArrayOutputStream();
            PGPEncryptedDataGenerator gen = new PGPEncryptedDataGenerator(
                    new BcPGPDataEncryptorBuilder(SymmetricKeyAlgorithmTags.AES_256).setWithIntegrityPacket(false));
            gen.addMethod(new JcePBEKeyEncryptionMethodGenerator(
                    TestKeys.passphraseOf(keyFile).toCharArray(),
                    new JcaPGPDigestCalculatorProviderBuilder().build().get(HashAlgorithmTags.SHA256),
                    0x60));
            try (OutputStream enc = gen.open(bos, new byte[1 << 12]);
                    OutputStream lit = new PGPLiteralDataGenerator()
                            .open(enc, PGPLiteralData.BINARY, "", PGPLiteralData.NOW, new byte[1 << 12])) {
                lit.write("unprotected".getBytes(StandardCharsets.UTF_8));
            }
            assertThatThrownBy(() -> decode(passphraseTransform(keyFile), bos.toByteArray()))
                    .isInstanceOf(IntegrityException.class)
                    .hasMessageContaining("not integrity protected");
        }

        @Test
        void unencryptedOpenPgpMessageIsRefused() throws IOException {
            Path out = dir.resolve("stored.gpg");
            gpg.gpg(
                            "--output",
                            out.toString(),
                            "--store",
                            write("stored.in", new byte[] {1, 2, 3}).toString())
                    .orThrow();
            assertThatThrownBy(() -> decode(passphraseTransform(keyFile), Files.readAllBytes(out)))
                    .isInstanceOf(IntegrityException.class)
                    .hasMessageContaining("not encrypted");
        }

        @Test
        void revokedRecipientKeyIsRefused() {
            GpgCli.Key revoked = gpg.generateCurve25519Key("revoked@example.com", keyPassFile);
            gpg.revoke(revoked);
            Path pub = publicKey(revoked, true);
            assertThatThrownBy(() -> OpenPgpTransform.builder().recipient(pub))
                    .isInstanceOf(ConfigurationException.class)
                    .hasMessageContaining("revoked")
                    .hasMessageContaining(pub.toString());
        }

        @Test
        void expiredRecipientKeyIsRefused() {
            GpgCli.Key expiring = gpg.generateCurve25519Key("expiring@example.com", keyPassFile, "1d");
            Path pub = publicKey(expiring, true);
            Clock inTwoDays = Clock.fixed(Instant.now().plus(Duration.ofDays(2)), ZoneOffset.UTC);
            assertThat(OpenPgpTransform.builder().recipient(pub).build().canEncrypt())
                    .isTrue();
            assertThatThrownBy(() -> OpenPgpTransform.builder().clock(inTwoDays).recipient(pub))
                    .isInstanceOf(ConfigurationException.class)
                    .hasMessageContaining("expired");
        }

        @Test
        void keyWithoutEncryptionSubkeyIsRefused() {
            GpgCli.Key signOnly = gpg.generateSigningOnlyKey("signonly@example.com", keyPassFile);
            Path pub = publicKey(signOnly, false);
            assertThatThrownBy(() -> OpenPgpTransform.builder().recipient(pub))
                    .isInstanceOf(ConfigurationException.class)
                    .hasMessageContaining("no usable encryption subkey");
        }

        @Test
        void wrongPassphraseForSecretKeyIsConfigurationException() {
            Path sec = secretKey(cv25519, true);
            assertThatThrownBy(() -> OpenPgpTransform.builder().secretKey(sec, "not-the-pass".toCharArray()))
                    .isInstanceOf(ConfigurationException.class)
                    .hasMessageContaining("does not unlock")
                    .hasMessageContaining(sec.toString())
                    .message()
                    .doesNotContain("not-the-pass");
        }

        @Test
        void publicKeyGivenAsSecretKeyIsExplained() {
            Path pub = publicKey(cv25519, true);
            assertThatThrownBy(() -> OpenPgpTransform.builder().secretKey(pub, keyPass.toCharArray()))
                    .isInstanceOf(ConfigurationException.class)
                    .hasMessageContaining("secret");
        }

        @Test
        void builderWithoutKeysIsRefused() {
            assertThatThrownBy(() -> OpenPgpTransform.builder().build())
                    .isInstanceOf(ConfigurationException.class)
                    .hasMessageContaining("no key");
            assertThatThrownBy(() -> OpenPgpTransform.builder().passphrase(new char[0], "x"))
                    .isInstanceOf(IllegalArgumentException.class);
        }

        @Test
        void groupReadableKeyFileIsRefusedUnlessAllowed() throws IOException {
            Path loose = TestKeys.keyFile(dir, "loose.key", TestKeys.passphraseOf(keyFile) + "\n");
            Files.setPosixFilePermissions(loose, java.nio.file.attribute.PosixFilePermissions.fromString("rw-r-----"));
            assertThatThrownBy(() -> PassphraseKeyFile.read(loose))
                    .isInstanceOf(ConfigurationException.class)
                    .hasMessageContaining("chmod 600 " + loose)
                    .satisfies(OpenPgpTransformTest::assertNoSecretIn);
            byte[] enc = encode(passphraseTransform(keyFile), new byte[] {42});
            OpenPgpTransform allowed = OpenPgpTransform.builder()
                    .passphrase(PassphraseKeyFile.read(loose, true))
                    .build();
            assertThat(decode(allowed, enc)).containsExactly(42);
        }
    }

    @Nested
    class Description {

        @Test
        void passphraseModeDescribesCipherIntegrityAndS2k() {
            Map<String, Object> d = passphraseTransform(keyFile).describe();
            assertThat(d)
                    .containsEntry("type", "openpgp")
                    .containsEntry("encrypts", true)
                    .containsEntry("mode", "passphrase")
                    .containsEntry("cipher", "AES-256")
                    .containsEntry("integrity", "MDC")
                    .containsEntry("compression", "none");
            assertThat((Map<String, Object>) d.get("s2k"))
                    .containsEntry("hash", "SHA-256")
                    .containsEntry("countByte", 96)
                    .containsEntry("iterations", 65536L)
                    .containsEntry("key", "random");
            assertThat(d.toString()).doesNotContain(TestKeys.passphraseOf(keyFile));
            assertThat(passphraseTransform(keyFile).toString())
                    .doesNotContain(TestKeys.passphraseOf(keyFile))
                    .contains(keyFile.toString());
        }

        @Test
        void publicKeyModeDescribesRecipientsKeyIdsAndFingerprints() {
            Map<String, Object> d = OpenPgpTransform.builder()
                    .recipient(publicKey(rsa, true))
                    .recipient(publicKey(cv25519, false))
                    .build()
                    .describe();
            assertThat(d)
                    .containsEntry("mode", "public-key")
                    .containsEntry("encrypts", true)
                    .doesNotContainKey("s2k");
            List<Map<String, Object>> rs = (List<Map<String, Object>>) d.get("recipients");
            assertThat(rs).hasSize(2);
            assertThat(rs.get(0))
                    .containsEntry("primaryFingerprint", rsa.fingerprint())
                    .containsKeys("keyId", "fingerprint", "algorithm");
            assertThat((String) rs.get(0).get("fingerprint"))
                    .matches("[0-9A-F]{40}")
                    .endsWith((String) rs.get(0).get("keyId"));
            assertThat(rs.get(1))
                    .containsEntry("primaryFingerprint", cv25519.fingerprint())
                    .containsEntry("algorithm", "ECDH");
        }

        @Test
        void toBuilderCopiesTheKeys() throws IOException {
            OpenPgpTransform t = passphraseTransform(keyFile);
            OpenPgpTransform copy =
                    t.toBuilder().recipient(publicKey(rsa, true)).build();
            assertThat(copy.describe()).containsEntry("mode", "passphrase+public-key");
            assertThat(t.describe()).containsEntry("mode", "passphrase");
            byte[] data = {1, 2, 3};
            assertThat(decode(t, encode(copy, data))).isEqualTo(data);
            assertThat(t.suffix()).isEqualTo(".gpg");
            assertThat(t.encrypts()).isTrue();
        }
    }
}

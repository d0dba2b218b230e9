package com.jiffoo.backup.crypto;

import static org.assertj.core.api.Assertions.assertThat;

import com.jiffoo.backup.Authenticator;
import com.jiffoo.backup.testutil.TestKeys;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.HexFormat;
import javax.crypto.SecretKeyFactory;
import javax.crypto.spec.PBEKeySpec;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The HMAC key derivation against the JDK's {@code PBKDF2WithHmacSHA256}, the reference it must equal. */
class PgpAuthenticatorTest {

    private static byte[] jdk(String password, String salt, int iterations) throws Exception {
        return SecretKeyFactory.getInstance("PBKDF2WithHmacSHA256")
                .generateSecret(
                        new PBEKeySpec(password.toCharArray(), salt.getBytes(StandardCharsets.UTF_8), iterations, 256))
                .getEncoded();
    }

    /** Short, long (over HMAC's 64-byte block: the key is hashed first), 64-byte and non-ASCII passwords; long salts. */
    @ParameterizedTest
    @CsvSource({
        "passwd, salt, 1",
        "passwd, salt, 2",
        "dGhpcyBpcyBhIGJhc2U2NCBrZXkgZmlsZSBsaWtlIG9wZW5zc2wgcmFuZCBt, jiffoo-backup manifest authentication v1, 1000",
        "'a passphrase that is longer than sixty-four bytes, so HMAC hashes it first to make its key', salt, 777",
        "pässwörd ✓ 鍵, jiffoo-backup manifest authentication v1, 3",
        "x, s, 5",
        "passwd, 'a salt longer than sixty-four bytes: the first iteration's input spans two blocks', 4",
        "'exactly sixty-four bytes of password, the size of HMAC''s block!!', salt, 6"
    })
    void equalsTheJdk(String password, String salt, int iterations) throws Exception {
        assertThat(PgpAuthenticator.pbkdf2HmacSha256(
                        password.getBytes(StandardCharsets.UTF_8), salt.getBytes(StandardCharsets.UTF_8), iterations))
                .isEqualTo(jdk(password, salt, iterations));
    }

    /** RFC 7914 section 11's PBKDF2-HMAC-SHA256 vector (its first 32 bytes). */
    @Test
    void rfc7914Vector() {
        assertThat(HexFormat.of()
                        .formatHex(PgpAuthenticator.pbkdf2HmacSha256(
                                "passwd".getBytes(StandardCharsets.US_ASCII),
                                "salt".getBytes(StandardCharsets.US_ASCII),
                                1)))
                .isEqualTo("55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc");
    }

    /**
     * The 200,000 iterations allocate nothing per iteration: cloning a {@code MessageDigest} per block made ~190 MB of
     * garbage, which grew a short-lived JVM's heap (docs/benchmarks.md, issue 17).
     */
    @Test
    void theIterationsAllocateNothing() {
        com.sun.management.ThreadMXBean threads =
                (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        byte[] password = "a passphrase".getBytes(StandardCharsets.UTF_8);
        byte[] salt = PgpAuthenticator.HMAC_SALT.getBytes(StandardCharsets.US_ASCII);
        PgpAuthenticator.pbkdf2HmacSha256(password, salt, 10); // loads the classes
        long before = threads.getCurrentThreadAllocatedBytes();
        PgpAuthenticator.pbkdf2HmacSha256(password, salt, PgpAuthenticator.HMAC_ITERATIONS);
        assertThat(threads.getCurrentThreadAllocatedBytes() - before).isLessThan(64 * 1024);
    }

    /**
     * A random key file (as keygen writes) signs in scheme v2, whose key is the JDK's PBKDF2 with the v2 salt and one
     * iteration; a passphrase a person chose signs in v1. Each checks the other kind's old lines as before: backups
     * signed in v1 by a random key (before v2 existed) still verify.
     */
    @Test
    void aRandomKeySignsInV2AndAPassphraseInV1(@TempDir Path dir) throws Exception {
        byte[] content = "{\"manifest\":2}".getBytes(StandardCharsets.UTF_8);
        Path random = TestKeys.keyFile(dir, "random.key");
        Authenticator r = authenticator(random);
        String line = new String(r.sign(content), StandardCharsets.US_ASCII);
        byte[] k2 = jdk(TestKeys.passphraseOf(random), "jiffoo-backup manifest authentication v2", 1);
        assertThat(line).isEqualTo("jiffoo-backup-hmac-sha256-v2 " + hmacHex(k2, content) + "\n");
        assertThat(r.verify(content, line.getBytes(StandardCharsets.US_ASCII), "m"))
                .contains("random.key");
        // an old v1 line of the same random key still verifies
        byte[] k1 = jdk(TestKeys.passphraseOf(random), PgpAuthenticator.HMAC_SALT, PgpAuthenticator.HMAC_ITERATIONS);
        String old = "jiffoo-backup-hmac-sha256-v1 " + hmacHex(k1, content) + "\n";
        assertThat(r.verify(content, old.getBytes(StandardCharsets.US_ASCII), "m"))
                .contains("random.key");

        Path phrase = TestKeys.keyFile(dir, "phrase.key", "correct horse battery staple\n");
        Authenticator p = authenticator(phrase);
        String v1 = new String(p.sign(content), StandardCharsets.US_ASCII);
        assertThat(v1)
                .isEqualTo("jiffoo-backup-hmac-sha256-v1 "
                        + hmacHex(
                                jdk(
                                        "correct horse battery staple",
                                        PgpAuthenticator.HMAC_SALT,
                                        PgpAuthenticator.HMAC_ITERATIONS),
                                content)
                        + "\n");
        // a v2 line is never checked with a passphrase: one made with it (by hand, one iteration) is refused
        String forged = "jiffoo-backup-hmac-sha256-v2 "
                + hmacHex(jdk("correct horse battery staple", "jiffoo-backup manifest authentication v2", 1), content)
                + "\n";
        org.assertj.core.api.Assertions.assertThatThrownBy(
                        () -> p.verify(content, forged.getBytes(StandardCharsets.US_ASCII), "m.manifest.json"))
                .isInstanceOf(com.jiffoo.backup.IntegrityException.class)
                .hasMessageContaining("m.manifest.json")
                .hasMessageContaining("only a random key file");
    }

    /** What signs in v2: keygen's random keys only; not the base64 of a phrase, not short or typed passphrases. */
    @ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(
            strings = {
                "ZGVhZGJlZWZkZWFkYmVlZmRlYWRiZWVmZGVhZGJlZWY=", // 32 bytes, only 5 different: echo -n deadbeef...
                "UGFjayBteSBib3ggd2l0aCBmaXZlIGRvemVuIGp1Z3M=", // 32 bytes, 24 different, but UTF-8 text: a phrase
                "c2hvcnQ=",
                "correct horse battery staple"
            })
    void onlyRandomKeysSignInV2(String passphrase, @TempDir Path dir) {
        assertThat(OpenPgpTransform.randomKey(passphrase.toCharArray())).isFalse();
        assertThat(OpenPgpTransform.randomKey(
                        TestKeys.passphraseOf(TestKeys.keyFile(dir, "k.key")).toCharArray()))
                .isTrue();
    }

    /**
     * An attacker relabels a valid line with the other scheme's tag: refused both ways (the two keys differ). With key
     * files rotated, a v2 line is checked with the random ones only, whichever key file signs.
     */
    @Test
    void relabelledLinesAreRefusedAndRotationsCheckEachSchemeWithItsKeys(@TempDir Path dir) {
        byte[] content = "{\"manifest\":3}".getBytes(StandardCharsets.UTF_8);
        Path random = TestKeys.keyFile(dir, "random.key");
        Path phrase = TestKeys.keyFile(dir, "phrase.key", "correct horse battery staple\n");
        Authenticator r = authenticator(random);
        String v2 = new String(r.sign(content), StandardCharsets.US_ASCII);
        String asV1 = v2.replace("jiffoo-backup-hmac-sha256-v2 ", "jiffoo-backup-hmac-sha256-v1 ");
        org.assertj.core.api.Assertions.assertThatThrownBy(
                        () -> r.verify(content, asV1.getBytes(StandardCharsets.US_ASCII), "m"))
                .hasMessageContaining("HMAC does not match");
        Authenticator p = authenticator(phrase);
        String v1 = new String(p.sign(content), StandardCharsets.US_ASCII);
        String asV2 = v1.replace("jiffoo-backup-hmac-sha256-v1 ", "jiffoo-backup-hmac-sha256-v2 ");
        // checked with a random key too (rotation: the passphrase signs, the random key decrypts old backups)
        Authenticator rotated = OpenPgpTransform.builder()
                .passphrase(PassphraseKeyFile.read(phrase))
                .decryptionPassphrase(PassphraseKeyFile.read(random))
                .build()
                .authenticator()
                .orElseThrow();
        org.assertj.core.api.Assertions.assertThatThrownBy(
                        () -> rotated.verify(content, asV2.getBytes(StandardCharsets.US_ASCII), "m"))
                .hasMessageContaining("HMAC does not match")
                .hasMessageContaining("1 tried");
        // the rotated host still checks the random key's old v2 lines and the passphrase's v1 lines
        assertThat(rotated.verify(content, v2.getBytes(StandardCharsets.US_ASCII), "m"))
                .contains("random.key");
        assertThat(rotated.verify(content, v1.getBytes(StandardCharsets.US_ASCII), "m"))
                .contains("phrase.key");
        assertThat(new String(rotated.sign(content), StandardCharsets.US_ASCII)).isEqualTo(v1);
    }

    private static Authenticator authenticator(Path keyFile) {
        return OpenPgpTransform.builder()
                .passphrase(PassphraseKeyFile.read(keyFile))
                .build()
                .authenticator()
                .orElseThrow();
    }

    private static String hmacHex(byte[] key, byte[] content) throws Exception {
        javax.crypto.Mac mac = javax.crypto.Mac.getInstance("HmacSHA256");
        mac.init(new javax.crypto.spec.SecretKeySpec(key, "HmacSHA256"));
        return HexFormat.of().formatHex(mac.doFinal(content));
    }

    /**
     * A key derived ahead by {@link Authenticator#prepare()} (a passphrase's v1 key; a random key's v2 key needs no
     * thread) signs and checks exactly as one derived on demand.
     */
    @ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(booleans = {true, false})
    void preparedKeySignsTheSame(boolean randomKey, @TempDir Path dir) {
        Path keyFile = randomKey
                ? TestKeys.keyFile(dir, "k.key")
                : TestKeys.keyFile(dir, "k.key", "a passphrase a person chose\n");
        Authenticator prepared = OpenPgpTransform.builder()
                .passphrase(PassphraseKeyFile.read(keyFile))
                .build()
                .authenticator()
                .orElseThrow();
        Authenticator onDemand = OpenPgpTransform.builder()
                .passphrase(PassphraseKeyFile.read(keyFile))
                .build()
                .authenticator()
                .orElseThrow();
        prepared.prepare();
        prepared.prepare();
        byte[] content = "{\"manifest\":1}".getBytes(StandardCharsets.UTF_8);
        byte[] signature = prepared.sign(content);
        assertThat(signature).isEqualTo(onDemand.sign(content));
        assertThat(onDemand.verify(content, signature, "m"))
                .contains(keyFile.getFileName().toString());
    }
}

package com.jiffoo.backup.crypto;

import com.jiffoo.backup.Authenticator;
import org.junit.jupiter.api.Test;

import javax.crypto.Mac;
import javax.crypto.SecretKeyFactory;
import javax.crypto.spec.PBEKeySpec;
import javax.crypto.spec.SecretKeySpec;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The HMAC key of a passphrase (PBKDF2, 200,000 iterations: up to 1-2 s in a JVM that has just started) is derived
 * on a thread of its own as soon as the authenticator is asked for, so that the first manifest checked or signed does
 * not wait for all of it; the signature stays the documented one.
 */
class PgpAuthenticatorDeriveAheadTest {
    private static final String PASSPHRASE = "zVx3o1wJrXx8bq3n5kq4hQ0u1Gm0b2b8c9Y1Qe3m8rE=";

    @Test
    void askingForTheAuthenticatorStartsTheKeyDerivationAhead() {
        OpenPgpTransform t = OpenPgpTransform.builder().passphrase(PASSPHRASE.toCharArray(), "test key").build();

        t.authenticator().orElseThrow();

        assertThat(Thread.getAllStackTraces().keySet()).extracting(Thread::getName)
                .as("a thread deriving the HMAC key runs right after authenticator()").contains("jiffoo-hmac-key");
    }

    @Test
    void theSignatureIsTheDocumentedHmacWhetherDerivedAheadOrNot() throws Exception {
        byte[] content = "{\"manifest\":1}\n".getBytes(StandardCharsets.UTF_8);
        PBEKeySpec spec = new PBEKeySpec(PASSPHRASE.toCharArray(),
                "jiffoo-backup manifest authentication v1".getBytes(StandardCharsets.US_ASCII), 200_000, 256);
        byte[] key = SecretKeyFactory.getInstance("PBKDF2WithHmacSHA256").generateSecret(spec).getEncoded();
        Mac mac = Mac.getInstance("HmacSHA256");
        mac.init(new SecretKeySpec(key, "HmacSHA256"));
        String expected = "jiffoo-backup-hmac-sha256-v1 " + HexFormat.of().formatHex(mac.doFinal(content)) + "\n";

        Authenticator ahead = OpenPgpTransform.builder().passphrase(PASSPHRASE.toCharArray(), "k").build()
                .authenticator().orElseThrow();
        Authenticator direct = new PgpAuthenticator(new OpenPgpTransform.PassphraseEntry(PASSPHRASE.toCharArray(),
                "k"), java.util.List.of(), null, java.util.List.of());

        assertThat(new String(ahead.sign(content), StandardCharsets.US_ASCII)).isEqualTo(expected);
        assertThat(new String(direct.sign(content), StandardCharsets.US_ASCII)).isEqualTo(expected);
        assertThat(ahead.verify(content, expected.getBytes(StandardCharsets.US_ASCII), "m.manifest.json"))
                .isEqualTo("k");
    }
}

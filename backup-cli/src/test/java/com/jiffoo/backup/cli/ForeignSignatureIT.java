package com.jiffoo.backup.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A signature of the other authentication mode planted in the store (an OpenPGP signature made with the attacker's
 * own gpg key where passphrase mode expects an HMAC line) is that store's damaged object: restore and verify fall back
 * to the copy, with the real jar and two local directories. Only when every store holds it so is it this host's
 * configuration (exit 2).
 */
class ForeignSignatureIT {
    @TempDir
    Path dir;

    /** Signs {@code file} with a fresh gpg key of the attacker's, armored and detached, as {@code out}. */
    private void gpgSign(Path file, Path out) throws Exception {
        Path home = Files.createDirectories(dir.resolve("gnupg"));
        Files.setPosixFilePermissions(home, java.nio.file.attribute.PosixFilePermissions.fromString("rwx------"));
        List<String> gpg = List.of(
                "gpg", "--homedir", home.toString(), "--batch", "--pinentry-mode", "loopback", "--passphrase", "");
        if (!Files.exists(home.resolve("pubring.kbx"))) {
            List<String> gen = new java.util.ArrayList<>(gpg);
            gen.addAll(List.of("--quick-gen-key", "attacker@example.com", "default", "sign", "never"));
            Jar.Run r = Jar.exec(dir, Map.of(), gen);
            assertThat(r.exitCode()).as(r.toString()).isZero();
        }
        Files.deleteIfExists(out);
        List<String> sign = new java.util.ArrayList<>(gpg);
        sign.addAll(List.of("--armor", "--output", out.toString(), "--detach-sign", file.toString()));
        Jar.Run r = Jar.exec(dir, Map.of(), sign);
        assertThat(r.exitCode()).as(r.toString()).isZero();
        assertThat(Files.readString(out)).startsWith("-----BEGIN PGP SIGNATURE-----");
    }

    @Test
    void anOpenPgpSignaturePlantedWherePassphraseModeExpectsAnHmacIsDamageAndTheCopyServes() throws Exception {
        Path uploads = Files.createDirectories(dir.resolve("uploads"));
        Files.writeString(uploads.resolve("invoice.pdf"), "the real invoice".repeat(100));
        Path store = Files.createDirectories(dir.resolve("store"));
        Path copy = Files.createDirectories(dir.resolve("copy"));
        Path key = dir.resolve("backup.key");
        assertThat(Jar.run(dir, Map.of(), "keygen", key.toString()).exitCode()).isZero();
        Map<String, String> env = new HashMap<>(Map.of(
                "SOURCE_DIR", uploads.toString(),
                "BACKUP_DIR", store.toString(),
                "BACKUP_COPIES", copy.toString(),
                "ENCRYPTION_KEY_FILE", key.toString()));
        Jar.Run b = Jar.run(dir, env, "backup", "files", "--json");
        assertThat(b.exitCode()).as(b.toString()).isZero();
        String object = b.json().get("key").asText();
        String manifest = object + ".manifest.json";
        // the attacker replaces the store's HMAC line with a gpg signature of their own
        gpgSign(store.resolve(manifest), store.resolve(manifest + ".sig"));

        Path target = dir.resolve("restored");
        Jar.Run restore = Jar.run(dir, env, "restore", "files", object, "--target", target.toString(), "--json");
        assertThat(restore.exitCode()).as(restore.toString()).isZero();
        JsonNode json = restore.json();
        assertThat(json.get("store").asText()).isEqualTo("file:" + copy);
        JsonNode failure = json.get("storeFailures").get(0);
        assertThat(failure.get("location").asText()).isEqualTo("file:" + store);
        assertThat(failure.get("error").asText()).isEqualTo("INTEGRITY");
        assertThat(failure.get("message").asText())
                .contains(manifest)
                .contains("not authentic")
                .contains("an OpenPGP signature");
        assertThat(target.resolve("invoice.pdf")).hasSameTextualContentAs(uploads.resolve("invoice.pdf"));

        // verify: the copy verifies, the store's object is named as damaged (exit 5, not 2)
        Jar.Run verify = Jar.run(dir, env, "verify", object, "--json");
        assertThat(verify.exitCode()).as(verify.toString()).isEqualTo(5);
        assertThat(verify.json().get("store").asText()).isEqualTo("file:" + copy);
        assertThat(verify.stderr()).contains(manifest);

        // planted in every store: this host's key configuration is the likelier fault (exit 2), nothing restored
        gpgSign(copy.resolve(manifest), copy.resolve(manifest + ".sig"));
        Path again = dir.resolve("again");
        Jar.Run both = Jar.run(dir, env, "restore", "files", object, "--target", again.toString());
        assertThat(both.exitCode()).as(both.toString()).isEqualTo(2);
        assertThat(both.stderr()).contains("Every store (2) holds " + manifest).contains("key configuration");
        assertThat(again).doesNotExist();
    }
}

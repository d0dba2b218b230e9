package com.jiffoo.backup.crypto;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.testutil.GpgCli;
import com.jiffoo.backup.testutil.TestKeys;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Base64;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PassphraseKeyFileTest {

    @TempDir
    Path dir;

    @Test
    void passphraseIsTheFirstLineWithoutItsNewline() {
        Path f = TestKeys.keyFile(dir, "k", "first line secret\nsecond line\n");
        assertThat(new String(PassphraseKeyFile.read(f).passphrase())).isEqualTo("first line secret");
    }

    @Test
    void aCarriageReturnBeforeTheNewlineIsPartOfThePassphraseAsForGpg() throws Exception {
        Path f = TestKeys.keyFile(dir, "k", "windows-line-ending\r\nsecond line\n");
        PassphraseKeyFile key = PassphraseKeyFile.read(f);
        assertThat(new String(key.passphrase())).isEqualTo("windows-line-ending\r");

        // the proof that this is gpg's rule: what we encrypt with the file, gpg decrypts with it, and back
        OpenPgpTransform pgp = OpenPgpTransform.builder().passphrase(key).build();
        Path plain = Files.write(dir.resolve("plain"), TestKeys.randomBytes(10_000, 3));
        Path ours = dir.resolve("ours.gpg");
        try (var in = Files.newInputStream(plain);
                var out = pgp.encode(Files.newOutputStream(ours))) {
            in.transferTo(out);
        }
        try (GpgCli gpg = GpgCli.create(dir.resolve("gnupg"))) {
            gpg.decrypt(ours, dir.resolve("by-gpg"), f).orThrow();
            assertThat(Files.readAllBytes(dir.resolve("by-gpg"))).isEqualTo(Files.readAllBytes(plain));
            Path theirs = dir.resolve("theirs.gpg");
            gpg.encryptSymmetric(plain, theirs, f).orThrow();
            try (var in = pgp.decode(Files.newInputStream(theirs))) {
                assertThat(in.readAllBytes()).isEqualTo(Files.readAllBytes(plain));
            }
        }
    }

    @Test
    void fileWithoutNewlineIsReadWhole() {
        Path f = TestKeys.keyFile(dir, "k", "no-newline-passphrase");
        assertThat(new String(PassphraseKeyFile.read(f).passphrase())).isEqualTo("no-newline-passphrase");
    }

    @Test
    void toStringShowsThePathButNeverThePassphrase() {
        Path f = TestKeys.keyFile(dir, "k", "very-secret-passphrase-123\n");
        PassphraseKeyFile key = PassphraseKeyFile.read(f);
        assertThat(key.toString()).contains(f.toString()).doesNotContain("very-secret");
        assertThat(key.path()).isEqualTo(f.toAbsolutePath());
    }

    @Test
    void passphraseReturnsACopy() {
        PassphraseKeyFile key = PassphraseKeyFile.read(TestKeys.keyFile(dir, "k", "abcdefghijklmnopq\n"));
        char[] p = key.passphrase();
        java.util.Arrays.fill(p, 'x');
        assertThat(new String(key.passphrase())).isEqualTo("abcdefghijklmnopq");
    }

    @Test
    void groupReadableKeyFileIsRefusedWithModeAndChmodHint() throws Exception {
        Path f = TestKeys.keyFile(dir, "k", "group-readable-secret-xyz\n");
        Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rw-r-----"));
        assertThatThrownBy(() -> PassphraseKeyFile.read(f))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining(f.toString())
                .hasMessageContaining("640")
                .hasMessageContaining("rw-r-----")
                .hasMessageContaining("chmod 600 " + f)
                .message()
                .doesNotContain("group-readable-secret-xyz");
    }

    @Test
    void worldReadableKeyFileIsAcceptedWhenInsecurePermissionsAreAllowed() throws Exception {
        Path f = TestKeys.keyFile(dir, "k", "world-readable-secret\n");
        Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rw-r--r--"));
        assertThat(new String(PassphraseKeyFile.read(f, true).passphrase())).isEqualTo("world-readable-secret");
    }

    @Test
    void missingKeyFileNamesThePathAndHowToCreateOne() {
        Path f = dir.resolve("absent.key");
        assertThatThrownBy(() -> PassphraseKeyFile.read(f))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining(f.toString())
                .hasMessageContaining("does not exist")
                .hasMessageContaining("openssl rand -base64 32");
    }

    @Test
    void emptyKeyFileIsRefused() {
        Path f = TestKeys.keyFile(dir, "empty.key", "");
        assertThatThrownBy(() -> PassphraseKeyFile.read(f))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining(f.toString())
                .hasMessageContaining("is empty");
    }

    @Test
    void keyFileWithBlankFirstLineIsRefused() {
        Path f = TestKeys.keyFile(dir, "blank.key", "\r\nsecond\n");
        assertThatThrownBy(() -> PassphraseKeyFile.read(f))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("first line is empty")
                .message()
                .doesNotContain("second");
    }

    @Test
    void unreadableKeyFileIsExplained() throws Exception {
        Path f = TestKeys.keyFile(dir, "k", "secret\n");
        Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("---------"));
        org.junit.jupiter.api.Assumptions.assumeFalse(Files.isReadable(f), "running as root: can read anything");
        assertThatThrownBy(() -> PassphraseKeyFile.read(f))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining(f.toString())
                .hasMessageContaining("permission denied");
    }

    @Test
    void directoryIsRefused() {
        assertThatThrownBy(() -> PassphraseKeyFile.read(dir))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("is a directory");
    }

    @Test
    void generateWritesBase64Of32RandomBytesWithMode0600() throws Exception {
        Path f = dir.resolve("new.key");
        PassphraseKeyFile key = PassphraseKeyFile.generate(f);
        String content = Files.readString(f, StandardCharsets.US_ASCII);
        assertThat(content).endsWith("\n").hasLineCount(1);
        assertThat(Base64.getDecoder().decode(content.trim())).hasSize(32);
        assertThat(new String(key.passphrase())).isEqualTo(content.trim());
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(f)))
                .isEqualTo("rw-------");
        try (var files = Files.list(dir)) {
            assertThat(files).containsExactly(f); // no temporary file left behind
        }
    }

    @Test
    void generateRefusesToOverwriteAnExistingFile() throws Exception {
        Path f = TestKeys.keyFile(dir, "existing.key", "old-key-must-survive\n");
        assertThatThrownBy(() -> PassphraseKeyFile.generate(f))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining(f.toString())
                .hasMessageContaining("already exists");
        assertThat(Files.readString(f)).isEqualTo("old-key-must-survive\n");
    }

    @Test
    void generatedKeysDiffer() {
        String a = new String(PassphraseKeyFile.generate(dir.resolve("a.key")).passphrase());
        String b = new String(PassphraseKeyFile.generate(dir.resolve("b.key")).passphrase());
        assertThat(a).isNotEqualTo(b);
    }
}

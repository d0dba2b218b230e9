package com.jiffoo.backup.crypto;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.jiffoo.backup.BackupTrust;
import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.testutil.TestKeys;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The key files of a configuration, loaded by {@link EncryptionSetup}: real key files, real round trips. */
class EncryptionSetupTest {
    @TempDir
    Path dir;

    @Test
    void aKeyFileEncryptsForBackupAndDecryptsForRestore() throws Exception {
        Path key = TestKeys.keyFile(dir, "backup.key");
        EncryptionSetup setup = EncryptionSetup.builder().keyFile(key).build();
        ByteArrayOutputStream stored = new ByteArrayOutputStream();
        try (OutputStream out = setup.forBackup().encode(stored)) {
            out.write("order 1".getBytes(StandardCharsets.UTF_8));
        }
        try (InputStream in = setup.forRestore().decode(new ByteArrayInputStream(stored.toByteArray()))) {
            assertThat(new String(in.readAllBytes(), StandardCharsets.UTF_8)).isEqualTo("order 1");
        }
        BackupTrust trust = setup.trust();
        assertThat(trust.requiresAuthentication()).isTrue();
    }

    @Test
    void aFileThatIsNoKeyIsNamedByTheCallersSetting() throws Exception {
        Path notAKey = Files.writeString(dir.resolve("public.asc"), "not a key\n");
        EncryptionSetup setup = EncryptionSetup.builder()
                .publicKeyFile(notAKey)
                .settingName(EncryptionSetup.Setting.PUBLIC_KEY_FILE, "ENCRYPTION_PUBLIC_KEY_FILE")
                .build();
        assertThatThrownBy(setup::forBackup)
                .isInstanceOf(ConfigurationException.class)
                .hasMessageStartingWith("ENCRYPTION_PUBLIC_KEY_FILE: ");
        EncryptionSetup unnamed =
                EncryptionSetup.builder().keyFile(dir.resolve("missing.key")).build();
        assertThatThrownBy(unnamed::forRestore)
                .isInstanceOf(ConfigurationException.class)
                .hasMessageStartingWith("KEY_FILE: ");
    }

    @Test
    void withoutAnyKeyTrustIsRefusedUnlessUnauthenticatedBackupsAreAllowed() {
        assertThatThrownBy(() -> EncryptionSetup.builder()
                        .settingName(EncryptionSetup.Setting.KEY_FILE, "jiffoo.backup.encryption.key-file")
                        .unauthenticatedOption("set allow-unauthenticated")
                        .build()
                        .trust())
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("set jiffoo.backup.encryption.key-file (passphrase mode)")
                .hasMessageContaining("or set allow-unauthenticated to trust whatever the store holds.");
        BackupTrust open =
                EncryptionSetup.builder().allowUnauthenticated(true).build().trust();
        assertThat(open.requiresAuthentication()).isFalse();
    }
}

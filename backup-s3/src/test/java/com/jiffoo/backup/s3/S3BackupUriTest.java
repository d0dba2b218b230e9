package com.jiffoo.backup.s3;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.jiffoo.backup.BackupManifest;
import com.jiffoo.backup.BackupPipeline;
import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.RestorePipeline;
import com.jiffoo.backup.crypto.OpenPgpTransform;
import com.jiffoo.backup.crypto.PassphraseKeyFile;
import com.jiffoo.backup.testing.s3.S3ProxyServer;
import com.jiffoo.backup.testutil.GeneratedSource;
import com.jiffoo.backup.testutil.MemoryTarget;
import com.jiffoo.backup.testutil.TestKeys;
import java.io.InputStream;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;

class S3BackupUriTest {
    @TempDir
    Path dir;

    @Test
    void splitsTheStoreFromTheBackupsKey() {
        S3BackupUri u = S3BackupUri.parse("s3://jiffoo-backups/prod/eu/database/db_backup_20260111_020000.sql.gpg");
        assertThat(u.bucket()).isEqualTo("jiffoo-backups");
        assertThat(u.prefix()).isEqualTo("prod/eu");
        assertThat(u.key()).isEqualTo("database/db_backup_20260111_020000.sql.gpg");
        assertThat(u.storeUri()).isEqualTo("s3://jiffoo-backups/prod/eu");
        assertThat(S3BackupUri.parse("s3://b/files/f.tar.gz.gpg").storeUri()).isEqualTo("s3://b");
    }

    @Test
    void refusesWhatIsNotOneBackupSayingTheExpectedForm() {
        for (String bad : new String[] {
            "https://b/x/y", "s3://bucket", "s3://bucket/only", "s3://b/prod/database/", "s3:///database/x"
        }) {
            assertThatThrownBy(() -> S3BackupUri.parse(bad))
                    .as(bad)
                    .isInstanceOf(ConfigurationException.class)
                    .hasMessageContaining("s3://BUCKET/PREFIX/KIND/FILE");
        }
    }

    @Test
    void restoresStraightFromTheUriOfOneBackup() throws Exception {
        OpenPgpTransform pgp = OpenPgpTransform.builder()
                .passphrase(PassphraseKeyFile.read(TestKeys.keyFile(dir, "k")))
                .build();
        GeneratedSource source = new GeneratedSource("database", 7_000_000, 4);
        try (S3ProxyServer server = S3ProxyServer.startTransient()) {
            String uri;
            try (S3Sink store = sink(server, "s3://" + server.bucket() + "/prod")) {
                BackupManifest m = BackupPipeline.builder()
                        .source(source)
                        .encryption(pgp)
                        .sink(store)
                        .build()
                        .run();
                uri = store.location() + "/" + m.objectKey();
            }
            S3BackupUri parsed = S3BackupUri.parse(uri);
            MemoryTarget target = new MemoryTarget();
            try (S3Sink store = sink(server, parsed.storeUri())) {
                RestorePipeline.builder()
                        .sink(store)
                        .decryption(pgp)
                        .target(target)
                        .build()
                        .restore(parsed.key());
            }
            try (InputStream expected = source.stream()) {
                assertThat(target.committed()).isEqualTo(expected.readAllBytes());
            }
        }
    }

    private static S3Sink sink(S3ProxyServer server, String uri) {
        return S3Sink.builder()
                .uri(uri)
                .endpointOverride(server.endpoint())
                .pathStyleAccess(true)
                .credentialsProvider(StaticCredentialsProvider.create(
                        AwsBasicCredentials.create(server.accessKey(), server.secretKey())))
                .build();
    }
}

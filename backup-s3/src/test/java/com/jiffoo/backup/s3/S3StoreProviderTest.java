package com.jiffoo.backup.s3;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.store.StoreProviders;
import com.jiffoo.backup.store.StoreSettings;
import com.jiffoo.backup.testing.StoreUris;
import com.jiffoo.backup.testing.s3.S3ProxyServer;
import java.util.Map;
import org.junit.jupiter.api.Test;

class S3StoreProviderTest {

    @Test
    void opensAnS3StoreByUriWithTheEndpointAsAParameterAndLocatesABackupInIt() throws Exception {
        try (S3ProxyServer server = S3ProxyServer.startTransient()) {
            StoreSettings keys = StoreSettings.of(Map.of(
                    "AWS_ACCESS_KEY_ID",
                    server.accessKey(),
                    "AWS_SECRET_ACCESS_KEY",
                    server.secretKey(),
                    "AWS_REGION",
                    "us-east-1"));
            StoreUris.assertOpensAndLocates(
                    "s3://" + server.bucket() + "/prod/eu",
                    "?endpoint=" + server.endpoint(),
                    keys,
                    S3Sink.class,
                    "database/db_backup_20260111_020000.sql.gpg");
        }
    }

    /** A copy in another account: the URI's own profile wins over the keys of the environment (the primary's). */
    @Test
    void aProfileInTheUriWinsOverTheEnvironmentsKeys(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
            throws Exception {
        java.nio.file.Path credentials = dir.resolve("credentials");
        try (S3ProxyServer server = S3ProxyServer.startTransient()) {
            java.nio.file.Files.writeString(
                    credentials,
                    "[copy]\naws_access_key_id = " + server.accessKey() + "\naws_secret_access_key = "
                            + server.secretKey() + "\n");
            java.nio.file.Files.writeString(dir.resolve("config"), "");
            System.setProperty("aws.sharedCredentialsFile", credentials.toString());
            System.setProperty("aws.configFile", dir.resolve("config").toString());
            StoreSettings otherAccount = StoreSettings.of(Map.of(
                    "AWS_ACCESS_KEY_ID", "AKIAOTHERACCOUNT", "AWS_SECRET_ACCESS_KEY", "not-this-servers-secret"));
            String store = "s3://" + server.bucket() + "/p?endpoint=" + server.endpoint() + "&region=us-east-1";
            try (com.jiffoo.backup.Sink copy = StoreProviders.open(store + "&profile=copy", otherAccount)) {
                assertThat(copy.list("")).isEmpty();
            }
            // AWS_PROFILE from the settings, not the URI: the keys win, and this server refuses them
            try (com.jiffoo.backup.Sink primary = StoreProviders.open(
                    store,
                    StoreSettings.of(Map.of(
                            "AWS_ACCESS_KEY_ID",
                            "AKIAOTHERACCOUNT",
                            "AWS_SECRET_ACCESS_KEY",
                            "not-this-servers-secret",
                            "AWS_PROFILE",
                            "copy")))) {
                assertThatThrownBy(() -> primary.list("")).isInstanceOf(com.jiffoo.backup.BackupException.class);
            }
        } finally {
            System.clearProperty("aws.sharedCredentialsFile");
            System.clearProperty("aws.configFile");
        }
    }

    @Test
    void namesWhatIsWrongWithoutShowingSecrets() {
        assertThat(StoreProviders.schemes()).contains("s3", "file");
        assertThatThrownBy(() -> StoreProviders.open("s3://b/p?secretKey=x", StoreSettings.NONE))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("endpoint, objectLock, objectLockDays, pathStyle, profile, region");
        assertThatThrownBy(() -> StoreProviders.open(
                        "s3://bucket/p", StoreSettings.of(Map.of("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE"))))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("AWS_SECRET_ACCESS_KEY is not set");
        assertThatThrownBy(() -> StoreProviders.open("s3://bucket/p", StoreSettings.of(Map.of("S3_ENDPOINT", "x:9"))))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("S3_ENDPOINT");
        assertThatThrownBy(() -> StoreProviders.open(
                        "s3://bucket/p", StoreSettings.of(Map.of("AWS_REQUEST_CHECKSUM_CALCULATION", "sometimes"))))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("when_required");
    }

    /** Object Lock from the URI's parameters next to ?profile=, checked against RETENTION_DAYS plus one interval. */
    @Test
    void objectLockComesFromTheUriOrTheSettingsAndMustOutlastTheRetentionPlusOneInterval() {
        java.net.URI uri = java.net.URI.create("s3://jiffoo-backups/prod?objectLock=compliance&objectLockDays=31");
        StoreSettings none = StoreSettings.NONE.withQuery(uri, new S3StoreProvider().queryParameters());
        assertThat(S3StoreProvider.objectLock(none)).isEqualTo(S3ObjectLock.compliance(java.time.Duration.ofDays(31)));
        assertThat(S3StoreProvider.objectLock(StoreSettings.of(Map.of()))).isEqualTo(S3ObjectLock.NONE);
        assertThat(S3StoreProvider.objectLock(StoreSettings.of(
                        Map.of("S3_OBJECT_LOCK", "GOVERNANCE", "S3_OBJECT_LOCK_DAYS", "8", "RETENTION_DAYS", "7"))))
                .isEqualTo(S3ObjectLock.governance(java.time.Duration.ofDays(8)));

        // 30 days of retention (the default) plus a daily backup need 31 days
        assertThatThrownBy(() -> S3StoreProvider.objectLock(
                        StoreSettings.of(Map.of("S3_OBJECT_LOCK", "compliance", "S3_OBJECT_LOCK_DAYS", "30"))))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("S3_OBJECT_LOCK_DAYS is 30, shorter than RETENTION_DAYS (30) plus one backup")
                .hasMessageContaining("at least 31");
        // a backup every 36 hours: 7 days + 36 h = 8.5 days, so 9
        assertThatThrownBy(() -> S3StoreProvider.objectLock(StoreSettings.of(Map.of(
                        "S3_OBJECT_LOCK",
                        "compliance",
                        "S3_OBJECT_LOCK_DAYS",
                        "8",
                        "RETENTION_DAYS",
                        "7",
                        "MAX_BACKUP_AGE_HOURS",
                        "36"))))
                .hasMessageContaining("at least 9");
        assertThatThrownBy(() -> S3StoreProvider.objectLock(
                        StoreSettings.of(Map.of("S3_OBJECT_LOCK", "worm", "S3_OBJECT_LOCK_DAYS", "31"))))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("set it to compliance or governance");
        assertThatThrownBy(() -> S3StoreProvider.objectLock(StoreSettings.of(Map.of("S3_OBJECT_LOCK", "compliance"))))
                .hasMessageContaining("S3_OBJECT_LOCK_DAYS is not");
        assertThatThrownBy(() -> S3StoreProvider.objectLock(StoreSettings.of(Map.of("S3_OBJECT_LOCK_DAYS", "31"))))
                .hasMessageContaining("S3_OBJECT_LOCK is not");
    }
}

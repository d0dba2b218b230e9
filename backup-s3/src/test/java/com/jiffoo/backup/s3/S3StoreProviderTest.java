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

    @Test
    void namesWhatIsWrongWithoutShowingSecrets() {
        assertThat(StoreProviders.schemes()).contains("s3", "file");
        assertThatThrownBy(() -> StoreProviders.open("s3://b/p?secretKey=x", StoreSettings.NONE))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("endpoint, pathStyle, profile, region");
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
}

package com.jiffoo.backup.s3;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.Sink;
import com.jiffoo.backup.SinkOutput;
import com.jiffoo.backup.store.StoreProviders;
import com.jiffoo.backup.store.StoreSettings;
import com.jiffoo.backup.testing.s3.S3ProxyServer;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
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
            String query = "?endpoint=" + server.endpoint();
            String key = "database/db_backup_20260111_020000.sql.gpg";
            String uri;
            try (Sink store = StoreProviders.open("s3://" + server.bucket() + "/prod/eu" + query, keys);
                    SinkOutput out = store.create(key)) {
                assertThat(store).isInstanceOf(S3Sink.class);
                assertThat(store.location()).isEqualTo("s3://" + server.bucket() + "/prod/eu");
                out.write("stored".getBytes(StandardCharsets.UTF_8));
                out.commit();
                uri = StoreProviders.backupUri(store, key);
            }
            StoreProviders.Located at = StoreProviders.locate(uri + query, keys);
            try (Sink store = at.store();
                    InputStream in = store.open(at.key())) {
                assertThat(at.key()).isEqualTo(key);
                assertThat(new String(in.readAllBytes(), StandardCharsets.UTF_8))
                        .isEqualTo("stored");
            }
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
